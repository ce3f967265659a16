/**
 * The Qdrant source end to end: the real `@qdrant/js-client-rest` client against the Qdrant stand-in (or a real
 * server when CENECA_QDRANT_URL is set, with uniquely named collections created and dropped here), the real
 * pipeline, and the OpenAI stand-in for both the model and the embeddings. Point vectors are the stand-in's
 * deterministic embeddings of their text, so a question's embedding really ranks them; the expected top k is
 * computed here independently.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { QdrantClient } from '@qdrant/js-client-rest';
import type { Engine } from '../../src/core/engine';
import type { CenecaEvent } from '../../src/core/events';
import { QdrantSource, type QdrantSourceOptions } from '../../src/core/sources/qdrant';
import { deterministicEmbedding } from '../support/openai-standin';
import { QdrantStandIn } from '../support/qdrant-standin';
import { OpenAIStandIn, askAndCollect, makeEngine, ofType, openAIProvider, terminal, jsonReply, recordsOf, rowsOf } from '../support/fixtures';

const REAL_URL = process.env.CENECA_QDRANT_URL;
const REAL_KEY = process.env.CENECA_QDRANT_API_KEY || undefined;
const RUN = `${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
const named = (base: string): string => (REAL_URL ? `ceneca_test_${base}_${RUN}` : base);
const PRODUCTS = named('products');
const ARTICLES = named('articles');
const LEGACY = named('legacy_docs');
const EMBEDDING_MODEL = 'stand-in-embedder';

// ---- seed data --------------------------------------------------------------------------------------------------

const CATEGORIES = ['kitchen', 'garden', 'office', 'outdoor'] as const;
const NOUNS: Record<(typeof CATEGORIES)[number], string[]> = {
  kitchen: ['kettle', 'pan', 'knife', 'toaster', 'blender', 'mug'],
  garden: ['hose', 'shovel', 'rake', 'planter', 'sprinkler', 'shears'],
  office: ['desk', 'chair', 'lamp', 'stapler', 'notebook', 'monitor'],
  outdoor: ['tent', 'lantern', 'backpack', 'stove', 'hammock', 'bottle'],
};
const MATERIALS = ['steel', 'bamboo', 'ceramic', 'plastic', 'glass', 'copper', 'oak', 'canvas', 'aluminium', 'wool'];
const ADJECTIVES = ['compact', 'sturdy', 'elegant', 'foldable', 'vintage', 'lightweight'];
const BRANDS = ['Acme', 'Borealis', 'Cobalt', 'Dune', 'Ember'];
const COUNTRIES = ['DE', 'PT', 'JP'];
const PRODUCT_COUNT = 240;
/** Products from this id on carry a `discontinued` flag the earlier ones lack. */
const DISCONTINUED_FROM = 181;

interface Product {
  id: number;
  payload: {
    name: string;
    description: string;
    category: string;
    price: number;
    stock: number;
    tags: string[];
    brand: { name: string; country: string };
    discontinued?: boolean;
  };
}

const PRODUCT_SEED: Product[] = Array.from({ length: PRODUCT_COUNT }, (_, index) => {
  const id = index + 1;
  const category = CATEGORIES[id % 4]!;
  const noun = NOUNS[category][Math.floor(id / 4) % 6]!;
  const material = MATERIALS[(id * 7) % 10]!;
  const adjective = ADJECTIVES[(id * 5) % 6]!;
  return {
    id,
    payload: {
      name: `${adjective} ${material} ${noun}`,
      description: `A ${adjective} ${noun} made of ${material} for the ${category}, item ${id}`,
      category,
      price: Math.round((5 + ((id * 37) % 200) + 0.99) * 100) / 100,
      stock: id % 13,
      tags: [material, category],
      brand: { name: BRANDS[id % 5]!, country: COUNTRIES[id % 3]! },
      ...(id >= DISCONTINUED_FROM ? { discontinued: id % 2 === 0 } : {}),
    },
  };
});

const TOPICS = ['databases', 'gardening', 'astronomy', 'cooking', 'cycling', 'music'];
const ARTICLE_SEED = Array.from({ length: 30 }, (_, index) => {
  const id = index + 1;
  const topic = TOPICS[id % 6]!;
  const other = TOPICS[(id + 3) % 6]!;
  // Titles and bodies talk about different topics, so the chosen vector decides the ranking.
  return { id, title: `Notes on ${topic} number ${id}`, body: `A long essay about ${other} and more ${other}, part ${id}`, author: `author${id % 4}` };
});

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

interface Ranked {
  id: number;
  score: number;
}

/** The expected ranking, computed here: cosine of unit vectors (= dot), best first, ties by id. */
function rank<T extends { id: number }>(points: readonly T[], text: (p: T) => string, queryText: string, keep: (p: T) => boolean = () => true): Ranked[] {
  const query = deterministicEmbedding(queryText);
  return points
    .filter(keep)
    .map((p) => ({ id: p.id, score: dot(query, deterministicEmbedding(text(p))) }))
    .sort((a, b) => b.score - a.score || a.id - b.id);
}

/** The rows are the top k of `expected`: same score sequence, each id with its own score, the same set unless tied at the cut. */
function assertTopK(records: Record<string, unknown>[], expected: Ranked[], k: number): void {
  assert.equal(records.length, Math.min(k, expected.length), `${records.length} rows`);
  const byId = new Map(expected.map((e) => [e.id, e.score]));
  records.forEach((record, i) => {
    const score = Number(record.score);
    assert.ok(Math.abs(score - expected[i]!.score) < 1e-4, `row ${i}: score ${score}, expected ${expected[i]!.score}`);
    const own = byId.get(Number(record.id));
    assert.ok(own !== undefined && Math.abs(own - score) < 1e-4, `row ${i}: id ${String(record.id)} scores ${own} here, ${score} in the result`);
  });
  if (expected.length <= k || expected[k - 1]!.score - expected[k]!.score > 1e-4) {
    assert.deepEqual(new Set(records.map((r) => Number(r.id))), new Set(expected.slice(0, k).map((e) => e.id)));
  }
}

// ---- helpers ----------------------------------------------------------------------------------------------------

function errorOf(events: readonly CenecaEvent[]): { code: string; phase: string; message: string; suggestion?: string } {
  const done = terminal(events);
  assert.equal(done.type, 'error', `expected an error, got ${JSON.stringify(done)}`);
  if (done.type !== 'error') throw new Error('unreachable');
  return done;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A proxy in front of Qdrant that forwards every request except searches (`/points/query`), which it holds without
 * ever answering: for time limits and for cancels that must close the HTTP request.
 */
class StallingProxy {
  private server?: http.Server;
  /** Held searches; each flips to `closed: true` when the client gives up on it. */
  readonly held: Array<{ closed: boolean }> = [];

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    const target = new URL(this.target);
    this.server = http.createServer((req, res) => {
      if (/\/points\/query/.test(req.url ?? '')) {
        const entry = { closed: false };
        this.held.push(entry);
        res.on('close', () => (entry.closed = true));
        return;
      }
      const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('Qdrant source', function () {
  this.timeout(30_000);
  let standIn: QdrantStandIn | undefined;
  let url: string;
  let admin: QdrantClient;
  let openai: OpenAIStandIn;
  const engines: Engine[] = [];
  const sources: QdrantSource[] = [];

  function source(options: Partial<QdrantSourceOptions> = {}): QdrantSource {
    const created = new QdrantSource({
      id: 'vectors',
      name: 'Vector store',
      url,
      ...(REAL_KEY ? { apiKey: REAL_KEY } : {}),
      embeddings: { baseURL: openai.baseURL, model: EMBEDDING_MODEL, apiKey: 'test' },
      ...options,
    });
    sources.push(created);
    return created;
  }

  function engineFor(options: Partial<QdrantSourceOptions> = {}): Engine {
    const engine = makeEngine([source(options)], openAIProvider(openai), { analysis: false });
    engines.push(engine);
    return engine;
  }

  /** Search and scroll requests the stand-in received for a collection (introspection's sample scroll included). */
  function pointRequests(collection: string, kind: 'query' | 'scroll'): number {
    return standIn?.requests.filter((r) => r.path.startsWith(`/collections/${collection}/points/${kind}`)).length ?? 0;
  }

  before(async () => {
    if (REAL_URL) {
      url = REAL_URL;
    } else {
      standIn = new QdrantStandIn();
      await standIn.start();
      url = standIn.url;
    }
    admin = new QdrantClient({ url, ...(REAL_KEY ? { apiKey: REAL_KEY } : {}), checkCompatibility: false });
    for (const name of [PRODUCTS, ARTICLES, LEGACY]) await admin.deleteCollection(name).catch(() => undefined);

    await admin.createCollection(PRODUCTS, { vectors: { size: 64, distance: 'Cosine' } });
    await admin.upsert(PRODUCTS, { wait: true, points: PRODUCT_SEED.map((p) => ({ id: p.id, vector: deterministicEmbedding(p.payload.description), payload: p.payload })) });
    await admin.createPayloadIndex(PRODUCTS, { field_name: 'category', field_schema: 'keyword', wait: true });
    await admin.createPayloadIndex(PRODUCTS, { field_name: 'price', field_schema: 'float', wait: true });
    // Indexed but held by no point: known only from payload_schema.
    await admin.createPayloadIndex(PRODUCTS, { field_name: 'warehouse', field_schema: 'keyword', wait: true });

    await admin.createCollection(ARTICLES, { vectors: { title: { size: 64, distance: 'Cosine' }, body: { size: 64, distance: 'Dot' } } });
    await admin.upsert(ARTICLES, {
      wait: true,
      points: ARTICLE_SEED.map((a) => ({ id: a.id, vector: { title: deterministicEmbedding(a.title), body: deterministicEmbedding(a.body) }, payload: { title: a.title, author: a.author } })),
    });

    // Built with another (32-dimensional) embedding model.
    await admin.createCollection(LEGACY, { vectors: { size: 32, distance: 'Cosine' } });
    await admin.upsert(LEGACY, { wait: true, points: [1, 2, 3].map((id) => ({ id, vector: deterministicEmbedding(`legacy document ${id}`, 32), payload: { text: `legacy document ${id}` } })) });
  });
  after(async () => {
    if (REAL_URL) for (const name of [PRODUCTS, ARTICLES, LEGACY]) await admin.deleteCollection(name).catch(() => undefined);
    await standIn?.stop();
  });
  beforeEach(async () => {
    openai = new OpenAIStandIn([]);
    await openai.start();
  });
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    for (const s of sources.splice(0)) await s.close();
    await openai.stop();
  });

  it('a similarity search streams its JSON (qdrant), embeds query_text and returns the true top k with scores', async () => {
    const search = { collection: PRODUCTS, query_text: 'steel kettle for the kitchen', limit: 5 };
    openai.push({ match: /Question: Which products are most like a steel kettle/, text: jsonReply(search), chunkSize: 7 });
    const events = await askAndCollect(engineFor(), { question: 'Which products are most like a steel kettle?' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));

    const partial = ofType(events, 'partial_query');
    assert.ok(partial.length > 1, 'the JSON streams in several deltas');
    assert.ok(partial.every((e) => e.language === 'qdrant'));
    assert.ok(partial.every((e, i) => i === 0 || e.text.startsWith(partial[i - 1]!.text)), 'the query text only grows');
    assert.deepEqual(JSON.parse(ofType(events, 'query_complete')[0]!.query), search);
    assert.equal(ofType(events, 'query_validated')[0]!.ok, true);

    const expected = rank(PRODUCT_SEED, (p) => p.payload.description, search.query_text);
    assert.ok(expected[0]!.score > expected[10]!.score + 0.1, 'the question really ranks the products');
    const records = recordsOf(events);
    assertTopK(records, expected, 5);
    assert.match(String(records[0]!.description), /kettle|steel|kitchen/);

    const columns = ofType(events, 'partial_results')[0]!.columns!.map((c) => c.name);
    assert.deepEqual(columns.slice(0, 2), ['id', 'score']);
    for (const name of ['name', 'description', 'category', 'price', 'stock', 'tags', 'brand.name', 'brand.country']) assert.ok(columns.includes(name), `column ${name} in ${columns.join(', ')}`);
    const first = records[0]!;
    const product = PRODUCT_SEED.find((p) => p.id === Number(first.id))!;
    assert.deepEqual(JSON.parse(String(first.tags)), product.payload.tags, 'arrays become JSON text');
    assert.equal(first['brand.country'], product.payload.brand.country);

    const embeddingCalls = openai.requests.filter((r) => r.path === '/v1/embeddings');
    assert.equal(embeddingCalls.length, 1);
    assert.deepEqual((embeddingCalls[0]!.body as { input: unknown; model: unknown }).input, [search.query_text]);
    assert.equal((embeddingCalls[0]!.body as { model: unknown }).model, EMBEDDING_MODEL);
    if (standIn) {
      const query = standIn.requests.find((r) => r.path.startsWith(`/collections/${PRODUCTS}/points/query`))!;
      assert.equal((query.body as { limit: number }).limit, 5);
      assert.equal((query.body as { with_payload: unknown }).with_payload, true);
    }

    const prompt = openai.requests.find((r) => r.text.includes('Which products are most like'))!.text;
    assert.match(prompt, new RegExp(`<data kind="schema">[\\s\\S]*collection ${PRODUCTS} \\(~${PRODUCT_COUNT} points\\) -- vector: 64-d Cosine[\\s\\S]*category string -- present in 100%; indexed \\(keyword\\)[\\s\\S]*</data>`));
    assert.match(prompt, /```json/);
    assert.match(prompt, /"query_text"/);
    const chunk = ofType(events, 'schema_chunks')[0]!.chunks.find((c) => c.name === PRODUCTS);
    assert.equal(chunk?.kind, 'collection');
  });

  it('a similarity search with a filter ranks only the matching points', async () => {
    const filter = { must: [{ key: 'category', match: { value: 'outdoor' } }, { key: 'price', range: { lt: 120 } }], must_not: [{ key: 'brand.country', match: { value: 'JP' } }] };
    const search = { collection: PRODUCTS, query_text: 'lightweight aluminium bottle', filter, limit: 8 };
    openai.push({ match: /Question: Cheap outdoor bottles/, text: jsonReply(search) });
    const events = await askAndCollect(engineFor(), { question: 'Cheap outdoor bottles like a lightweight aluminium bottle, not from Japan' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    const keep = (p: Product): boolean => p.payload.category === 'outdoor' && p.payload.price < 120 && p.payload.brand.country !== 'JP';
    const expected = rank(PRODUCT_SEED, (p) => p.payload.description, search.query_text, keep);
    assert.ok(expected.length > 8);
    const records = recordsOf(events);
    assertTopK(records, expected, 8);
    for (const record of records) {
      assert.equal(record.category, 'outdoor');
      assert.ok(Number(record.price) < 120);
      assert.notEqual(record['brand.country'], 'JP');
    }
  });

  it('a filter-only search scrolls page by page (next_page_offset) in id order; a field first seen later adds a column', async () => {
    const search = { collection: PRODUCTS, query_text: null, filter: { must: [{ key: 'price', range: { gte: 100 } }] } };
    openai.push({ match: /Question: List every product costing 100 or more/, text: jsonReply(search) });
    const scrollsBefore = pointRequests(PRODUCTS, 'scroll');
    const events = await askAndCollect(engineFor({ pageSize: 50 }), { question: 'List every product costing 100 or more' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));

    const expectedIds = PRODUCT_SEED.filter((p) => p.payload.price >= 100).map((p) => p.id);
    assert.ok(expectedIds.length > 100, `${expectedIds.length} matching products span several pages`);
    const records = recordsOf(events);
    assert.deepEqual(records.map((r) => Number(r.id)), expectedIds);
    assert.equal(done.type === 'complete' && done.summary.rowCount, expectedIds.length);
    assert.equal(ofType(events, 'result_complete')[0]!.truncated, false);
    assert.equal(openai.requests.filter((r) => r.path === '/v1/embeddings').length, 0, 'nothing to embed');

    const batches = ofType(events, 'partial_results');
    assert.equal(batches.length, Math.ceil(expectedIds.length / 50));
    const firstColumns = batches[0]!.columns!.map((c) => c.name);
    assert.equal(firstColumns[0], 'id');
    assert.ok(!firstColumns.includes('score'), 'a scroll has no score');
    assert.ok(!firstColumns.includes('discontinued'), 'not in the first page');
    const grown = batches.findIndex((b) => b.columns?.some((c) => c.name === 'discontinued'));
    assert.ok(grown > 0, 'a later batch adds the column');
    assert.deepEqual(batches[grown]!.columns!.slice(0, firstColumns.length).map((c) => c.name), firstColumns, 'earlier columns keep their place');
    const late = records.find((r) => Number(r.id) >= DISCONTINUED_FROM)!;
    assert.equal(late.discontinued, PRODUCT_SEED[Number(late.id) - 1]!.payload.discontinued);
    assert.equal(records[0]!.discontinued, null);
    if (standIn) {
      assert.equal(pointRequests(PRODUCTS, 'scroll') - scrollsBefore - 1, batches.length, 'one scroll per page (after the introspection sample)');
      const offsets = standIn.requests.filter((r) => r.path.startsWith(`/collections/${PRODUCTS}/points/scroll`)).slice(-batches.length).map((r) => (r.body as { offset?: unknown }).offset);
      assert.equal(offsets[0], undefined);
      assert.ok(offsets.slice(1).every((o) => typeof o === 'number'), `pages continue from next_page_offset: ${JSON.stringify(offsets)}`);
    }
  });

  it('a filter-only search stops at the row cap and says the result was truncated', async () => {
    openai.push({ match: /Question: All kitchen products/, text: jsonReply({ collection: PRODUCTS, query_text: null, filter: { must: [{ key: 'category', match: { value: 'kitchen' } }] } }) });
    const events = await askAndCollect(engineFor({ pageSize: 20 }), { question: 'All kitchen products', maxRows: 25 });
    assert.equal(terminal(events).type, 'complete');
    const records = recordsOf(events);
    assert.deepEqual(records.map((r) => Number(r.id)), PRODUCT_SEED.filter((p) => p.payload.category === 'kitchen').slice(0, 25).map((p) => p.id));
    assert.equal(ofType(events, 'result_complete')[0]!.truncated, true);
  });

  it('named vectors: the search uses the vector named in "using" (else the first), and ranks by it', async () => {
    const bodySearch = { collection: ARTICLES, query_text: 'essay about astronomy', using: 'body', limit: 4 };
    openai.push({ match: /Question: Articles whose text is about astronomy/, text: jsonReply(bodySearch) });
    const events = await askAndCollect(engineFor(), { question: 'Articles whose text is about astronomy' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assertTopK(recordsOf(events), rank(ARTICLE_SEED, (a) => a.body, bodySearch.query_text), 4);
    assert.notDeepEqual(
      rank(ARTICLE_SEED, (a) => a.body, bodySearch.query_text).slice(0, 4).map((r) => r.id),
      rank(ARTICLE_SEED, (a) => a.title, bodySearch.query_text).slice(0, 4).map((r) => r.id),
      'title and body rank differently, so the vector used matters',
    );
    if (standIn) assert.equal((standIn.requests.filter((r) => r.path.startsWith(`/collections/${ARTICLES}/points/query`)).at(-1)!.body as { using?: unknown }).using, 'body');

    // Without "using": the first named vector, filled in by validation so the query says which.
    openai.push({ match: /Question: Articles titled about cycling/, text: jsonReply({ collection: ARTICLES, query_text: 'notes on cycling', limit: 3 }) });
    const second = await askAndCollect(engineFor(), { question: 'Articles titled about cycling' });
    const secondDone = terminal(second);
    assert.equal(secondDone.type, 'complete', JSON.stringify(secondDone));
    assert.equal(JSON.parse((secondDone.type === 'complete' && secondDone.summary.query) || '{}').using, 'title');
    assertTopK(recordsOf(second), rank(ARTICLE_SEED, (a) => a.title, 'notes on cycling'), 3);

    const prompt = openai.requests.find((r) => r.text.includes('Articles whose text'))!.text;
    assert.match(prompt, new RegExp(`collection ${ARTICLES} .*named vectors \\(for "using"\\): title \\(64-d Cosine\\), body \\(64-d Dot\\)`));
  });

  it('an unknown vector name is a validation problem the model corrects', async () => {
    openai.push(
      { match: /Question: Articles about music/, text: jsonReply({ collection: ARTICLES, query_text: 'music', using: 'summary' }) },
      { match: /unknown vector "summary" in collection .*; its vectors are: title, body/, text: jsonReply({ collection: ARTICLES, query_text: 'music', using: 'title', limit: 2 }) },
    );
    const events = await askAndCollect(engineFor(), { question: 'Articles about music' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assert.deepEqual(ofType(events, 'query_validated').map((v) => v.ok), [false, true]);
  });

  it('an unknown collection is corrected once by the model', async () => {
    openai.push(
      { match: /Question: Show me garden tools like a rake/, text: jsonReply({ collection: 'catalog', query_text: 'garden rake', limit: 3 }) },
      { match: new RegExp(`unknown collection "catalog"; the collections are: .*${PRODUCTS}`), text: jsonReply({ collection: PRODUCTS, query_text: 'garden rake', limit: 3 }) },
    );
    const events = await askAndCollect(engineFor(), { question: 'Show me garden tools like a rake' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    assert.deepEqual(ofType(events, 'query_validated').map((v) => v.ok), [false, true]);
    const recoverable = ofType(events, 'error');
    assert.equal(recoverable.length, 1);
    assert.equal(recoverable[0]!.recoverable, true);
    assert.equal(recoverable[0]!.code, 'validation_failed');
    assert.equal(ofType(events, 'query_complete').length, 2);
    assertTopK(recordsOf(events), rank(PRODUCT_SEED, (p) => p.payload.description, 'garden rake'), 3);
  });

  it('a collection dropped after introspection: Qdrant\'s 404 goes back to the model, which sees the fresh list', async () => {
    const doomed = named('doomed');
    await admin.createCollection(doomed, { vectors: { size: 64, distance: 'Cosine' } });
    await admin.upsert(doomed, { wait: true, points: [{ id: 1, vector: deterministicEmbedding('kettle'), payload: { name: 'kettle' } }] });
    const engine = engineFor();
    const qdrant = sources[sources.length - 1]!;
    assert.ok((await qdrant.introspect()).tables.some((t) => t.name === doomed));
    await admin.deleteCollection(doomed);
    openai.push(
      { match: /Question: Kettles in the doomed collection/, text: jsonReply({ collection: doomed, query_text: 'kettle', limit: 1 }) },
      { match: new RegExp(`the database rejected the query: .*${doomed}`), text: jsonReply({ collection: PRODUCTS, query_text: 'kettle', limit: 1 }) },
    );
    const events = await askAndCollect(engine, { question: 'Kettles in the doomed collection' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    const [failed] = ofType(events, 'error');
    assert.equal(failed?.recoverable, true);
    assert.equal(failed?.code, 'execution_failed');
    assert.equal(failed?.phase, 'execute');
    assert.ok(!(await qdrant.introspect()).tables.some((t) => t.name === doomed), 'the schema was read again');
  });

  it('an unknown payload key is a validation problem naming the known keys; the corrected search runs', async () => {
    openai.push(
      { match: /Question: Red things in the office/, text: jsonReply({ collection: PRODUCTS, query_text: 'office lamp', filter: { must: [{ key: 'colour', match: { value: 'red' } }] } }) },
      {
        match: /unknown payload key "colour" \(filter\.must\[0\]\) in collection .*; its payload keys are: .*category.*price/,
        text: jsonReply({ collection: PRODUCTS, query_text: 'office lamp', filter: { must: [{ key: 'category', match: { value: 'office' } }] }, limit: 4 }),
      },
    );
    const events = await askAndCollect(engineFor(), { question: 'Red things in the office' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    const [rejected] = ofType(events, 'query_validated');
    assert.equal(rejected!.ok, false);
    assert.match(rejected!.problems.join(' '), /warehouse/, 'indexed fields count as known keys');
    assertTopK(recordsOf(events), rank(PRODUCT_SEED, (p) => p.payload.description, 'office lamp', (p) => p.payload.category === 'office'), 4);
  });

  it('invalid JSON twice ends with a clear validation error and runs nothing', async () => {
    const broken = `Here it is.\n\n\`\`\`json\n{"collection": "${PRODUCTS}", "query_text": "kettle",}\n\`\`\``;
    openai.push({ match: /Question: Kettles please/, text: broken }, { match: /not valid JSON/, text: broken });
    const queriesBefore = pointRequests(PRODUCTS, 'query');
    const events = await askAndCollect(engineFor(), { question: 'Kettles please' });
    const error = errorOf(events);
    assert.equal(error.code, 'validation_failed');
    assert.match(error.message, /the corrected query failed too: the search is not valid JSON/);
    assert.deepEqual(ofType(events, 'query_validated').map((v) => v.ok), [false, false]);
    assert.equal(ofType(events, 'execution_started').length, 0);
    assert.equal(pointRequests(PRODUCTS, 'query'), queriesBefore);
  });

  it('an empty result completes with the columns and no rows', async () => {
    openai.push({ match: /Question: Luxury kettles over 100000/, text: jsonReply({ collection: PRODUCTS, query_text: 'kettle', filter: { must: [{ key: 'price', range: { gt: 100000 } }] }, limit: 5 }) });
    const events = await askAndCollect(engineFor(), { question: 'Luxury kettles over 100000' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    assert.equal(done.type === 'complete' && done.summary.rowCount, 0);
    const batches = ofType(events, 'partial_results');
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0]!.columns?.map((c) => c.name), ['id', 'score']);
    assert.deepEqual(batches[0]!.rows, []);

    openai.push({ match: /Question: Products from Mars/, text: jsonReply({ collection: PRODUCTS, query_text: null, filter: { must: [{ key: 'brand.country', match: { value: 'MARS' } }] } }) });
    const scrolled = await askAndCollect(engineFor(), { question: 'Products from Mars' });
    assert.equal(terminal(scrolled).type, 'complete');
    assert.deepEqual(ofType(scrolled, 'partial_results').map((b) => [b.columns?.map((c) => c.name), b.rows.length]), [[['id'], 0]]);
  });

  it('introspection: collections, vectors, indexed and sampled payload fields with types and presence, point counts (cached)', async () => {
    const progress: number[] = [];
    const qdrant = source();
    const snapshot = await qdrant.introspect({ onProgress: (f) => progress.push(f) });
    assert.equal(progress[progress.length - 1], 1);
    const products = snapshot.tables.find((t) => t.name === PRODUCTS)!;
    assert.equal(products.kind, 'collection');
    assert.equal(products.rowEstimate, PRODUCT_COUNT);
    assert.match(products.comment ?? '', /vector: 64-d Cosine/);
    assert.match(products.comment ?? '', /payload indexes: .*category \(keyword\)/);
    const field = (name: string) => products.columns.find((c) => c.name === name);
    assert.equal(products.columns[0]!.name, 'id');
    assert.equal(field('id')?.isPrimaryKey, true);
    assert.equal(field('id')?.type, 'integer');
    assert.equal(field('score')?.type, 'float');
    assert.equal(field('name')?.type, 'string');
    assert.equal(field('price')?.type, 'number');
    assert.match(field('price')?.comment ?? '', /indexed \(float\)/);
    assert.equal(field('tags')?.type, 'array<string>');
    assert.equal(field('brand')?.type, 'object');
    assert.equal(field('brand.country')?.type, 'string');
    assert.deepEqual(new Set(field('category')?.sampleValues), new Set(CATEGORIES));
    // the first 200 points are sampled; 20 of them carry `discontinued`
    assert.match(field('discontinued')?.comment ?? '', /present in 10%/);
    assert.equal(field('discontinued')?.nullable, true);
    assert.match(field('warehouse')?.comment ?? '', /indexed \(keyword\); not seen in the sampled points/);
    assert.equal(field('warehouse')?.type, 'string');

    const articles = snapshot.tables.find((t) => t.name === ARTICLES)!;
    assert.match(articles.comment ?? '', /named vectors \(for "using"\): title \(64-d Cosine\), body \(64-d Dot\)/);
    const legacy = snapshot.tables.find((t) => t.name === LEGACY)!;
    assert.match(legacy.comment ?? '', /vector: 32-d Cosine/);

    const listsBefore = standIn?.requests.filter((r) => r.path === '/collections').length;
    assert.equal(await qdrant.introspect(), snapshot, 'cached');
    if (standIn) assert.equal(standIn.requests.filter((r) => r.path === '/collections').length, listsBefore);
    await qdrant.ping();
  });

  it('an unreachable Qdrant ends with source_unavailable at the schema phase, naming the host', async () => {
    const port = await closedPort();
    const events = await askAndCollect(engineFor({ url: `http://127.0.0.1:${port}` }), { question: 'Which products are like a kettle?' });
    const error = errorOf(events);
    assert.equal(error.code, 'source_unavailable');
    assert.equal(error.phase, 'schema');
    assert.match(error.message, new RegExp(`could not reach Qdrant at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): check the URL`));
    assert.equal(openai.requests.length, 0, 'the model is never asked');
    await assert.rejects(source({ url: `http://127.0.0.1:${port}` }).ping(), /could not reach Qdrant .*ECONNREFUSED/);
  });

  it('a wrong API key ends with source_unavailable and says to check the API key', async function () {
    let secured: QdrantStandIn | undefined;
    let securedUrl = url;
    if (REAL_URL) {
      if (!REAL_KEY) this.skip(); // a server without a key accepts any
    } else {
      secured = new QdrantStandIn({ apiKey: 'right-key' });
      await secured.start();
      securedUrl = secured.url;
    }
    try {
      const events = await askAndCollect(engineFor({ url: securedUrl, apiKey: 'wrong-key' }), { question: 'Which products are like a kettle?' });
      const error = errorOf(events);
      assert.equal(error.code, 'source_unavailable');
      assert.equal(error.phase, 'schema');
      assert.match(error.message, /Qdrant at http:\/\/[^ ]+ refused the request \((401|403)[^)]*\): check the API key/);
      assert.ok(!error.message.includes('wrong-key'), 'the key itself is never shown');
      await assert.rejects(source({ url: securedUrl, apiKey: 'wrong-key' }).ping(), /check the API key/);
      if (secured) await source({ url: securedUrl, apiKey: 'right-key' }).ping();
    } finally {
      await secured?.stop();
    }
  });

  it('an embedding model of another size fails with a clear message before searching', async () => {
    openai.push({ match: /Question: Find legacy documents/, text: jsonReply({ collection: LEGACY, query_text: 'legacy document', limit: 2 }) });
    const queriesBefore = pointRequests(LEGACY, 'query');
    const events = await askAndCollect(engineFor(), { question: 'Find legacy documents' });
    const error = errorOf(events);
    assert.equal(error.code, 'execution_failed');
    assert.equal(error.phase, 'execute');
    assert.match(error.message, new RegExp(`the embedding model "${EMBEDDING_MODEL}" returns 64-dimensional vectors, but collection "${LEGACY}" holds 32-dimensional ones: the collection was built with a different embedding model`));
    assert.match(error.suggestion ?? '', /embeddings\.model .*CENECA_EMBEDDINGS_MODEL/);
    assert.equal(pointRequests(LEGACY, 'query'), queriesBefore);
  });

  it('an embedding server that is down fails at execution with a clear message', async () => {
    const port = await closedPort();
    openai.push({ match: /Question: Kettles like mine/, text: jsonReply({ collection: PRODUCTS, query_text: 'kettle', limit: 3 }) });
    const queriesBefore = pointRequests(PRODUCTS, 'query');
    const events = await askAndCollect(engineFor({ embeddings: { baseURL: `http://127.0.0.1:${port}/v1`, model: EMBEDDING_MODEL, apiKey: 'test' } }), { question: 'Kettles like mine' });
    const error = errorOf(events);
    assert.equal(error.code, 'source_unavailable');
    assert.equal(error.phase, 'execute');
    assert.match(error.message, new RegExp(`could not embed the search text: the embedding server at http://127\\.0\\.0\\.1:${port}/v1 is unreachable \\(ECONNREFUSED\\)`));
    assert.match(error.suggestion ?? '', /embeddings settings of connection "vectors"/);
    assert.equal(pointRequests(PRODUCTS, 'query'), queriesBefore);
  });

  it('cancel while pages stream ends cancelled and fetches no further page', async () => {
    openai.push({ match: /Question: Every product/, text: jsonReply({ collection: PRODUCTS, query_text: null }) });
    let cancelled = false;
    let scrollsAtCancel = 0;
    const events = await askAndCollect(engineFor({ pageSize: 20 }), { question: 'Every product', maxRows: 1000 }, {}, (event, cancel) => {
      if (event.type === 'partial_results' && !cancelled) {
        cancelled = true;
        scrollsAtCancel = pointRequests(PRODUCTS, 'scroll');
        cancel();
      }
    });
    const error = errorOf(events);
    assert.equal(error.code, 'cancelled');
    const rows = rowsOf(events).length;
    assert.ok(rows > 0 && rows < PRODUCT_COUNT, `only part of the result arrived (${rows} rows)`);
    if (standIn) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(pointRequests(PRODUCTS, 'scroll') <= scrollsAtCancel + 1, 'at most the page in flight');
    }
  });

  it('a search past the time limit ends with statement_timeout', async function () {
    if (new URL(url).protocol !== 'http:') this.skip(); // the stalling proxy speaks plain http only
    const proxy = new StallingProxy(url);
    const proxied = await proxy.start();
    try {
      openai.push({ match: /Question: Stuck kettles/, text: jsonReply({ collection: PRODUCTS, query_text: 'kettle', limit: 3 }) });
      const started = Date.now();
      const events = await askAndCollect(engineFor({ url: proxied, timeoutMs: 400 }), { question: 'Stuck kettles' });
      const error = errorOf(events);
      assert.equal(error.code, 'statement_timeout');
      assert.match(error.message, /longer than the statement timeout \(400 ms\)/);
      assert.ok(Date.now() - started < 5000);
      assert.equal(proxy.held.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(proxy.held[0]!.closed, true, 'the HTTP request was abandoned');
    } finally {
      await proxy.stop();
    }
  });

  it('cancel during a search closes its HTTP request at once and ends cancelled', async function () {
    if (new URL(url).protocol !== 'http:') this.skip(); // the stalling proxy speaks plain http only
    const proxy = new StallingProxy(url);
    const proxied = await proxy.start();
    try {
      openai.push({ match: /Question: Kettles, slowly/, text: jsonReply({ collection: PRODUCTS, query_text: 'kettle', limit: 3 }) });
      let cancelledAt = 0;
      const events = await askAndCollect(engineFor({ url: proxied }), { question: 'Kettles, slowly' }, {}, (event, cancel) => {
        if (event.type === 'execution_started') {
          setTimeout(() => {
            cancelledAt = Date.now();
            cancel();
          }, 150);
        }
      });
      assert.equal(errorOf(events).code, 'cancelled');
      assert.ok(Date.now() - cancelledAt < 2000, 'the stream ends promptly');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(proxy.held.length, 1);
      assert.equal(proxy.held[0]!.closed, true, 'the search request was aborted, not left running');
    } finally {
      await proxy.stop();
    }
  });

  it('cancel while the query streams from the model ends cancelled and searches nothing', async () => {
    openai.push({ match: /Question: Slow question/, text: jsonReply({ collection: PRODUCTS, query_text: 'kettle' }), chunkSize: 4, chunkDelayMs: 30 });
    const queriesBefore = pointRequests(PRODUCTS, 'query');
    const events = await askAndCollect(engineFor(), { question: 'Slow question about kettles' }, {}, (event, cancel) => {
      if (event.type === 'partial_query') cancel();
    });
    assert.equal(errorOf(events).code, 'cancelled');
    assert.equal(ofType(events, 'execution_started').length, 0);
    assert.equal(openai.requests.filter((r) => r.path === '/v1/embeddings').length, 0);
    assert.equal(pointRequests(PRODUCTS, 'query'), queriesBefore);
  });
});
