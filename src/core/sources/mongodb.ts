/**
 * MongoDB through the official driver: collections and their fields inferred from sampled documents (cached),
 * a JSON query shape ({collection, operation: find|aggregate, …}) checked against allowlists of stages and
 * operators, and execution streaming cursor batches as flattened rows (nested objects become dotted columns).
 */
import { SnapshotCache } from '../schema/snapshotCache';
import { EJSON } from 'bson';
import { MongoClient, type AbstractCursor, type Db, type Document } from 'mongodb';
import type { Cell, ResultColumn } from '../events';
import { FencedQueryExtractor } from '../llm/extract';
import { mongoQueryPrompt } from '../llm/prompts/mongodb';
import type { CompletionRequest } from '../llm/provider';
import { searchSchema } from '../schema/search';
import type { ColumnInfo, RankedTable, SchemaSnapshot, TableInfo } from '../schema/types';
import {
  QueryExecutionError,
  StatementTimeoutError,
  type DataSource,
  type ExecuteOptions,
  type GenerationInput,
  type IntrospectOptions,
  type QueryStreamingExtractor,
  type QueryValidation,
  type RowBatch,
} from './source';

export interface MongoSourceOptions {
  id: string;
  name?: string;
  /** mongodb:// or mongodb+srv:// URL. */
  url: string;
  /** Defaults to the database named in the URL. */
  database?: string;
  /** Documents sampled per collection to infer its fields. */
  sampleSize?: number;
  /** Server-side time limit of one query (maxTimeMS). */
  maxTimeMs?: number;
  /** Documents per cursor batch (one RowBatch each). */
  batchSize?: number;
  /** How long to look for a reachable server before giving up. */
  serverSelectionTimeoutMs?: number;
}

const DEFAULT_SAMPLE_SIZE = 200;
const DEFAULT_MAX_TIME_MS = 30_000;
const DEFAULT_BATCH_SIZE = 500;
const MAX_FIELDS_PER_COLLECTION = 300;
const MAX_NESTING = 8;

export const ALLOWED_STAGES: ReadonlySet<string> = new Set([
  '$match', '$project', '$addFields', '$set', '$unset', '$group', '$sort', '$limit', '$skip', '$unwind', '$lookup',
  '$count', '$facet', '$bucket', '$bucketAuto', '$sortByCount', '$replaceRoot', '$replaceWith', '$sample',
]);

/** Query, expression and accumulator operators the model may use anywhere inside a query. */
export const ALLOWED_OPERATORS: ReadonlySet<string> = new Set([
  // query
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$and', '$or', '$nor', '$not', '$exists', '$type',
  '$regex', '$options', '$size', '$all', '$elemMatch', '$mod', '$expr', '$text', '$search', '$language', '$caseSensitive',
  // accumulators
  '$sum', '$avg', '$min', '$max', '$first', '$last', '$push', '$addToSet', '$count', '$stdDevPop', '$stdDevSamp',
  '$top', '$bottom', '$topN', '$bottomN', '$firstN', '$lastN', '$maxN', '$minN',
  // arithmetic
  '$add', '$subtract', '$multiply', '$divide', '$mod', '$round', '$trunc', '$abs', '$ceil', '$floor', '$sqrt', '$pow', '$log10', '$ln', '$exp',
  // strings
  '$concat', '$toLower', '$toUpper', '$substr', '$substrCP', '$substrBytes', '$strLenCP', '$trim', '$ltrim', '$rtrim', '$split',
  '$indexOfCP', '$regexMatch', '$regexFind', '$replaceAll', '$replaceOne', '$strcasecmp', '$input', '$find', '$replacement',
  // dates
  '$dateToString', '$dateFromString', '$dateTrunc', '$dateAdd', '$dateSubtract', '$dateDiff', '$year', '$month', '$dayOfMonth',
  '$dayOfWeek', '$dayOfYear', '$hour', '$minute', '$second', '$millisecond', '$week', '$isoWeek', '$isoWeekYear', '$isoDayOfWeek',
  '$format', '$timezone', '$date', '$unit', '$binSize', '$startOfWeek', '$startDate', '$endDate', '$amount', '$dateString', '$onError', '$onNull',
  // conditionals and comparison expressions
  '$cond', '$ifNull', '$switch', '$cmp', '$if', '$then', '$else', '$branches', '$case', '$default',
  // arrays and objects
  '$arrayElemAt', '$filter', '$map', '$reduce', '$slice', '$concatArrays', '$isArray', '$reverseArray', '$zip', '$range',
  '$indexOfArray', '$objectToArray', '$arrayToObject', '$mergeObjects', '$getField', '$setField', '$literal', '$let',
  '$as', '$cond', '$vars', '$in', '$initialValue', '$inputs', '$useLongestLength', '$defaults', '$field', '$value', '$sortArray', '$sortBy',
  '$setUnion', '$setIntersection', '$setDifference', '$setEquals', '$setIsSubset', '$anyElementTrue', '$allElementsTrue', '$n', '$output',
  // types
  '$toString', '$toInt', '$toLong', '$toDouble', '$toDecimal', '$toDate', '$toObjectId', '$toBool', '$convert', '$to', '$isNumber',
  // $unwind / $bucket / $replaceRoot / $lookup / $sortByCount helpers written as $-less keys are plain fields; these are $-prefixed ones
  '$meta',
  // Extended JSON
  '$oid', '$numberInt', '$numberLong', '$numberDouble', '$numberDecimal',
]);

/** Refused with a reason of their own. */
const FORBIDDEN: Readonly<Record<string, string>> = {
  $where: 'runs JavaScript on the server',
  $function: 'runs JavaScript on the server',
  $accumulator: 'runs JavaScript on the server',
  $out: 'writes to a collection',
  $merge: 'writes to a collection',
};

/** Server error codes for a query the model can fix (bad operator, wrong argument shape, unknown stage …). */
const CORRECTABLE_CODES = new Set([2, 9, 14, 15, 16, 17, 26, 40, 168, 15952, 15955, 15957, 15959, 15969, 15973, 15974, 15976, 15981, 15983, 15998, 16020, 16410, 16554, 16555, 16610, 16611, 16612, 16618, 17276, 17287, 17307, 28667, 28715, 28724, 28745, 28746, 28747, 28749, 28764, 28765, 28769, 28808, 31002, 31249, 31250, 31253, 31254, 31325, 34435, 40156, 40157, 40158, 40160, 40180, 40181, 40234, 40235, 40238, 40323, 40324, 40352, 40390, 40395, 40396, 40397, 40414, 40600, 51024, 51075, 51091, 51108, 51247]);
const MAX_TIME_EXPIRED = 50;

export interface MongoQuery {
  collection: string;
  operation: 'find' | 'aggregate';
  filter?: Document;
  projection?: Document;
  sort?: Document;
  limit?: number;
  skip?: number;
  pipeline?: Document[];
}

export class MongoSource implements DataSource {
  readonly kind = 'mongodb' as const;
  readonly language = 'mongodb' as const;
  readonly id: string;
  readonly name: string;
  private readonly options: MongoSourceOptions;
  private clientPromise?: Promise<MongoClient>;
  private readonly snapshots = new SnapshotCache((onProgress, signal) => this.loadSnapshot(onProgress, signal));

  constructor(options: MongoSourceOptions) {
    this.options = options;
    this.id = options.id;
    this.name = options.name ?? options.id;
  }

  get maxTimeMs(): number {
    return this.options.maxTimeMs ?? DEFAULT_MAX_TIME_MS;
  }

  introspect(options: IntrospectOptions = {}): Promise<SchemaSnapshot> {
    return this.snapshots.get(options);
  }

  searchSchema(snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[] {
    return searchSchema(snapshot.tables, question, { limit });
  }

  generationPrompt(input: GenerationInput): CompletionRequest {
    return mongoQueryPrompt({
      question: input.question,
      tables: input.tables,
      database: this.databaseName(),
      maxRows: input.maxRows,
      includeSampleValues: input.includeSampleValues,
      history: input.history,
    });
  }

  createExtractor(): QueryStreamingExtractor {
    return new FencedQueryExtractor(['json']);
  }

  async validate(query: string): Promise<QueryValidation> {
    let known: string[] | undefined;
    try {
      known = (await this.introspect()).tables.map((t) => t.name);
    } catch {
      known = undefined; // the collection check is skipped; execution reports a missing one
    }
    return validateMongoQuery(query, known);
  }

  async *execute(query: string, options: ExecuteOptions): AsyncIterable<RowBatch> {
    const { signal, maxRows } = options;
    const parsed = parseForExecution(query);
    const db = await this.db();
    if (signal.aborted) throw signal.reason;
    const batchSize = Math.max(1, Math.min(this.options.batchSize ?? DEFAULT_BATCH_SIZE, maxRows));
    const collection = db.collection(parsed.collection);
    let cursor: AbstractCursor<Document>;
    if (parsed.operation === 'find') {
      const limit = Math.min(parsed.limit && parsed.limit > 0 ? parsed.limit : maxRows, maxRows);
      cursor = collection.find(parsed.filter ?? {}, {
        ...(parsed.projection && Object.keys(parsed.projection).length ? { projection: parsed.projection } : {}),
        ...(parsed.sort && Object.keys(parsed.sort).length ? { sort: parsed.sort } : {}),
        ...(parsed.skip ? { skip: parsed.skip } : {}),
        limit,
        batchSize,
        maxTimeMS: this.maxTimeMs,
      });
    } else {
      cursor = collection.aggregate([...(parsed.pipeline ?? []), { $limit: maxRows }], { batchSize, maxTimeMS: this.maxTimeMs });
    }
    // A read in flight when the cancel lands is left to finish; closing the cursor then kills it on the server.
    // (Closing during a getMore would drop the cursor on the client only.)
    let reading: Promise<unknown> = Promise.resolve();
    const flattener = new RowFlattener();
    let delivered = 0;
    let first = true;
    try {
      while (delivered < maxRows) {
        const next = cursor.hasNext();
        reading = next;
        const more = await untilAborted(next, signal);
        if (!more) break;
        const docs = cursor.readBufferedDocuments(Math.min(cursor.bufferedCount(), maxRows - delivered));
        const { rows, grew } = flattener.add(docs);
        delivered += rows.length;
        yield first || grew ? { columns: [...flattener.columns], rows } : { rows };
        first = false;
        if (signal.aborted) throw signal.reason;
      }
      if (first) yield { columns: [], rows: [] };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw this.toExecutionError(error);
    } finally {
      const closing = reading.catch(() => undefined).then(() => cursor.close()).catch(() => undefined);
      if (!signal.aborted) await closing;
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    const db = await this.db();
    if (signal?.aborted) throw signal.reason;
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    const client = this.clientPromise;
    this.clientPromise = undefined;
    this.snapshots.clear();
    if (client) await (await client.catch(() => undefined))?.close();
  }

  private databaseName(): string {
    if (this.options.database) return this.options.database;
    try {
      const path = new URL(this.options.url.replace(/^mongodb(\+srv)?:/, 'http:')).pathname.replace(/^\//, '');
      return decodeURIComponent(path) || 'test';
    } catch {
      return 'test';
    }
  }

  private client(): Promise<MongoClient> {
    if (!this.clientPromise) {
      const connecting = this.connect();
      this.clientPromise = connecting;
      connecting.catch(() => {
        if (this.clientPromise === connecting) this.clientPromise = undefined;
      });
    }
    return this.clientPromise;
  }

  private async connect(): Promise<MongoClient> {
    let client: MongoClient;
    try {
      client = new MongoClient(this.options.url, {
        appName: 'ceneca',
        serverSelectionTimeoutMS: this.options.serverSelectionTimeoutMs ?? 10_000,
        connectTimeoutMS: 10_000,
      });
    } catch (error) {
      throw new Error(`connection ${this.id}: not a valid MongoDB URL (expected mongodb://user:password@host:port/database): ${errorMessage(error)}`);
    }
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw new Error(`could not connect to MongoDB (${this.id}): ${errorMessage(error)}`);
    }
  }

  private async db(): Promise<Db> {
    return (await this.client()).db(this.databaseName());
  }

  private async loadSnapshot(onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<SchemaSnapshot> {
    onProgress(0);
    const db = await this.db();
    onProgress(0.2);
    try {
      const listed = await db.listCollections({}, { nameOnly: false }).toArray();
      const collections = listed.filter((c) => !c.name.startsWith('system.')).sort((a, b) => a.name.localeCompare(b.name));
      const tables: TableInfo[] = [];
      for (const [i, info] of collections.entries()) {
        if (signal?.aborted) throw signal.reason;
        tables.push(await this.describeCollection(db, info.name, info.type === 'view'));
        onProgress(0.2 + (0.8 * (i + 1)) / collections.length);
      }
      onProgress(1);
      return { source: this.id, tables, loadedAt: Date.now() };
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new Error(`could not read the collections of ${this.name}: ${errorMessage(error)}`);
    }
  }

  private async describeCollection(db: Db, name: string, isView: boolean): Promise<TableInfo> {
    const collection = db.collection(name);
    const size = this.options.sampleSize ?? DEFAULT_SAMPLE_SIZE;
    const sampled = await collection.aggregate([{ $sample: { size } }], { maxTimeMS: this.maxTimeMs }).toArray();
    // $sample may return a document more than once; each counts once for field presence.
    const seenIds = new Set<string>();
    const sample = sampled.filter((doc) => {
      if (doc._id === undefined) return true;
      const key = EJSON.stringify(doc._id as Document);
      if (seenIds.has(key)) return false;
      seenIds.add(key);
      return true;
    });
    const estimate = isView ? -1 : await collection.estimatedDocumentCount({ maxTimeMS: this.maxTimeMs }).catch(() => -1);
    let indexes: Document[] = [];
    if (!isView) indexes = await collection.listIndexes().toArray().catch(() => []);
    const indexed = new Set<string>();
    const indexNotes = indexes.map((ix) => {
      const keys = Object.keys((ix.key as Document | undefined) ?? {});
      for (const k of keys) indexed.add(k);
      return `${String(ix.name)} (${keys.join(', ')})${ix.unique ? ' unique' : ''}`;
    });
    const columns = inferFields(sample).map((f): ColumnInfo => {
      const notes = [`present in ${f.presence}%`];
      if (indexed.has(f.path)) notes.push('indexed');
      return {
        name: f.path,
        type: f.types.join('|'),
        nullable: f.presence < 100 || f.types.includes('null'),
        isPrimaryKey: f.path === '_id',
        comment: notes.join('; '),
        ...(f.sampleValues ? { sampleValues: f.sampleValues } : {}),
      };
    });
    const comments = [isView ? 'view' : '', indexNotes.length ? `indexes: ${indexNotes.join(', ')}` : '', `fields from ${sample.length} sampled document(s)`].filter(Boolean);
    return {
      schema: this.databaseName(),
      name,
      qualifiedName: name,
      kind: 'collection',
      comment: comments.join('; '),
      rowEstimate: estimate,
      columns,
      primaryKey: columns.some((c) => c.name === '_id') ? ['_id'] : [],
      foreignKeys: [],
    };
  }

  private toExecutionError(error: unknown): Error {
    if (error instanceof QueryExecutionError || error instanceof StatementTimeoutError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== 'number') return error instanceof Error ? error : new Error(String(error)); // network: source_unavailable
    if (code === MAX_TIME_EXPIRED) return new StatementTimeoutError(this.maxTimeMs);
    const codeName = (error as { codeName?: unknown }).codeName;
    const correctable = CORRECTABLE_CODES.has(code);
    return new QueryExecutionError(`${errorMessage(error)} (code ${code}${typeof codeName === 'string' ? ` ${codeName}` : ''})`, String(code), correctable);
  }
}

// ---- validation --------------------------------------------------------------------------------

const FIND_KEYS = new Set(['collection', 'operation', 'filter', 'projection', 'sort', 'limit', 'skip']);
const AGGREGATE_KEYS = new Set(['collection', 'operation', 'pipeline']);

/** Checks the model's JSON query; `knownCollections` (when given) must contain every collection it reads. */
export function validateMongoQuery(text: string, knownCollections?: readonly string[]): QueryValidation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`the query is not valid JSON: ${errorMessage(error)}`] };
  }
  if (!isPlainObject(value)) return { ok: false, problems: ['the query must be one JSON object with "collection" and "operation"'] };
  const problems: string[] = [];
  const { collection, operation } = value;
  if (typeof collection !== 'string' || !collection) problems.push('"collection" must be a non-empty string');
  if (operation !== 'find' && operation !== 'aggregate') problems.push('"operation" must be "find" or "aggregate"');
  const allowedKeys = operation === 'aggregate' ? AGGREGATE_KEYS : FIND_KEYS;
  for (const key of Object.keys(value)) if (!allowedKeys.has(key)) problems.push(`unexpected key "${key}" for operation ${String(operation)}`);
  const collections: string[] = typeof collection === 'string' && collection ? [collection] : [];
  if (operation === 'find') {
    for (const key of ['filter', 'projection', 'sort'] as const) {
      const part = value[key];
      if (part === undefined) continue;
      if (!isPlainObject(part)) problems.push(`"${key}" must be an object`);
      else checkOperators(part, key, problems);
    }
    for (const key of ['limit', 'skip'] as const) {
      const n = value[key];
      if (n !== undefined && !(typeof n === 'number' && Number.isInteger(n) && n >= 0)) problems.push(`"${key}" must be a non-negative integer`);
    }
  } else if (operation === 'aggregate') {
    if (!Array.isArray(value.pipeline)) problems.push('"pipeline" must be an array of stages');
    else checkPipeline(value.pipeline, 'pipeline', problems, collections);
  }
  if (knownCollections && problems.length === 0) {
    const unknown = [...new Set(collections)].filter((c) => !knownCollections.includes(c));
    for (const name of unknown) problems.push(`unknown collection "${name}"; the collections are: ${knownCollections.join(', ')}`);
  }
  if (problems.length === 0) {
    try {
      EJSON.parse(text, { relaxed: true });
    } catch (error) {
      problems.push(`bad Extended JSON value: ${errorMessage(error)}`);
    }
  }
  if (problems.length > 0) return { ok: false, problems: dedupe(problems) };
  return { ok: true, problems: [], query: JSON.stringify(value) };
}

function checkPipeline(pipeline: unknown[], where: string, problems: string[], collections: string[]): void {
  pipeline.forEach((stage, i) => {
    const at = `${where}[${i}]`;
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
      problems.push(`${at}: each stage must be an object with exactly one $-key`);
      return;
    }
    const [name, body] = Object.entries(stage)[0]!;
    if (FORBIDDEN[name]) {
      problems.push(`${at}: ${name} is not allowed (it ${FORBIDDEN[name]}); queries are read-only`);
      return;
    }
    if (!ALLOWED_STAGES.has(name)) {
      problems.push(`${at}: stage ${name} is not allowed; use only ${[...ALLOWED_STAGES].join(' ')}`);
      return;
    }
    if (name === '$lookup' && isPlainObject(body)) {
      const { pipeline: sub, ...rest } = body;
      if (typeof rest.from === 'string') collections.push(rest.from);
      checkOperators(rest, `${at}.$lookup`, problems);
      if (sub !== undefined) {
        if (Array.isArray(sub)) checkPipeline(sub, `${at}.$lookup.pipeline`, problems, collections);
        else problems.push(`${at}.$lookup.pipeline must be an array`);
      }
      return;
    }
    if (name === '$facet' && isPlainObject(body)) {
      for (const [facet, sub] of Object.entries(body)) {
        if (Array.isArray(sub)) checkPipeline(sub, `${at}.$facet.${facet}`, problems, collections);
        else problems.push(`${at}.$facet.${facet} must be an array of stages`);
      }
      return;
    }
    checkOperators(body, `${at}.${name}`, problems);
  });
}

/** Walks every nested value: each `$`-key must be an allowed operator. */
function checkOperators(value: unknown, where: string, problems: string[], depth = 0): void {
  if (depth > 64) {
    problems.push(`${where}: nested too deeply`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkOperators(item, `${where}[${i}]`, problems, depth + 1));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, inner] of Object.entries(value)) {
    if (key.startsWith('$')) {
      if (FORBIDDEN[key]) {
        problems.push(`${where}: ${key} is not allowed (it ${FORBIDDEN[key]})`);
        continue;
      }
      if (!ALLOWED_OPERATORS.has(key) && !(key === '$date' && depth > 0)) {
        problems.push(`${where}: operator ${key} is not allowed`);
        continue;
      }
    }
    checkOperators(inner, `${where}.${key}`, problems, depth + 1);
  }
}

function parseForExecution(query: string): MongoQuery {
  // Extended JSON ($date, $oid, …) becomes real BSON values; plain numbers stay numbers.
  let value: unknown;
  try {
    value = EJSON.parse(query, { relaxed: true }) as unknown;
  } catch (error) {
    throw new QueryExecutionError(`bad Extended JSON value: ${errorMessage(error)}`, undefined, true);
  }
  if (!isPlainObject(value) || typeof value.collection !== 'string') throw new QueryExecutionError('the query is not a MongoDB query object', undefined, true);
  return value as unknown as MongoQuery;
}

// ---- schema inference -----------------------------------------------------------------------------

export interface InferredField {
  path: string;
  /** BSON kinds seen, sorted: string, number, bool, date, objectId, object, array<…>, null, … */
  types: string[];
  /** Share of sampled documents holding the field, 0–100 (rounded). */
  presence: number;
  /** A low-cardinality string field's values. */
  sampleValues?: string[];
}

export function inferFields(docs: readonly Document[]): InferredField[] {
  const fields = new Map<string, { types: Set<string>; docs: number; values: Map<string, number>; strings: number }>();
  for (const doc of docs) {
    const seen = new Set<string>();
    const visit = (value: unknown, path: string, depth: number): void => {
      let field = fields.get(path);
      if (!field) {
        if (fields.size >= MAX_FIELDS_PER_COLLECTION) return;
        field = { types: new Set(), docs: 0, values: new Map(), strings: 0 };
        fields.set(path, field);
      }
      if (!seen.has(path)) {
        seen.add(path);
        field.docs++;
      }
      field.types.add(bsonKind(value));
      if (typeof value === 'string') {
        field.strings++;
        if (field.values.size <= 12 && value.length <= 80) field.values.set(value, (field.values.get(value) ?? 0) + 1);
      }
      if (depth >= MAX_NESTING) return;
      if (Array.isArray(value)) {
        // Fields of array elements are reachable with the same dotted path (items.price).
        for (const element of value) if (isPlainObject(element)) visitObject(element, path, depth + 1);
      } else if (isPlainObject(value)) visitObject(value, path, depth + 1);
    };
    const visitObject = (object: Record<string, unknown>, prefix: string, depth: number): void => {
      for (const [key, inner] of Object.entries(object)) visit(inner, prefix ? `${prefix}.${key}` : key, depth);
    };
    visitObject(doc, '', 0);
  }
  return [...fields.entries()].map(([path, f]) => {
    const presence = docs.length ? Math.round((f.docs / docs.length) * 100) : 0;
    const lowCardinality = f.values.size > 0 && f.values.size <= 12 && f.strings >= 5 && f.values.size < f.strings / 2;
    return {
      path,
      types: [...f.types].sort(),
      presence,
      ...(lowCardinality ? { sampleValues: [...f.values.entries()].sort((a, b) => b[1] - a[1]).map(([v]) => v) } : {}),
    };
  });
}

function bsonKind(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'long';
  if (value instanceof Date) return 'date';
  if (Array.isArray(value)) {
    const kinds = [...new Set(value.map(bsonKind))].sort();
    return `array<${kinds.length ? kinds.join('|') : 'empty'}>`;
  }
  const bsontype = (value as { _bsontype?: unknown })._bsontype;
  if (typeof bsontype === 'string') {
    switch (bsontype) {
      case 'ObjectId':
        return 'objectId';
      case 'Int32':
      case 'Double':
        return 'number';
      case 'Long':
        return 'long';
      case 'Decimal128':
        return 'decimal';
      case 'Binary':
        return 'binData';
      case 'BSONRegExp':
        return 'regex';
      case 'Timestamp':
        return 'timestamp';
      default:
        return bsontype.charAt(0).toLowerCase() + bsontype.slice(1);
    }
  }
  return 'object';
}

// ---- flattening -----------------------------------------------------------------------------------

/**
 * Turns documents into rows over a growing column list: nested objects become dotted columns, arrays JSON text,
 * dates ISO strings, ObjectIds hex. A column keeps its position once seen; new ones are appended.
 */
export class RowFlattener {
  readonly columns: ResultColumn[] = [];
  private readonly index = new Map<string, number>();

  add(docs: readonly Document[]): { rows: Cell[][]; grew: boolean } {
    const before = this.columns.length;
    const flat = docs.map((doc) => {
      const cells = new Map<string, Cell>();
      this.flatten(doc, '', cells, 0);
      return cells;
    });
    const rows = flat.map((cells) => {
      const row: Cell[] = new Array<Cell>(this.columns.length).fill(null);
      for (const [name, cell] of cells) row[this.index.get(name)!] = cell;
      return row;
    });
    return { rows, grew: this.columns.length > before };
  }

  private flatten(object: Record<string, unknown>, prefix: string, out: Map<string, Cell>, depth: number): void {
    const entries = Object.entries(object);
    if (prefix && entries.length === 0) {
      this.put(prefix, '{}', 'object', out);
      return;
    }
    for (const [key, value] of entries) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (isPlainObject(value) && depth < MAX_NESTING) this.flatten(value, path, out, depth + 1);
      else this.put(path, toCell(value), cellKind(value), out);
    }
  }

  private put(path: string, cell: Cell, kind: string, out: Map<string, Cell>): void {
    if (!this.index.has(path)) {
      this.index.set(path, this.columns.length);
      this.columns.push({ name: path, type: kind });
    }
    out.set(path, cell);
  }
}

function cellKind(value: unknown): string {
  const kind = bsonKind(value);
  return kind.startsWith('array<') ? 'array' : kind;
}

export function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  const bsontype = (value as { _bsontype?: unknown })._bsontype;
  if (bsontype === 'ObjectId') return (value as { toHexString(): string }).toHexString();
  if (bsontype === 'Int32' || bsontype === 'Double') return Number((value as { valueOf(): number }).valueOf());
  if (bsontype === 'Long' || bsontype === 'Decimal128') return String(value);
  return JSON.stringify(toJsonValue(value));
}

/** A JSON-friendly copy: dates as ISO strings, ObjectIds as hex, other BSON values in relaxed Extended JSON. */
function toJsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return value;
  const bsontype = (value as { _bsontype?: unknown })._bsontype;
  if (bsontype === 'ObjectId') return (value as { toHexString(): string }).toHexString();
  if (typeof bsontype === 'string') return EJSON.serialize(value, { relaxed: true });
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
}

/** `promise`, or a rejection with the abort reason as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return false;
  return typeof (value as { _bsontype?: unknown })._bsontype !== 'string';
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
