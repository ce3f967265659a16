/**
 * Qdrant through `@qdrant/js-client-rest`: collections are the "tables" (kind 'collection'), their payload fields
 * the columns (from the payload indexes plus a scroll sample), and the model writes one JSON search
 * `{collection, query_text, using, filter, limit, with_payload}`.
 *
 * With `query_text` the text is embedded by the connection's embedding model and the collection is searched with
 * `POST /points/query` (nearest first, with a score); without it the points matching the filter are paged with
 * `POST /points/scroll` (id order, `next_page_offset`). Only those two and the read-only introspection calls are
 * ever made, so a generated search cannot change data.
 *
 * Requests go through the client's generated API (`client.api()`) rather than its convenience methods because
 * only that layer takes a fetch `init`: the abort signal reaches the HTTP request, so a cancel really stops it.
 * The client's own timeout is turned off (it would replace that signal) and each call gets its own instead.
 */
import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import { z } from 'zod';
import type { ResultColumn } from '../events';
import { DEFAULT_EMBEDDINGS_MODEL, EmbeddingError, OpenAIEmbedder, type Embedder } from '../llm/embeddings';
import { JsonObjectExtractor } from '../llm/extract';
import { vectorSearchPrompt } from '../llm/prompts/qdrant';
import type { CompletionRequest } from '../llm/provider';
import { searchSchema } from '../schema/search';
import { SnapshotCache } from '../schema/snapshotCache';
import type { ColumnInfo, RankedTable, SchemaSnapshot, TableInfo } from '../schema/types';
import { inferFields, RowFlattener } from './mongodb';
import {
  QueryExecutionError,
  SourceFailureError,
  StatementTimeoutError,
  type DataSource,
  type ExecuteOptions,
  type GenerationInput,
  type IntrospectOptions,
  type QueryStreamingExtractor,
  type QueryValidation,
  type RowBatch,
} from './source';

export interface QdrantSourceOptions {
  id: string;
  name?: string;
  /** e.g. `http://localhost:6333` or a Qdrant Cloud URL. */
  url: string;
  apiKey?: string;
  /**
   * The OpenAI-compatible embedding model that turns `query_text` into the query vector; it must be the model the
   * collections were built with. Defaults: api.openai.com, text-embedding-3-small, a placeholder key.
   */
  embeddings?: { baseURL?: string; model?: string; apiKey?: string };
  /** Used instead of `embeddings` when given (another embedding client). */
  embedder?: Embedder;
  /** Points scrolled per collection to infer its payload fields. */
  sampleSize?: number;
  /** Points per scroll page, and rows per batch. */
  pageSize?: number;
  /** Time limit of one request (client side, and sent to the server as `timeout`). */
  timeoutMs?: number;
}

/** One dense vector of a collection; `name` is '' for the single unnamed vector. */
export interface VectorInfo {
  name: string;
  size: number;
  distance: string;
}

/** What validation and execution need to know of a collection beyond its TableInfo. */
export interface CollectionMeta {
  name: string;
  /** Dense vectors a `query_text` can be searched with (multivectors and sparse vectors are left out). */
  vectors: VectorInfo[];
  /** Payload keys (dotted paths) from the indexes and the sample: what filter keys may name. */
  payloadKeys: ReadonlySet<string>;
}

/** The search the model writes, as validated (empty values dropped, `using` filled in for named vectors). */
export interface QdrantSearch {
  collection: string;
  query_text?: string;
  using?: string;
  filter?: Record<string, unknown>;
  limit?: number;
  with_payload?: boolean | string[];
}

const DEFAULT_SAMPLE_SIZE = 200;
const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Points a `query_text` search returns when the model gives no limit (Qdrant's own default). */
export const DEFAULT_SEARCH_LIMIT = 10;
const MAX_FILTER_DEPTH = 32;
/** Known keys listed in a problem message, at most. */
const MAX_LISTED_KEYS = 80;
/** Result columns of the point itself; a payload key with one of these names is shown as `payload.<key>`. */
const POINT_COLUMNS = new Set(['id', 'score']);
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export class QdrantSource implements DataSource {
  readonly kind = 'qdrant' as const;
  readonly language = 'qdrant' as const;
  readonly id: string;
  readonly name: string;
  private readonly options: QdrantSourceOptions;
  private readonly client: QdrantClient;
  private readonly embedder: Embedder;
  /** Where the server is, for messages (no credentials, no path). */
  private readonly origin: string;
  private readonly snapshots = new SnapshotCache((onProgress, signal) => this.loadSnapshot(onProgress, signal));
  private readonly details = new WeakMap<SchemaSnapshot, Map<string, CollectionMeta>>();
  private latest?: SchemaSnapshot;

  constructor(options: QdrantSourceOptions) {
    this.options = options;
    this.id = options.id;
    this.name = options.name ?? options.id;
    let parsed: URL;
    try {
      parsed = new URL(options.url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new Error(`connection ${options.id}: not a valid Qdrant URL (expected http://host:6333 or https://…)`);
    }
    this.origin = parsed.origin;
    const embeddings = options.embeddings ?? {};
    this.embedder =
      options.embedder ?? new OpenAIEmbedder({ model: embeddings.model || DEFAULT_EMBEDDINGS_MODEL, apiKey: embeddings.apiKey || 'not-needed', ...(embeddings.baseURL ? { baseURL: embeddings.baseURL } : {}) });
    const prefix = parsed.pathname.replace(/\/+$/, '');
    this.client = new QdrantClient({
      url: parsed.origin,
      ...(prefix ? { prefix } : {}),
      // The key travels as a header rather than `apiKey`, which would also print a warning for plain http on
      // every construction (stderr noise in the CLI); the header is the same one.
      ...(options.apiKey ? { headers: { 'api-key': options.apiKey } } : {}),
      // Infinity disables the client's timeout middleware, which would overwrite the abort signal passed per call.
      timeout: Number.POSITIVE_INFINITY,
      checkCompatibility: false,
    });
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private get pageSize(): number {
    return Math.max(1, this.options.pageSize ?? DEFAULT_PAGE_SIZE);
  }

  introspect(options: IntrospectOptions = {}): Promise<SchemaSnapshot> {
    return this.snapshots.get(options);
  }

  searchSchema(snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[] {
    return searchSchema(snapshot.tables, question, { limit });
  }

  generationPrompt(input: GenerationInput): CompletionRequest {
    const shown = new Set(input.tables.map(({ table }) => table.name));
    const others = (this.latest?.tables ?? []).map((t) => t.name).filter((name) => !shown.has(name));
    return vectorSearchPrompt({
      question: input.question,
      tables: input.tables,
      otherCollections: others,
      maxRows: input.maxRows,
      includeSampleValues: input.includeSampleValues,
      history: input.history,
    });
  }

  createExtractor(): QueryStreamingExtractor {
    return new JsonObjectExtractor();
  }

  async validate(query: string): Promise<QueryValidation> {
    let collections = await this.knownCollections();
    const first = validateQdrantSearch(query, collections);
    // A collection created since the schema was read: look once more before calling it unknown.
    if (!first.ok && collections && first.unknownCollection) {
      collections = await this.knownCollections(true);
      return stripInternal(validateQdrantSearch(query, collections));
    }
    return stripInternal(first);
  }

  async *execute(query: string, options: ExecuteOptions): AsyncIterable<RowBatch> {
    const { signal, maxRows } = options;
    const checked = validateQdrantSearch(query, undefined);
    if (!checked.ok || !checked.search) throw new QueryExecutionError(checked.problems.join('; '), 'invalid_search', true);
    const search = checked.search;
    try {
      // Unlike validation, a schema that cannot be read fails the search (source_unavailable), not the model.
      const meta = this.details.get(await this.introspect({ signal }))?.get(search.collection);
      if (!meta) throw new QueryExecutionError(`unknown collection "${search.collection}"`, 'not_found', true);
      const flattener = new RowFlattener();
      let first = true;
      const batch = (points: readonly PointLike[], withScore: boolean): RowBatch => {
        const { rows, grew } = flattener.add(points.map((p) => pointDocument(p, withScore)));
        const out: RowBatch = first || grew ? { columns: [...flattener.columns], rows } : { rows };
        first = false;
        return out;
      };
      const withPayload = search.with_payload ?? true;
      const filter = search.filter;
      if (search.query_text) {
        const limit = Math.max(0, Math.min(search.limit ?? DEFAULT_SEARCH_LIMIT, maxRows));
        const { vector, using } = await this.queryVector(search, meta, signal);
        const response = await this.call(
          (s) =>
            this.client.api().queryPoints(
              { collection_name: search.collection, query: vector, ...(using ? { using } : {}), ...(filter ? { filter } : {}), limit, with_payload: withPayload, with_vector: false, timeout: this.serverTimeout() },
              { signal: s },
            ),
          signal,
        );
        const points = response.data.result?.points;
        if (!Array.isArray(points)) throw new QueryExecutionError('Qdrant answered the search without a list of points', undefined, false);
        for (let i = 0; i < points.length; i += this.pageSize) {
          yield batch(points.slice(i, i + this.pageSize), true);
          if (signal.aborted) throw signal.reason;
        }
        if (first) yield { columns: baseColumns(true), rows: [] };
        return;
      }
      const limit = Math.max(0, Math.min(search.limit ?? maxRows, maxRows));
      let delivered = 0;
      let offset: Schemas['ExtendedPointId'] | undefined;
      while (delivered < limit) {
        if (signal.aborted) throw signal.reason;
        const pageLimit = Math.min(this.pageSize, limit - delivered);
        const response = await this.call(
          (s) =>
            this.client.api().scrollPoints(
              { collection_name: search.collection, ...(filter ? { filter } : {}), limit: pageLimit, ...(offset !== undefined ? { offset } : {}), with_payload: withPayload, with_vector: false, timeout: this.serverTimeout() },
              { signal: s },
            ),
          signal,
        );
        const result = response.data.result;
        if (!result || !Array.isArray(result.points)) throw new QueryExecutionError('Qdrant answered the scroll without a list of points', undefined, false);
        const points = result.points.slice(0, limit - delivered);
        delivered += points.length;
        if (points.length > 0) yield batch(points, false);
        const next = result.next_page_offset;
        if (next === undefined || next === null || points.length === 0) break;
        offset = next as Schemas['ExtendedPointId'];
      }
      if (first) yield { columns: baseColumns(false), rows: [] };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      // The collection may have been dropped since the schema was read: the correction round should see the new list.
      if (apiFailure(error)?.status === 404) this.snapshots.clear();
      throw this.toExecutionError(error);
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await this.call((s) => this.client.api().getCollections({}, { signal: s }), signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.describeFailure(error);
    }
  }

  async close(): Promise<void> {
    this.snapshots.clear();
    this.latest = undefined;
  }

  // ---- introspection ------------------------------------------------------------------------------------------

  private async knownCollections(refresh = false): Promise<Map<string, CollectionMeta> | undefined> {
    try {
      return this.details.get(await this.introspect({ refresh }));
    } catch {
      return undefined; // the checks that need the schema are skipped; running the search reports the failure
    }
  }

  private async loadSnapshot(onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<SchemaSnapshot> {
    onProgress(0);
    try {
      const listed = await this.call((s) => this.client.api().getCollections({}, { signal: s }), signal);
      const names = (listed.data.result?.collections ?? []).map((c) => c.name).sort();
      onProgress(0.1);
      const tables: TableInfo[] = [];
      const metas = new Map<string, CollectionMeta>();
      for (const [i, name] of names.entries()) {
        const { table, meta } = await this.describeCollection(name, signal);
        tables.push(table);
        metas.set(name, meta);
        onProgress(0.1 + (0.9 * (i + 1)) / names.length);
      }
      onProgress(1);
      const snapshot: SchemaSnapshot = { source: this.id, tables, loadedAt: Date.now() };
      this.details.set(snapshot, metas);
      this.latest = snapshot;
      return snapshot;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new Error(`could not read the collections of ${this.name}: ${this.describeFailure(error).message}`);
    }
  }

  private async describeCollection(name: string, signal?: AbortSignal): Promise<{ table: TableInfo; meta: CollectionMeta }> {
    const info = (await this.call((s) => this.client.api().getCollection({ collection_name: name }, { signal: s }), signal)).data.result;
    if (!info) throw new Error(`Qdrant answered without the description of collection "${name}"`);
    const sampled = await this.call(
      (s) => this.client.api().scrollPoints({ collection_name: name, limit: this.options.sampleSize ?? DEFAULT_SAMPLE_SIZE, with_payload: true, with_vector: false }, { signal: s }),
      signal,
    );
    // Scroll returns the first points by id, not a random sample: good enough to name the fields in use.
    const points = sampled.data.result?.points ?? [];
    const { vectors, notes: vectorNotes } = readVectors(info.config.params);
    const indexes = Object.entries(info.payload_schema ?? {}).filter((entry): entry is [string, Schemas['PayloadIndexInfo']] => entry[1] !== undefined);
    const indexType = new Map(indexes.map(([key, index]) => [key, index.data_type]));

    const columns: ColumnInfo[] = [
      { name: 'id', type: idType(points), nullable: false, isPrimaryKey: true, comment: 'point id (unsigned integer or UUID); filter on it with has_id' },
    ];
    if (vectors.length > 0) {
      const closer = vectors.every((v) => v.distance === 'Euclid' || v.distance === 'Manhattan') ? 'a distance: lower is closer' : 'higher is more similar';
      columns.push({ name: 'score', type: 'float', nullable: true, isPrimaryKey: false, comment: `similarity to query_text, only when searching with it (${closer})` });
    }
    const payloadKeys = new Set<string>();
    const fields = inferFields(points.map((p) => p.payload ?? {}));
    for (const field of fields) {
      payloadKeys.add(field.path);
      const notes = [`present in ${field.presence}%`];
      const indexed = indexType.get(field.path);
      if (indexed) notes.push(`indexed (${indexed})`);
      columns.push({
        name: columnName(field.path),
        type: field.types.join('|'),
        nullable: field.presence < 100 || field.types.includes('null'),
        isPrimaryKey: false,
        comment: notes.join('; ') + (columnName(field.path) !== field.path ? `; filter key "${field.path}"` : ''),
        ...(field.sampleValues ? { sampleValues: field.sampleValues } : {}),
      });
    }
    for (const [key, type] of indexType) {
      if (payloadKeys.has(key)) continue;
      payloadKeys.add(key);
      columns.push({ name: columnName(key), type: INDEX_TYPES[type] ?? type, nullable: true, isPrimaryKey: false, comment: `indexed (${type}); not seen in the sampled points` });
    }

    const vectorText =
      vectors.length === 0
        ? 'no dense vectors (filter-only searches)'
        : vectors.length === 1 && vectors[0]!.name === ''
          ? `vector: ${vectors[0]!.size}-d ${vectors[0]!.distance}`
          : `named vectors (for "using"): ${vectors.map((v) => `${v.name} (${v.size}-d ${v.distance})`).join(', ')}`;
    const comment = [
      vectorText,
      ...vectorNotes,
      indexes.length ? `payload indexes: ${indexes.map(([key, index]) => `${key} (${index.data_type})`).join(', ')}` : '',
      `fields from ${points.length} sampled point(s)`,
    ].filter(Boolean);
    const table: TableInfo = {
      schema: 'qdrant',
      name,
      qualifiedName: name,
      kind: 'collection',
      comment: comment.join('; '),
      rowEstimate: typeof info.points_count === 'number' ? info.points_count : -1,
      columns,
      primaryKey: ['id'],
      foreignKeys: [],
    };
    return { table, meta: { name, vectors, payloadKeys } };
  }

  // ---- execution ----------------------------------------------------------------------------------------------

  /** Embeds `query_text` and checks its size against the chosen vector of the collection. */
  private async queryVector(search: QdrantSearch, meta: CollectionMeta, signal: AbortSignal): Promise<{ vector: number[]; using?: string }> {
    const chosen = chooseVector(meta, search.using);
    if ('problem' in chosen) throw new QueryExecutionError(chosen.problem, 'bad_vector', true);
    const { embedder } = this;
    let vector: number[];
    try {
      [vector] = (await embedder.embed([search.query_text!], signal)) as [number[]];
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const message = error instanceof EmbeddingError ? error.message : `the embedding model failed: ${error instanceof Error ? error.message : String(error)}`;
      throw new SourceFailureError(
        'source_unavailable',
        `could not embed the search text: ${message}`,
        `check the embeddings settings of connection "${this.id}" (embeddings.baseURL / .model / .apiKey, or CENECA_EMBEDDINGS_BASE_URL, CENECA_EMBEDDINGS_MODEL, OPENAI_API_KEY)`,
      );
    }
    const target = chosen.vector;
    if (vector.length !== target.size) {
      const which = target.name ? ` (vector "${target.name}")` : '';
      throw new SourceFailureError(
        'execution_failed',
        `the embedding model "${embedder.model}" returns ${vector.length}-dimensional vectors, but collection "${meta.name}"${which} holds ${target.size}-dimensional ones: the collection was built with a different embedding model`,
        `set embeddings.model of connection "${this.id}" (or CENECA_EMBEDDINGS_MODEL) to the model that built the collection`,
      );
    }
    return { vector, ...(target.name ? { using: target.name } : {}) };
  }

  private serverTimeout(): number {
    return Math.max(1, Math.ceil(this.timeoutMs / 1000));
  }

  /** One request with its own time limit, ended at once when `signal` aborts. */
  private async call<T>(run: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw signal.reason;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      return await run(signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new RequestTimeout(this.timeoutMs);
      throw error;
    }
  }

  private toExecutionError(error: unknown): Error {
    if (error instanceof QueryExecutionError || error instanceof StatementTimeoutError || error instanceof SourceFailureError) return error;
    if (error instanceof RequestTimeout) return new StatementTimeoutError(error.limitMs);
    const api = apiFailure(error);
    if (api && !isAuthStatus(api.status)) {
      if (/timed? ?out/i.test(api.message) && (api.status === 408 || api.status >= 500)) return new StatementTimeoutError(this.timeoutMs);
      // 400 / 404 / 422: a search the model can write differently (bad filter value, missing vector, …).
      if (api.status === 400 || api.status === 404 || api.status === 422) return new QueryExecutionError(api.message, String(api.status), true);
      return new QueryExecutionError(`Qdrant answered ${api.status}: ${api.message}`, String(api.status), false);
    }
    return this.describeFailure(error); // network or credentials: source_unavailable
  }

  /** A failure as a message a person can act on: unreachable host, wrong API key, or what Qdrant said. */
  private describeFailure(error: unknown): Error {
    const server = `Qdrant at ${this.origin}`;
    if (error instanceof RequestTimeout) return new Error(`${server} did not answer within ${Math.round(error.limitMs / 100) / 10} s`);
    const api = apiFailure(error);
    if (api) {
      if (isAuthStatus(api.status)) return new Error(`${server} refused the request (${api.status}${api.message ? `: ${api.message}` : ''}): check the API key`);
      return new Error(`${server} answered ${api.status}${api.message ? `: ${api.message}` : ''}`);
    }
    const network = networkCode(error);
    if (network) return new Error(`could not reach ${server} (${network}): check the URL and that the server is running`);
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** A request ran past its time limit (the caller decides how to word it). */
class RequestTimeout extends Error {
  constructor(readonly limitMs: number) {
    super(`no answer within ${limitMs} ms`);
    this.name = 'RequestTimeout';
  }
}

// ---- validation -----------------------------------------------------------------------------------------------

export interface QdrantValidation extends QueryValidation {
  search?: QdrantSearch;
  /** Set when the only trouble may be a collection created after the schema was read. */
  unknownCollection?: boolean;
}

const searchSchemaZ = z.strictObject({
  collection: z.string({ error: 'must be the name of a collection' }).min(1, { error: 'must be the name of a collection' }),
  query_text: z.string({ error: 'must be a string, or null for a filter-only search' }).nullish(),
  using: z.string({ error: 'must be the name of a vector' }).nullish(),
  filter: z.record(z.string(), z.unknown(), { error: 'must be a filter object ({"must": [...], ...})' }).nullish(),
  limit: z.number({ error: 'must be a positive whole number' }).int({ error: 'must be a positive whole number' }).positive({ error: 'must be a positive whole number' }).nullish(),
  with_payload: z.union([z.boolean(), z.array(z.string().min(1))], { error: 'must be true, false or a list of payload field names' }).nullish(),
});

// zod reports the failing member's own issue when the type fits one member of a union, so the message goes on both.
const POINT_ID = 'a point id is an unsigned integer or a UUID';
const pointIdZ = z.union([z.number().int({ error: POINT_ID }).nonnegative({ error: POINT_ID }), z.string().regex(UUID, { error: POINT_ID })], { error: POINT_ID });
const MATCH_VALUE = 'must be a string, a whole number or a boolean (for decimals use "range")';
const matchValueZ = z.union([z.string(), z.number().int({ error: MATCH_VALUE }), z.boolean()], { error: MATCH_VALUE });
const MATCH_LIST = 'must be a list of strings or of whole numbers';
const matchListZ = z.union([z.array(z.string()), z.array(z.number().int({ error: MATCH_LIST }))], { error: MATCH_LIST });
const RANGE_BOUND = 'must be a number or an RFC 3339 date-time string';
const rangeBoundZ = z.union([z.number(), z.string().refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)), { error: RANGE_BOUND })], { error: RANGE_BOUND });
const rangeZ = z
  .strictObject({ gt: rangeBoundZ.optional(), gte: rangeBoundZ.optional(), lt: rangeBoundZ.optional(), lte: rangeBoundZ.optional() })
  .refine((r) => r.gt !== undefined || r.gte !== undefined || r.lt !== undefined || r.lte !== undefined, { error: 'needs at least one of gt, gte, lt, lte' });
const MATCH_KINDS = {
  value: z.strictObject({ value: matchValueZ }),
  any: z.strictObject({ any: matchListZ }),
  except: z.strictObject({ except: matchListZ }),
  text: z.strictObject({ text: z.string().min(1) }),
} as const;
const fieldConditionZ = z.strictObject({ key: z.string().min(1), match: z.unknown().optional(), range: z.unknown().optional() });
const keyOnlyZ = z.strictObject({ key: z.string().min(1) });
const FILTER_CLAUSES = ['must', 'should', 'must_not', 'min_should'] as const;
const filterZ = z.strictObject({
  must: z.unknown().optional(),
  should: z.unknown().optional(),
  must_not: z.unknown().optional(),
  min_should: z.strictObject({ conditions: z.array(z.unknown()).min(1), min_count: z.number().int().nonnegative() }).optional(),
});

interface FilterCheck {
  problems: string[];
  /** Payload keys used by the filter, each with where it appears. */
  keys: Array<{ key: string; where: string }>;
}

/**
 * Checks the model's JSON search: its shape (zod), the filter against Qdrant's filter syntax, and — when
 * `collections` is given — the collection, the vector named in `using`, and every payload key against what
 * introspection found.
 */
export function validateQdrantSearch(text: string, collections: ReadonlyMap<string, CollectionMeta> | undefined): QdrantValidation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`the search is not valid JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  if (!isRecord(value)) return { ok: false, problems: ['the search must be one JSON object with "collection" and "query_text"'] };
  const parsed = searchSchemaZ.safeParse(value);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((issue) => issueText(issue, '')) };
  const raw = parsed.data;
  const queryText = raw.query_text?.trim() || undefined;
  const filter = raw.filter && Object.keys(raw.filter).length > 0 ? raw.filter : undefined;
  const check: FilterCheck = { problems: [], keys: [] };
  if (filter) checkFilter(filter, 'filter', '', check, 0);
  if (check.problems.length > 0) return { ok: false, problems: dedupe(check.problems) };
  const search: QdrantSearch = {
    collection: raw.collection,
    ...(queryText ? { query_text: queryText } : {}),
    ...(raw.using ? { using: raw.using } : {}),
    ...(filter ? { filter } : {}),
    ...(raw.limit ? { limit: raw.limit } : {}),
    ...(raw.with_payload !== undefined && raw.with_payload !== null ? { with_payload: raw.with_payload } : {}),
  };
  if (collections) {
    const meta = collections.get(search.collection);
    if (!meta) {
      const names = [...collections.keys()];
      return { ok: false, unknownCollection: true, problems: [`unknown collection "${search.collection}"; the collections are: ${names.join(', ') || '(none)'}`] };
    }
    const problems: string[] = [];
    if (search.query_text) {
      const chosen = chooseVector(meta, search.using);
      if ('problem' in chosen) problems.push(chosen.problem);
      else if (chosen.vector.name) search.using = chosen.vector.name;
      else delete search.using;
    }
    const used = [...check.keys, ...(Array.isArray(search.with_payload) ? search.with_payload.map((key) => ({ key, where: 'with_payload' })) : [])];
    const unknown = used.filter(({ key }) => !meta.payloadKeys.has(key));
    if (unknown.length > 0) {
      const listed = [...meta.payloadKeys].sort();
      const shown = listed.slice(0, MAX_LISTED_KEYS).join(', ') + (listed.length > MAX_LISTED_KEYS ? ', …' : '');
      const named = dedupe(unknown.map(({ key, where }) => `"${key}" (${where})`));
      problems.push(`unknown payload key${named.length > 1 ? 's' : ''} ${named.join(', ')} in collection "${meta.name}"; its payload keys are: ${shown || '(none)'}`);
    }
    if (problems.length > 0) return { ok: false, problems };
  }
  return { ok: true, problems: [], query: canonicalJson(search), search };
}

function stripInternal(validation: QdrantValidation): QueryValidation {
  return { ok: validation.ok, problems: validation.problems, ...(validation.query ? { query: validation.query } : {}) };
}

function checkFilter(value: unknown, where: string, prefix: string, check: FilterCheck, depth: number): void {
  if (depth > MAX_FILTER_DEPTH) {
    check.problems.push(`${where}: nested too deeply`);
    return;
  }
  if (!isRecord(value)) {
    check.problems.push(`${where}: a filter must be an object with must / should / must_not / min_should`);
    return;
  }
  const parsed = filterZ.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      check.problems.push(issueText(issue, where, issue.code === 'unrecognized_keys' ? 'a filter takes only must, should, must_not and min_should' : undefined));
    }
    return;
  }
  for (const clause of FILTER_CLAUSES) {
    if (clause === 'min_should') {
      parsed.data.min_should?.conditions.forEach((c, i) => checkCondition(c, `${where}.min_should.conditions[${i}]`, prefix, check, depth + 1));
      continue;
    }
    const part = parsed.data[clause];
    if (part === undefined || part === null) continue;
    // Qdrant takes one condition or a list of them.
    if (Array.isArray(part)) part.forEach((c, i) => checkCondition(c, `${where}.${clause}[${i}]`, prefix, check, depth + 1));
    else checkCondition(part, `${where}.${clause}`, prefix, check, depth + 1);
  }
}

function checkCondition(value: unknown, where: string, prefix: string, check: FilterCheck, depth: number): void {
  if (!isRecord(value)) {
    check.problems.push(`${where}: a condition must be an object`);
    return;
  }
  const push = (schema: z.ZodType, hint?: string): boolean => {
    const result = schema.safeParse(value);
    if (!result.success) for (const issue of result.error.issues) check.problems.push(issueText(issue, where, hint));
    return result.success;
  };
  if (FILTER_CLAUSES.some((clause) => clause in value)) {
    checkFilter(value, where, prefix, check, depth);
  } else if ('key' in value) {
    if (!push(fieldConditionZ, 'a field condition is {"key", "match"} or {"key", "range"}')) return;
    const { key, match, range } = value as { key: string; match?: unknown; range?: unknown };
    if (match === undefined && range === undefined) check.problems.push(`${where}: a condition on "${key}" needs "match" or "range"`);
    if (match !== undefined) checkMatch(match, `${where}.match`, check);
    if (range !== undefined) {
      const result = rangeZ.safeParse(range);
      if (!result.success) for (const issue of result.error.issues) check.problems.push(issueText(issue, `${where}.range`, 'a range takes gt, gte, lt, lte'));
    }
    check.keys.push({ key: payloadKey(prefix, key), where });
  } else if ('is_empty' in value || 'is_null' in value) {
    const kind = 'is_empty' in value ? 'is_empty' : 'is_null';
    if (push(z.strictObject({ [kind]: keyOnlyZ }), `write {"${kind}": {"key": "<field>"}}`)) check.keys.push({ key: payloadKey(prefix, (value[kind] as { key: string }).key), where });
  } else if ('has_id' in value) {
    push(z.strictObject({ has_id: z.array(pointIdZ).min(1) }), 'write {"has_id": [1, 2, …]}');
  } else if ('nested' in value) {
    if (!push(z.strictObject({ nested: z.strictObject({ key: z.string().min(1), filter: z.unknown() }) }), 'write {"nested": {"key": "<array field>", "filter": {...}}}')) return;
    const nested = value.nested as { key: string; filter: unknown };
    const key = payloadKey(prefix, nested.key);
    check.keys.push({ key, where });
    checkFilter(nested.filter, `${where}.nested.filter`, key, check, depth + 1);
  } else {
    const keys = Object.keys(value).join(', ') || 'nothing';
    check.problems.push(`${where}: not a condition (it has ${keys}); use {"key", "match"|"range"}, is_empty, is_null, has_id, nested, or a must/should/must_not filter`);
  }
}

function checkMatch(match: unknown, where: string, check: FilterCheck): void {
  const kinds = isRecord(match) ? Object.keys(match).filter((k): k is keyof typeof MATCH_KINDS => k in MATCH_KINDS) : [];
  if (!isRecord(match) || kinds.length !== 1) {
    check.problems.push(`${where}: a match is exactly one of {"value": v}, {"any": [...]}, {"except": [...]}, {"text": "words"}`);
    return;
  }
  const result = MATCH_KINDS[kinds[0]!].safeParse(match);
  if (!result.success) for (const issue of result.error.issues) check.problems.push(issueText(issue, where));
}

/** A filter key as a payload path: `[]` array markers dropped, prefixed by the enclosing `nested` key. */
function payloadKey(prefix: string, key: string): string {
  const plain = key.replace(/\[\]/g, '');
  return prefix ? `${prefix}.${plain}` : plain;
}

function issueText(issue: z.core.$ZodIssue, where: string, hint?: string): string {
  const path = [where, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))].filter(Boolean).join('.').replace(/\.\[/g, '[');
  const label = path ? (where ? path : `"${path}"`) : 'the search';
  const text = issue.code === 'unrecognized_keys' ? `unexpected key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
  return `${label}: ${text}${hint ? `; ${hint}` : ''}`;
}

/** The vector a `query_text` search uses: the one named in `using`, else the only (or first) one. */
function chooseVector(meta: CollectionMeta, using: string | undefined): { vector: VectorInfo } | { problem: string } {
  if (meta.vectors.length === 0) return { problem: `collection "${meta.name}" has no dense vector to search with; use "query_text": null and a filter` };
  const unnamed = meta.vectors.length === 1 && meta.vectors[0]!.name === '';
  if (unnamed) {
    return using ? { problem: `collection "${meta.name}" has a single unnamed vector; leave out "using"` } : { vector: meta.vectors[0]! };
  }
  if (!using) return { vector: meta.vectors[0]! };
  const found = meta.vectors.find((v) => v.name === using);
  return found ? { vector: found } : { problem: `unknown vector "${using}" in collection "${meta.name}"; its vectors are: ${meta.vectors.map((v) => v.name).join(', ')}` };
}

/** The validated search with its keys in a fixed order. */
function canonicalJson(search: QdrantSearch): string {
  return JSON.stringify({
    collection: search.collection,
    query_text: search.query_text ?? null,
    using: search.using,
    filter: search.filter,
    limit: search.limit,
    with_payload: search.with_payload,
  });
}

// ---- schema helpers -------------------------------------------------------------------------------------------

/** Payload index types as value types (the index type says what the values are). */
const INDEX_TYPES: Readonly<Record<string, string>> = {
  keyword: 'string',
  text: 'string (full-text)',
  integer: 'integer',
  float: 'number',
  bool: 'bool',
  datetime: 'datetime',
  uuid: 'uuid',
  geo: 'geo',
};

function readVectors(params: Schemas['CollectionParams']): { vectors: VectorInfo[]; notes: string[] } {
  const vectors: VectorInfo[] = [];
  const notes: string[] = [];
  const config = params.vectors as unknown;
  const add = (name: string, value: unknown): void => {
    if (!isRecord(value) || typeof value.size !== 'number') return;
    // A multivector takes a list of vectors as its query; one embedded text cannot search it.
    if (isRecord(value.multivector_config)) {
      notes.push(`multivector ${name || '(unnamed)'} (not searchable by query_text)`);
      return;
    }
    vectors.push({ name, size: value.size, distance: typeof value.distance === 'string' ? value.distance : 'Cosine' });
  };
  if (isRecord(config) && typeof config.size === 'number') add('', config);
  else if (isRecord(config)) for (const [name, value] of Object.entries(config)) add(name, value);
  const sparse = Object.keys(params.sparse_vectors ?? {});
  if (sparse.length > 0) notes.push(`sparse vectors ${sparse.join(', ')} (not searchable by query_text)`);
  return { vectors, notes };
}

function idType(points: readonly { id: unknown }[]): string {
  const kinds = new Set(points.map((p) => (typeof p.id === 'string' ? 'uuid' : 'integer')));
  return kinds.size === 0 ? 'integer|uuid' : [...kinds].sort().join('|');
}

function columnName(path: string): string {
  const top = path.split('.')[0]!;
  return POINT_COLUMNS.has(top) ? `payload.${path}` : path;
}

// ---- rows -----------------------------------------------------------------------------------------------------

interface PointLike {
  id: unknown;
  score?: unknown;
  payload?: Record<string, unknown> | null;
}

/** A point as a document for RowFlattener: id, score, then the payload (nested objects become dotted columns). */
function pointDocument(point: PointLike, withScore: boolean): Record<string, unknown> {
  const doc: Record<string, unknown> = { id: point.id };
  if (withScore) doc.score = point.score;
  for (const [key, value] of Object.entries(point.payload ?? {})) doc[POINT_COLUMNS.has(key) ? `payload.${key}` : key] = value;
  return doc;
}

function baseColumns(withScore: boolean): ResultColumn[] {
  return withScore ? [{ name: 'id', type: 'id' }, { name: 'score', type: 'number' }] : [{ name: 'id', type: 'id' }];
}

// ---- errors ---------------------------------------------------------------------------------------------------

/** The client's HTTP error (openapi-typescript-fetch's ApiError): status plus Qdrant's `{status: {error}}` body. */
function apiFailure(error: unknown): { status: number; message: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, data, statusText } = error as { status?: unknown; data?: unknown; statusText?: unknown };
  if (typeof status !== 'number' || !('data' in error)) return undefined;
  const body = (data as { status?: { error?: unknown } } | null | undefined)?.status?.error;
  const message = typeof body === 'string' ? body : typeof data === 'string' && data ? data.slice(0, 300) : typeof statusText === 'string' ? statusText : '';
  return { status, message };
}

function isAuthStatus(status: number): boolean {
  return status === 401 || status === 403;
}

/** `ECONNREFUSED`, `ENOTFOUND`, … from fetch's `TypeError: fetch failed` (the code sits in its cause). */
function networkCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return error.message === 'fetch failed' ? 'network error' : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}
