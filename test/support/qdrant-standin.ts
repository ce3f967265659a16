/**
 * A loopback stand-in for Qdrant's REST API, enough of it for the official `@qdrant/js-client-rest` client: collections
 * (list, info, exists, create), payload indexes, upsert, and search / query / scroll / count with REAL scoring
 * (Cosine, Dot, Euclid, Manhattan) and REAL filter evaluation (must / should / must_not, match, range, is_empty,
 * is_null, has_id, dotted keys). Every reply is `{result, status:"ok", time}`; errors are `{status:{error}, time}`.
 * Everything lives in memory; brute-force search over every point.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Distance = 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';
export type PointId = number | string;

interface VectorParams {
  size: number;
  distance: Distance;
}

interface StoredPoint {
  id: PointId;
  /** Vectors by name; the unnamed (default) vector is under ''. Cosine vectors are stored normalised, as Qdrant does. */
  vectors: Map<string, number[]>;
  payload: Record<string, unknown>;
}

interface Collection {
  name: string;
  /** Vector params by name; '' for a single unnamed vector. */
  vectors: Map<string, VectorParams>;
  /** True when created with `vectors: {size, distance}` (the unnamed form). */
  unnamed: boolean;
  points: Map<string, StoredPoint>;
  payloadSchema: Map<string, string>;
  raw: unknown;
}

export interface QdrantRecordedRequest {
  method: string;
  /** Path with its query string. */
  path: string;
  body: unknown;
}

export interface QdrantStandInOptions {
  /** When set, every request must carry this value in the `api-key` header (401 otherwise). */
  apiKey?: string;
  /** The version `GET /` reports. */
  version?: string;
}

/** An HTTP error the handler throws; answered as `{status:{error}, time}`. */
class QdrantError extends Error {
  constructor(readonly httpStatus: number, message: string) {
    super(message);
  }
}

const DISTANCES: readonly Distance[] = ['Cosine', 'Dot', 'Euclid', 'Manhattan'];
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export class QdrantStandIn {
  readonly requests: QdrantRecordedRequest[] = [];
  readonly collections = new Map<string, Collection>();
  private server: http.Server | undefined;
  private port: number | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly apiKey: string | undefined;
  private readonly version: string;
  private operationId = 0;

  constructor(options: QdrantStandInOptions = {}) {
    this.apiKey = options.apiKey;
    this.version = options.version ?? '1.15.0';
  }

  /** `http://127.0.0.1:PORT`, for `new QdrantClient({ url })`. */
  get url(): string {
    if (this.port === undefined) throw new Error('qdrant stand-in: call start() first');
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('qdrant stand-in: already started');
    const server = http.createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 500, { status: { error: `Service internal error: stand-in failure: ${String(error)}` }, time: 0 });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_error, socket) => socket.destroy());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and destroys every open socket (keep-alive ones included). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    server.closeAllConnections();
    await closed;
    this.server = undefined;
    this.port = undefined;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body: unknown;
    let bodyError: string | undefined;
    if (rawBody.trim()) {
      try {
        body = JSON.parse(rawBody);
      } catch (error) {
        bodyError = `Format error in JSON body: ${(error as Error).message}`;
      }
    }
    this.requests.push({ method, path: url.pathname + url.search, body });
    const time = (): number => Number(process.hrtime.bigint() - started) / 1e9;

    if (this.apiKey !== undefined && req.headers['api-key'] !== this.apiKey) {
      return send(res, 401, { status: { error: 'Must provide an API key or an Authorization bearer token' }, time: time() });
    }
    try {
      if (bodyError) throw new QdrantError(400, bodyError);
      const result = this.route(method, url, body);
      send(res, 200, { result, status: 'ok', time: time() });
    } catch (error) {
      if (error instanceof QdrantError) return send(res, error.httpStatus, { status: { error: error.message }, time: time() });
      throw error;
    }
  }

  private route(method: string, url: URL, body: unknown): unknown {
    const parts = url.pathname.split('/').filter(Boolean).map((part) => decodeURIComponent(part));
    if (parts.length === 0 && method === 'GET') return { title: 'qdrant - vector search engine', version: this.version, commit: '0000000000000000000000000000000000000000' };
    if (parts[0] === 'collections') {
      if (parts.length === 1 && method === 'GET') return { collections: [...this.collections.keys()].map((name) => ({ name })) };
      const name = parts[1];
      if (name !== undefined) {
        const rest = parts.slice(2).join('/');
        if (rest === '' && method === 'GET') return collectionInfo(this.collection(name));
        if (rest === '' && method === 'PUT') return this.createCollection(name, body);
        if (rest === '' && method === 'DELETE') return this.collections.delete(name);
        if (rest === 'exists' && method === 'GET') return { exists: this.collections.has(name) };
        if (rest === 'index' && method === 'PUT') return this.createIndex(this.collection(name), body);
        if (rest === 'points' && method === 'PUT') return this.upsert(this.collection(name), body);
        if (rest === 'points/search' && method === 'POST') return search(this.collection(name), requireObject(body));
        if (rest === 'points/query' && method === 'POST') return { points: query(this.collection(name), requireObject(body)) };
        if (rest === 'points/scroll' && method === 'POST') return scroll(this.collection(name), requireObject(body ?? {}));
        if (rest === 'points/count' && method === 'POST') {
          const filter = requireObject(body ?? {}).filter;
          return { count: [...this.collection(name).points.values()].filter((point) => matchesFilter(point, filter)).length };
        }
      }
    }
    throw new QdrantError(404, `Not found: no route for ${method} ${url.pathname}`);
  }

  private collection(name: string): Collection {
    const collection = this.collections.get(name);
    if (!collection) throw new QdrantError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return collection;
  }

  private createCollection(name: string, body: unknown): boolean {
    if (!/^[^/\\\s]{1,255}$/.test(name)) throw new QdrantError(400, `Validation error in path parameters: [name: invalid collection name]`);
    const spec = requireObject(body);
    if (this.collections.has(name)) throw new QdrantError(409, `Wrong input: Collection \`${name}\` already exists!`);
    const vectors = new Map<string, VectorParams>();
    let unnamed = false;
    if (isRecord(spec.vectors) && 'size' in spec.vectors) {
      vectors.set('', vectorParams(spec.vectors, 'vectors'));
      unnamed = true;
    } else if (isRecord(spec.vectors)) {
      for (const [vectorName, params] of Object.entries(spec.vectors)) vectors.set(vectorName, vectorParams(params, `vectors.${vectorName}`));
    } else if (spec.vectors !== undefined) {
      throw new QdrantError(400, 'Format error in JSON body: vectors: expected {size, distance} or named vectors');
    }
    this.collections.set(name, { name, vectors, unnamed, points: new Map(), payloadSchema: new Map(), raw: spec });
    return true;
  }

  private createIndex(collection: Collection, body: unknown): unknown {
    const spec = requireObject(body);
    if (typeof spec.field_name !== 'string' || !spec.field_name) throw new QdrantError(400, 'Format error in JSON body: missing field `field_name`');
    const schema = spec.field_schema;
    const type = typeof schema === 'string' ? schema : isRecord(schema) && typeof schema.type === 'string' ? schema.type : 'keyword';
    collection.payloadSchema.set(spec.field_name, type);
    return { operation_id: ++this.operationId, status: 'completed' };
  }

  private upsert(collection: Collection, body: unknown): unknown {
    const spec = requireObject(body);
    const incoming: Array<{ id: unknown; vector: unknown; payload: unknown }> = [];
    if (Array.isArray(spec.points)) {
      for (const point of spec.points) {
        if (!isRecord(point)) throw new QdrantError(400, 'Format error in JSON body: points: expected objects');
        incoming.push({ id: point.id, vector: point.vector, payload: point.payload });
      }
    } else if (isRecord(spec.batch) && Array.isArray(spec.batch.ids)) {
      const { ids, vectors, payloads } = spec.batch;
      ids.forEach((id, index) => {
        let vector: unknown;
        if (Array.isArray(vectors)) vector = vectors[index];
        else if (isRecord(vectors)) vector = Object.fromEntries(Object.entries(vectors).map(([name, list]) => [name, Array.isArray(list) ? list[index] : undefined]));
        incoming.push({ id, vector, payload: Array.isArray(payloads) ? payloads[index] : undefined });
      });
    } else {
      throw new QdrantError(400, 'Format error in JSON body: expected `points` or `batch`');
    }
    // Validate everything before writing anything, as one operation.
    const prepared = incoming.map((point) => {
      const id = pointId(point.id);
      const vectors = new Map<string, number[]>();
      const given = Array.isArray(point.vector) ? { '': point.vector } : isRecord(point.vector) ? point.vector : {};
      for (const [vectorName, value] of Object.entries(given)) {
        const params = collection.vectors.get(vectorName);
        if (!params) throw new QdrantError(400, `Wrong input: Not existing vector name error: ${vectorName || '(default)'}`);
        const vector = numberVector(value);
        if (vector.length !== params.size) throw new QdrantError(400, `Wrong input: Vector dimension error: expected dim: ${params.size}, got ${vector.length}`);
        vectors.set(vectorName, params.distance === 'Cosine' ? normalise(vector) : vector);
      }
      if (point.payload !== undefined && point.payload !== null && !isRecord(point.payload)) throw new QdrantError(400, 'Format error in JSON body: payload must be an object');
      return { id, vectors, payload: (point.payload ?? {}) as Record<string, unknown> };
    });
    for (const point of prepared) collection.points.set(idKey(point.id), point);
    return { operation_id: ++this.operationId, status: 'completed' };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// collection info

function collectionInfo(collection: Collection): unknown {
  const vectors = collection.unnamed
    ? { ...collection.vectors.get('')! }
    : Object.fromEntries([...collection.vectors].map(([name, params]) => [name, { ...params }]));
  const points = [...collection.points.values()];
  const payloadSchema = Object.fromEntries(
    [...collection.payloadSchema].map(([field, type]) => [field, { data_type: type, params: { type }, points: points.filter((point) => valuesAt(point.payload, field).length > 0).length }]),
  );
  return {
    status: 'green',
    optimizer_status: 'ok',
    vectors_count: points.reduce((sum, point) => sum + point.vectors.size, 0),
    indexed_vectors_count: 0,
    points_count: points.length,
    segments_count: 1,
    config: {
      params: { vectors, shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true },
      hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      optimizer_config: {
        deleted_threshold: 0.2,
        vacuum_min_vector_number: 1000,
        default_segment_number: 0,
        max_segment_size: null,
        memmap_threshold: null,
        indexing_threshold: 20000,
        flush_interval_sec: 5,
        max_optimization_threads: null,
      },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      quantization_config: null,
    },
    payload_schema: payloadSchema,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// search, query, scroll

interface ScoredPoint {
  point: StoredPoint;
  score: number;
}

function search(collection: Collection, body: Record<string, unknown>): unknown[] {
  let vectorName = '';
  let vector: unknown = body.vector;
  if (isRecord(body.vector)) {
    if (typeof body.vector.name !== 'string') throw new QdrantError(400, 'Format error in JSON body: vector.name must be a string');
    vectorName = body.vector.name;
    vector = body.vector.vector;
  }
  const scored = rank(collection, vectorName, numberVector(vector), body);
  return scored.map((hit) => scoredPoint(collection, hit, body));
}

function query(collection: Collection, body: Record<string, unknown>): unknown[] {
  if (body.prefetch !== undefined && body.prefetch !== null) throw new QdrantError(400, 'qdrant stand-in: `prefetch` is not implemented');
  const vectorName = typeof body.using === 'string' ? body.using : '';
  let q = body.query;
  if (isRecord(q) && 'nearest' in q) q = q.nearest;
  if (q === undefined || q === null) {
    // No query: points in id order, like scroll.
    const filtered = sortedPoints(collection).filter((point) => matchesFilter(point, body.filter));
    const offset = nonNegativeInt(body.offset, 0, 'offset');
    const limit = nonNegativeInt(body.limit, 10, 'limit');
    return filtered.slice(offset, offset + limit).map((point) => scoredPoint(collection, { point, score: 0 }, body, false));
  }
  let vector: number[];
  if (typeof q === 'number' || typeof q === 'string') {
    // A point id: search with that point's vector, excluding the point itself.
    const source = collection.points.get(idKey(pointId(q)));
    if (!source) throw new QdrantError(404, `Not found: No point with id ${String(q)} found`);
    const stored = source.vectors.get(vectorName);
    if (!stored) throw new QdrantError(400, `Wrong input: Vector ${vectorName || '(default)'} is not found in point ${String(q)}`);
    vector = stored;
    const scored = rank(collection, vectorName, vector, body, idKey(source.id));
    return scored.map((hit) => scoredPoint(collection, hit, body, false));
  }
  vector = numberVector(q);
  return rank(collection, vectorName, vector, body).map((hit) => scoredPoint(collection, hit, body, false));
}

function rank(collection: Collection, vectorName: string, query: number[], body: Record<string, unknown>, excludeKey?: string): ScoredPoint[] {
  const params = collection.vectors.get(vectorName);
  if (!params) throw new QdrantError(400, `Wrong input: Not existing vector name error: ${vectorName || '(default)'}`);
  if (query.length !== params.size) throw new QdrantError(400, `Wrong input: Vector dimension error: expected dim: ${params.size}, got ${query.length}`);
  const q = params.distance === 'Cosine' ? normalise(query) : query;
  const ascending = params.distance === 'Euclid' || params.distance === 'Manhattan';
  const threshold = typeof body.score_threshold === 'number' ? body.score_threshold : undefined;
  const hits: ScoredPoint[] = [];
  for (const [key, point] of collection.points) {
    if (key === excludeKey) continue;
    const vector = point.vectors.get(vectorName);
    if (!vector || !matchesFilter(point, body.filter)) continue;
    const score = similarity(params.distance, q, vector);
    if (threshold !== undefined && (ascending ? score > threshold : score < threshold)) continue;
    hits.push({ point, score });
  }
  hits.sort((a, b) => (ascending ? a.score - b.score : b.score - a.score) || compareIds(a.point.id, b.point.id));
  const offset = nonNegativeInt(body.offset, 0, 'offset');
  const limit = nonNegativeInt(body.limit, 10, 'limit');
  return hits.slice(offset, offset + limit);
}

function scroll(collection: Collection, body: Record<string, unknown>): unknown {
  if (body.order_by !== undefined && body.order_by !== null) throw new QdrantError(400, 'qdrant stand-in: `order_by` is not implemented');
  const limit = nonNegativeInt(body.limit, 10, 'limit');
  let points = sortedPoints(collection).filter((point) => matchesFilter(point, body.filter));
  if (body.offset !== undefined && body.offset !== null) {
    const from = pointId(body.offset);
    points = points.filter((point) => compareIds(point.id, from) >= 0);
  }
  const page = points.slice(0, limit);
  const next = points[limit];
  return {
    points: page.map((point) => record(collection, point, body, body.with_payload ?? true)),
    next_page_offset: next ? next.id : null,
  };
}

function scoredPoint(collection: Collection, hit: ScoredPoint, body: Record<string, unknown>, payloadDefault = true): Record<string, unknown> {
  return { ...record(collection, hit.point, body, body.with_payload ?? payloadDefault), version: 0, score: hit.score };
}

function record(collection: Collection, point: StoredPoint, body: Record<string, unknown>, withPayload: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { id: point.id };
  out.payload = selectPayload(point.payload, withPayload);
  const withVector = body.with_vector;
  if (withVector === true || Array.isArray(withVector)) {
    const names = Array.isArray(withVector) ? withVector.filter((name): name is string => typeof name === 'string') : [...point.vectors.keys()];
    if (collection.unnamed) out.vector = point.vectors.get('') ?? null;
    else out.vector = Object.fromEntries(names.filter((name) => point.vectors.has(name)).map((name) => [name, point.vectors.get(name)]));
  } else {
    out.vector = null;
  }
  return out;
}

function selectPayload(payload: Record<string, unknown>, selector: unknown): Record<string, unknown> | null {
  if (selector === false || selector === undefined || selector === null) return null;
  if (selector === true) return structuredClone(payload);
  if (Array.isArray(selector)) return pick(payload, selector.filter((key): key is string => typeof key === 'string'));
  if (isRecord(selector)) {
    if (Array.isArray(selector.include)) return pick(payload, selector.include.filter((key): key is string => typeof key === 'string'));
    if (Array.isArray(selector.exclude)) {
      const copy = structuredClone(payload);
      for (const key of selector.exclude) if (typeof key === 'string') delete copy[key.split('.')[0]!];
      return copy;
    }
  }
  return structuredClone(payload);
}

function pick(payload: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const top = key.split('.')[0]!;
    if (top in payload) out[top] = structuredClone(payload[top]);
  }
  return out;
}

function sortedPoints(collection: Collection): StoredPoint[] {
  return [...collection.points.values()].sort((a, b) => compareIds(a.id, b.id));
}

// ---------------------------------------------------------------------------------------------------------------
// scoring

function similarity(distance: Distance, a: number[], b: number[]): number {
  switch (distance) {
    case 'Cosine':
    case 'Dot': {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
      return sum;
    }
    case 'Euclid': {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
      return Math.sqrt(sum);
    }
    case 'Manhattan': {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
      return sum;
    }
  }
}

function normalise(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  return norm === 0 ? [...vector] : vector.map((x) => x / norm);
}

// ---------------------------------------------------------------------------------------------------------------
// filters

/** Evaluates a Qdrant filter (`must` / `should` / `must_not` / `min_should`) against a point. */
export function matchesFilter(point: { id: PointId; payload: Record<string, unknown> }, filter: unknown): boolean {
  if (filter === undefined || filter === null) return true;
  if (!isRecord(filter)) throw new QdrantError(400, 'Format error in JSON body: filter must be an object');
  const list = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);
  const must = list(filter.must);
  const should = list(filter.should);
  const mustNot = list(filter.must_not);
  if (!must.every((condition) => matchesCondition(point, condition))) return false;
  if (should.length > 0 && !should.some((condition) => matchesCondition(point, condition))) return false;
  if (mustNot.some((condition) => matchesCondition(point, condition))) return false;
  if (isRecord(filter.min_should)) {
    const conditions = list(filter.min_should.conditions);
    const needed = typeof filter.min_should.min_count === 'number' ? filter.min_should.min_count : 1;
    if (conditions.filter((condition) => matchesCondition(point, condition)).length < needed) return false;
  }
  return true;
}

function matchesCondition(point: { id: PointId; payload: Record<string, unknown> }, condition: unknown): boolean {
  if (!isRecord(condition)) throw new QdrantError(400, 'Format error in JSON body: a filter condition must be an object');
  if ('must' in condition || 'should' in condition || 'must_not' in condition || 'min_should' in condition) return matchesFilter(point, condition);
  if ('has_id' in condition) {
    if (!Array.isArray(condition.has_id)) throw new QdrantError(400, 'Format error in JSON body: has_id must be a list');
    const key = idKey(point.id);
    return condition.has_id.some((id) => idKey(pointId(id)) === key);
  }
  if ('is_empty' in condition) {
    const key = fieldKey(condition.is_empty);
    return valuesAt(point.payload, key).filter((value) => value !== null).length === 0;
  }
  if ('is_null' in condition) {
    const key = fieldKey(condition.is_null);
    return rawAt(point.payload, key).some((value) => value === null);
  }
  if ('nested' in condition && isRecord(condition.nested)) {
    const key = fieldKey(condition.nested);
    const items = valuesAt(point.payload, key).filter(isRecord);
    return items.some((item) => matchesFilter({ id: point.id, payload: item }, condition.nested && (condition.nested as Record<string, unknown>).filter));
  }
  if (typeof condition.key === 'string') return matchesField(point.payload, condition.key, condition);
  throw new QdrantError(400, `Format error in JSON body: unknown filter condition ${JSON.stringify(condition)}`);
}

function fieldKey(spec: unknown): string {
  if (isRecord(spec) && typeof spec.key === 'string') return spec.key;
  throw new QdrantError(400, 'Format error in JSON body: expected {key}');
}

function matchesField(payload: Record<string, unknown>, key: string, condition: Record<string, unknown>): boolean {
  const values = valuesAt(payload, key).filter((value) => value !== null);
  let handled = false;
  if (condition.match !== undefined) {
    handled = true;
    if (!isRecord(condition.match)) throw new QdrantError(400, 'Format error in JSON body: match must be an object');
    const match = condition.match;
    if ('value' in match) {
      if (!values.some((value) => value === match.value)) return false;
    } else if ('any' in match) {
      if (!Array.isArray(match.any)) throw new QdrantError(400, 'Format error in JSON body: match.any must be a list');
      const any = match.any;
      if (!values.some((value) => any.includes(value))) return false;
    } else if ('except' in match) {
      if (!Array.isArray(match.except)) throw new QdrantError(400, 'Format error in JSON body: match.except must be a list');
      const except = match.except;
      if (values.some((value) => except.includes(value))) return false;
    } else if ('text' in match || 'phrase' in match) {
      const text = String(match.text ?? match.phrase).toLowerCase();
      if (!values.some((value) => typeof value === 'string' && value.toLowerCase().includes(text))) return false;
    } else {
      throw new QdrantError(400, 'Format error in JSON body: unknown match');
    }
  }
  if (condition.range !== undefined) {
    handled = true;
    if (!isRecord(condition.range)) throw new QdrantError(400, 'Format error in JSON body: range must be an object');
    const range = condition.range;
    const bound = (name: string): number | undefined => {
      const value = range[name];
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
      throw new QdrantError(400, `Format error in JSON body: range.${name} must be a number`);
    };
    const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
    const inRange = (raw: unknown): boolean => {
      const x = typeof raw === 'number' ? raw : typeof raw === 'string' && (typeof range.gt === 'string' || typeof range.gte === 'string' || typeof range.lt === 'string' || typeof range.lte === 'string') ? Date.parse(raw) : Number.NaN;
      if (Number.isNaN(x)) return false;
      return (gt === undefined || x > gt) && (gte === undefined || x >= gte) && (lt === undefined || x < lt) && (lte === undefined || x <= lte);
    };
    if (!values.some(inRange)) return false;
  }
  if (condition.values_count !== undefined && isRecord(condition.values_count)) {
    handled = true;
    const count = values.length;
    const vc = condition.values_count;
    const num = (name: string): number | undefined => (typeof vc[name] === 'number' ? (vc[name] as number) : undefined);
    const [gt, gte, lt, lte] = [num('gt'), num('gte'), num('lt'), num('lte')];
    if (!((gt === undefined || count > gt) && (gte === undefined || count >= gte) && (lt === undefined || count < lt) && (lte === undefined || count <= lte))) return false;
  }
  if (!handled) throw new QdrantError(400, `Format error in JSON body: field condition on \`${key}\` has no match/range`);
  return true;
}

/** The values at a dotted key (`a.b`, `a[].b`), arrays flattened: what Qdrant's conditions test against. */
function valuesAt(payload: Record<string, unknown>, key: string): unknown[] {
  return rawAt(payload, key).flatMap((value) => (Array.isArray(value) ? value : [value]));
}

/** The values at a dotted key without flattening the last level. */
function rawAt(payload: Record<string, unknown>, key: string): unknown[] {
  let current: unknown[] = [payload];
  for (const segment of key.split('.')) {
    const name = segment.endsWith('[]') ? segment.slice(0, -2) : segment;
    const next: unknown[] = [];
    for (const value of current) {
      const holders = Array.isArray(value) ? value : [value];
      for (const holder of holders) {
        if (isRecord(holder) && name in holder) next.push(holder[name]);
      }
    }
    current = next;
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

function pointId(value: unknown): PointId {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && UUID.test(value)) return canonicalUuid(value);
  throw new QdrantError(400, `Format error in JSON body: value ${JSON.stringify(value)} is not a valid point ID, valid values are either an unsigned integer or a UUID`);
}

function canonicalUuid(value: string): string {
  const hex = value.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function idKey(id: PointId): string {
  return typeof id === 'number' ? `n:${id}` : `u:${id}`;
}

/** Integer ids first (numerically), then UUIDs (lexically), as Qdrant orders them. */
function compareIds(a: PointId, b: PointId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function vectorParams(value: unknown, where: string): VectorParams {
  if (!isRecord(value) || typeof value.size !== 'number' || !Number.isInteger(value.size) || value.size < 1) {
    throw new QdrantError(400, `Format error in JSON body: ${where}.size must be a positive integer`);
  }
  if (typeof value.distance !== 'string' || !DISTANCES.includes(value.distance as Distance)) {
    throw new QdrantError(400, `Format error in JSON body: ${where}.distance: unknown variant \`${String(value.distance)}\`, expected one of ${DISTANCES.map((d) => `\`${d}\``).join(', ')}`);
  }
  return { size: value.size, distance: value.distance as Distance };
}

function numberVector(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new QdrantError(400, 'Format error in JSON body: a vector must be a non-empty list of numbers');
  }
  return value as number[];
}

function nonNegativeInt(value: unknown, fallback: number, name: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new QdrantError(400, `Format error in JSON body: ${name} must be a non-negative integer`);
  return value;
}

function requireObject(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new QdrantError(400, 'Format error in JSON body: expected a JSON object');
  return body;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length });
  res.end(payload);
}
