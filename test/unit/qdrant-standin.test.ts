/**
 * The Qdrant stand-in, exercised through the REAL `@qdrant/js-client-rest` client: if its wire format drifts from
 * what the client sends and parses, or its scoring / filtering is wrong, these fail.
 */
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { QdrantStandIn } from '../support/qdrant-standin';

/** The client throws openapi-typescript-fetch's ApiError: `{status, data}`; data is Qdrant's error body. */
function apiError(status: number, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    const e = error as { status?: number; data?: { status?: { error?: string } } };
    assert.equal(e.status, status, String(error));
    if (pattern) assert.match(e.data?.status?.error ?? '', pattern);
    return true;
  };
}

const UUID_A = '0b8f3a52-6a1e-4f43-9a6a-7d0a2c3b4e51';

describe('Qdrant stand-in (through @qdrant/js-client-rest)', () => {
  let standIn: QdrantStandIn;
  let client: QdrantClient;

  beforeEach(async () => {
    standIn = new QdrantStandIn();
    await standIn.start();
    client = new QdrantClient({ url: standIn.url, checkCompatibility: false });
  });

  afterEach(async () => {
    await standIn.stop();
  });

  async function seedTables(): Promise<void> {
    await client.createCollection('tables', { vectors: { size: 3, distance: 'Cosine' } });
    await client.upsert('tables', {
      wait: true,
      points: [
        { id: 1, vector: [1, 0, 0], payload: { table: 'orders', schema: 'public', rows: 1200, tags: ['sales', 'core'], meta: { owner: 'ann' } } },
        { id: 2, vector: [0.9, 0.1, 0], payload: { table: 'order_items', schema: 'public', rows: 5000, tags: ['sales'], meta: { owner: 'bob' } } },
        { id: 3, vector: [0, 1, 0], payload: { table: 'customers', schema: 'crm', rows: 300, tags: ['core'], meta: { owner: 'ann' } } },
        { id: 4, vector: [0, 0, 1], payload: { table: 'audit_log', schema: 'ops', rows: 90000, tags: [], meta: { owner: null } } },
        { id: UUID_A, vector: [0.5, 0.5, 0], payload: { table: 'invoices', schema: 'public', rows: 800, tags: ['sales', 'finance'] } },
      ],
    });
  }

  it('creates a collection and reports it via getCollections / getCollection / collectionExists', async () => {
    assert.deepEqual((await client.getCollections()).collections, []);
    assert.equal((await client.collectionExists('tables')).exists, false);
    await seedTables();
    await client.createPayloadIndex('tables', { field_name: 'schema', field_schema: 'keyword', wait: true });
    assert.deepEqual((await client.getCollections()).collections, [{ name: 'tables' }]);
    assert.equal((await client.collectionExists('tables')).exists, true);
    const info = await client.getCollection('tables');
    assert.equal(info.status, 'green');
    assert.equal(info.points_count, 5);
    assert.deepEqual(info.config.params.vectors, { size: 3, distance: 'Cosine' });
    assert.equal(info.payload_schema.schema?.data_type, 'keyword');
    assert.ok(standIn.requests.some((r) => r.method === 'PUT' && r.path.startsWith('/collections/tables/points')));
  });

  it('ranks search results by cosine similarity (normalised) with payloads and vectors as asked', async () => {
    await seedTables();
    const hits = await client.search('tables', { vector: [10, 1, 0], limit: 3, with_payload: true });
    assert.deepEqual(hits.map((h) => h.id), [2, 1, UUID_A]);
    // cosine([10,1,0],[0.9,0.1,0])
    const expected = (10 * 0.9 + 0.1) / (Math.hypot(10, 1) * Math.hypot(0.9, 0.1));
    assert.ok(Math.abs(hits[0]!.score - expected) < 1e-9, `score ${hits[0]!.score} vs ${expected}`);
    assert.equal((hits[0]!.payload as { table: string }).table, 'order_items');
    assert.equal(hits[0]!.vector ?? null, null);

    const withVector = await client.search('tables', { vector: [0, 0, 2], limit: 1, with_vector: true, with_payload: false });
    assert.equal(withVector[0]!.id, 4);
    assert.deepEqual(withVector[0]!.vector, [0, 0, 1]);
    assert.equal(withVector[0]!.payload ?? null, null);

    const page2 = await client.search('tables', { vector: [10, 1, 0], limit: 2, offset: 1 });
    assert.deepEqual(page2.map((h) => h.id), [1, UUID_A]);
    const thresholded = await client.search('tables', { vector: [1, 0, 0], score_threshold: 0.9 });
    assert.deepEqual(thresholded.map((h) => h.id), [1, 2]);
  });

  it('ranks by dot product (magnitude counts) and by Euclid distance ascending, through query()', async () => {
    await client.createCollection('dots', { vectors: { size: 2, distance: 'Dot' } });
    await client.createCollection('euclid', { vectors: { size: 2, distance: 'Euclid' } });
    const points = [
      { id: 1, vector: [1, 0] },
      { id: 2, vector: [3, 3] },
      { id: 3, vector: [0.5, 0] },
    ];
    await client.upsert('dots', { points });
    await client.upsert('euclid', { points });
    const dot = await client.query('dots', { query: [1, 0], limit: 3 });
    assert.deepEqual(dot.points.map((p) => p.id), [2, 1, 3]);
    assert.deepEqual(dot.points.map((p) => p.score), [3, 1, 0.5]);
    const euclid = await client.query('euclid', { query: [0.6, 0], limit: 3, with_payload: true });
    assert.deepEqual(euclid.points.map((p) => p.id), [3, 1, 2]);
    assert.ok(Math.abs(euclid.points[0]!.score - 0.1) < 1e-9);
    // Cosine would have ranked 1 and 3 equal; dot must not normalise.
  });

  it('queries a named vector with `using`', async () => {
    await client.createCollection('named', { vectors: { title: { size: 2, distance: 'Cosine' }, body: { size: 3, distance: 'Dot' } } });
    await client.upsert('named', {
      points: [
        { id: 1, vector: { title: [1, 0], body: [0, 0, 1] }, payload: { n: 1 } },
        { id: 2, vector: { title: [0, 1], body: [0, 0, 5] }, payload: { n: 2 } },
      ],
    });
    const byTitle = await client.query('named', { query: [1, 0.1], using: 'title', limit: 2, with_payload: true });
    assert.deepEqual(byTitle.points.map((p) => p.id), [1, 2]);
    assert.deepEqual(byTitle.points[0]!.payload, { n: 1 });
    const byBody = await client.query('named', { query: [0, 0, 1], using: 'body', limit: 2 });
    assert.deepEqual(byBody.points.map((p) => p.id), [2, 1]);
    const info = await client.getCollection('named');
    assert.deepEqual(info.config.params.vectors, { title: { size: 2, distance: 'Cosine' }, body: { size: 3, distance: 'Dot' } });
    await assert.rejects(client.query('named', { query: [1, 0], using: 'nope' }));
  });

  it('evaluates filters: must / should / must_not / range / match any / except / text / nested keys / has_id / is_null / is_empty', async () => {
    await seedTables();
    const ids = async (filter: Record<string, unknown>): Promise<string[]> =>
      (await client.scroll('tables', { filter, limit: 100 })).points.map((p) => String(p.id)).sort();
    const set = (...list: Array<string | number>): string[] => list.map(String).sort();

    assert.deepEqual(await ids({ must: [{ key: 'schema', match: { value: 'public' } }] }), set(UUID_A, 1, 2));
    assert.deepEqual(await ids({ must: [{ key: 'schema', match: { value: 'public' } }, { key: 'rows', range: { gte: 1000 } }] }), set(1, 2));
    assert.deepEqual(await ids({ should: [{ key: 'schema', match: { value: 'crm' } }, { key: 'schema', match: { value: 'ops' } }] }), set(3, 4));
    assert.deepEqual(await ids({ must_not: [{ key: 'schema', match: { value: 'public' } }] }), set(3, 4));
    assert.deepEqual(await ids({ must: [{ key: 'rows', range: { gt: 300, lt: 5000 } }] }), set(UUID_A, 1));
    assert.deepEqual(await ids({ must: [{ key: 'tags', match: { any: ['finance', 'core'] } }] }), set(UUID_A, 1, 3));
    assert.deepEqual(await ids({ must: [{ key: 'schema', match: { except: ['public', 'ops'] } }] }), set(3));
    assert.deepEqual(await ids({ must: [{ key: 'table', match: { text: 'order' } }] }), set(1, 2));
    assert.deepEqual(await ids({ must: [{ key: 'meta.owner', match: { value: 'ann' } }] }), set(1, 3));
    assert.deepEqual(await ids({ must: [{ has_id: [3, UUID_A] }] }), set(UUID_A, 3));
    assert.deepEqual(await ids({ must: [{ is_null: { key: 'meta.owner' } }] }), set(4));
    assert.deepEqual(await ids({ must: [{ is_empty: { key: 'tags' } }] }), set(4));
    // nested boolean filters
    assert.deepEqual(
      await ids({ must: [{ should: [{ key: 'schema', match: { value: 'crm' } }, { key: 'rows', range: { gte: 5000 } }] }], must_not: [{ key: 'schema', match: { value: 'ops' } }] }),
      set(2, 3),
    );
    // the filter also applies to search and count
    const hits = await client.search('tables', { vector: [1, 0, 0], filter: { must_not: [{ key: 'tags', match: { value: 'sales' } }] }, limit: 10 });
    assert.deepEqual(hits.map((h) => h.id), [3, 4]);
    assert.equal((await client.count('tables', { filter: { must: [{ key: 'tags', match: { value: 'sales' } }] } })).count, 3);
    assert.equal((await client.count('tables')).count, 5);
  });

  it('scrolls page by page until next_page_offset is null, integer ids before UUIDs', async () => {
    await client.createCollection('many', { vectors: { size: 2, distance: 'Cosine' } });
    const points = Array.from({ length: 23 }, (_, i) => ({ id: i + 1, vector: [1, i], payload: { i } }));
    await client.upsert('many', { points: [...points, { id: UUID_A, vector: [1, 1], payload: { i: -1 } }] });
    const seen: Array<string | number> = [];
    let offset: string | number | null | undefined = undefined;
    let pages = 0;
    for (;;) {
      const page: Awaited<ReturnType<QdrantClient['scroll']>> = await client.scroll('many', { limit: 5, offset: offset ?? undefined, with_payload: true });
      pages++;
      seen.push(...page.points.map((p) => p.id));
      const next = page.next_page_offset;
      if (next === null || next === undefined) break;
      assert.ok(typeof next === 'number' || typeof next === 'string');
      offset = next;
      assert.ok(pages < 10, 'scroll never ended');
    }
    assert.equal(pages, 5);
    assert.deepEqual(seen, [...points.map((p) => p.id), UUID_A]);
  });

  it('answers errors in Qdrant’s shape: unknown collection 404, bad dimension 400, duplicate create', async () => {
    await assert.rejects(client.getCollection('missing'), apiError(404, /Collection `missing` doesn't exist/));
    await assert.rejects(client.search('missing', { vector: [1, 0] }), apiError(404));
    await client.createCollection('c', { vectors: { size: 2, distance: 'Cosine' } });
    await assert.rejects(client.upsert('c', { points: [{ id: 1, vector: [1, 2, 3] }] }), apiError(400, /dimension/));
    await assert.rejects(client.createCollection('c', { vectors: { size: 2, distance: 'Cosine' } }), apiError(409, /already exists/));

    const response = await fetch(`${standIn.url}/collections/missing`);
    assert.equal(response.status, 404);
    const body = (await response.json()) as { status: { error: string }; time: number };
    assert.match(body.status.error, /Collection `missing` doesn't exist/);
    assert.equal(typeof body.time, 'number');
    const bad = await fetch(`${standIn.url}/collections/c/points/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"vector": "nope"}' });
    assert.equal(bad.status, 400);
  });

  it('enforces the api-key when one is configured', async () => {
    const secured = new QdrantStandIn({ apiKey: 'sekret' });
    await secured.start();
    const originalWarn = console.warn;
    console.warn = () => undefined; // the client warns about an api key over plain http
    try {
      const good = new QdrantClient({ url: secured.url, apiKey: 'sekret', checkCompatibility: false });
      const wrong = new QdrantClient({ url: secured.url, apiKey: 'wrong', checkCompatibility: false });
      const none = new QdrantClient({ url: secured.url, checkCompatibility: false });
      assert.deepEqual((await good.getCollections()).collections, []);
      await assert.rejects(wrong.getCollections(), apiError(401));
      await assert.rejects(none.getCollections(), apiError(401));
      assert.equal(secured.requests.length, 3);
    } finally {
      console.warn = originalWarn;
      await secured.stop();
    }
  });
});
