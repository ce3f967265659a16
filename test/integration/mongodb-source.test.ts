/**
 * The MongoDB source end to end: the official driver against the MongoDB stand-in (or a real server when
 * CENECA_MONGODB_URL is set), the real pipeline and the OpenAI stand-in.
 */
import assert from 'node:assert/strict';
import { MongoClient, type Document } from 'mongodb';
import type { Engine } from '../../src/core/engine';
import { MongoSource, type MongoSourceOptions } from '../../src/core/sources/mongodb';
import { MongoStandIn } from '../support/mongo-standin';
import { OpenAIStandIn, askAndCollect, makeEngine, ofType, openAIProvider, terminal, jsonReply, recordsOf, rowsOf } from '../support/fixtures';

const REAL_URL = process.env.CENECA_MONGODB_URL;
const DB = REAL_URL ? 'ceneca_test_shop' : 'shop';
const CITIES = ['Berlin', 'Paris', 'Lisbon'];
const CUSTOMERS = ['Ada', 'Bo', 'Cy', 'Di', 'Ed'];
const STATUSES = ['new', 'shipped', 'delivered'];
const ORDER_COUNT = 30;
/** Orders from this number on carry a `coupon` field the earlier ones lack. */
const COUPON_FROM = 26;
const PAGEVIEWS = 2000;

function day(n: number): Date {
  return new Date(Date.UTC(2025, 0, 1 + n, 10, 30));
}

function orders(): Document[] {
  const docs: Document[] = [];
  for (let i = 1; i <= ORDER_COUNT; i++) {
    const items = [
      { sku: `SKU-${i % 4}`, qty: 1 + (i % 3), price: 10 * (1 + (i % 5)) },
      ...(i % 2 === 0 ? [{ sku: 'SKU-X', qty: 1, price: 5 }] : []),
    ];
    const total = items.reduce((sum, item) => sum + item.qty * item.price, 0);
    docs.push({
      orderNo: i,
      customer: CUSTOMERS[i % CUSTOMERS.length],
      status: STATUSES[i % STATUSES.length],
      total,
      createdAt: day(i),
      items,
      shipping: { method: i % 2 ? 'post' : 'courier', address: { city: CITIES[i % CITIES.length], zip: `${10000 + i}` } },
      ...(i >= COUPON_FROM ? { coupon: `SAVE${i}` } : {}),
    });
  }
  return docs;
}

const SEED: Record<string, Document[]> = {
  customers: CUSTOMERS.map((name, i) => ({ name, email: `${name.toLowerCase()}@example.com`, tier: i % 2 ? 'gold' : 'basic', since: day(-100 + i) })),
  orders: orders(),
  tickets: [
    { subject: 'Parcel late', status: 'open', priority: 2, openedAt: day(3), customer: 'Ada' },
    { subject: 'Wrong size', status: 'closed', priority: 1, openedAt: day(5), closedAt: day(7), customer: 'Bo' },
    { subject: 'Refund please', status: 'open', priority: 3, openedAt: day(9), customer: 'Cy' },
  ],
  pageviews: Array.from({ length: PAGEVIEWS }, (_, i) => ({ n: i, path: `/p/${i % 17}`, at: day(i % 60) })),
};

describe('MongoDB source', function () {
  this.timeout(30_000);
  let standIn: MongoStandIn | undefined;
  let url: string;
  let admin: MongoClient;
  let openai: OpenAIStandIn;
  const engines: Engine[] = [];
  const sources: MongoSource[] = [];

  function source(options: Partial<MongoSourceOptions> = {}): MongoSource {
    const created = new MongoSource({ id: 'mongo', name: 'Shop', url, database: DB, ...options });
    sources.push(created);
    return created;
  }

  function engineFor(options: Partial<MongoSourceOptions> = {}): Engine {
    const engine = makeEngine([source(options)], openAIProvider(openai), { analysis: false });
    engines.push(engine);
    return engine;
  }

  before(async () => {
    if (REAL_URL) {
      url = REAL_URL;
    } else {
      standIn = new MongoStandIn();
      await standIn.start();
      url = standIn.url;
    }
    admin = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
    await admin.connect();
    if (REAL_URL) {
      await admin.db(DB).dropDatabase();
      for (const [name, docs] of Object.entries(SEED)) await admin.db(DB).collection(name).insertMany(docs.map((d) => ({ ...d })));
    } else {
      for (const [name, docs] of Object.entries(SEED)) standIn!.seed(DB, name, docs);
    }
  });
  after(async () => {
    if (REAL_URL) await admin.db(DB).dropDatabase().catch(() => undefined);
    await admin.close();
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

  it('a find streams the JSON query as partial_query (mongodb) and completes with the right rows', async () => {
    const query = { collection: 'orders', operation: 'find', filter: { 'shipping.address.city': 'Berlin' }, projection: { _id: 0, orderNo: 1, customer: 1, total: 1 }, sort: { orderNo: 1 } };
    openai.push({ match: /Question: Which orders shipped to Berlin/, text: jsonReply(query), chunkSize: 7 });
    const events = await askAndCollect(engineFor(), { question: 'Which orders shipped to Berlin?' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));

    const partial = ofType(events, 'partial_query');
    assert.ok(partial.length > 1, 'the JSON streams in several deltas');
    assert.ok(partial.every((e) => e.language === 'mongodb'));
    assert.deepEqual(JSON.parse(ofType(events, 'query_complete')[0]!.query), query);

    const expected = SEED.orders!.filter((o) => o.shipping.address.city === 'Berlin').map((o) => ({ orderNo: o.orderNo, customer: o.customer, total: o.total }));
    assert.ok(expected.length > 3);
    assert.deepEqual(recordsOf(events), expected);
    assert.deepEqual(new Set(ofType(events, 'partial_results')[0]!.columns!.map((c) => c.name)), new Set(['orderNo', 'customer', 'total']));

    const prompt = openai.requests.find((r) => r.text.includes('Which orders shipped'))!.text;
    assert.match(prompt, /<data kind="schema">[\s\S]*collection orders[\s\S]*shipping\.address\.city string[\s\S]*<\/data>/);
    assert.match(prompt, /```json/);
    assert.equal(ofType(events, 'schema_chunks')[0]!.chunks.find((c) => c.name === 'orders')?.kind, 'collection');
  });

  it('an aggregate with $group and $sort completes with the grouped rows', async () => {
    const pipeline = [{ $group: { _id: '$customer', revenue: { $sum: '$total' }, orders: { $sum: 1 } } }, { $sort: { revenue: -1, _id: 1 } }];
    openai.push({ match: /Question: Revenue per customer/, text: jsonReply({ collection: 'orders', operation: 'aggregate', pipeline }) });
    const events = await askAndCollect(engineFor(), { question: 'Revenue per customer, highest first' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    const totals = new Map<string, { revenue: number; orders: number }>();
    for (const o of SEED.orders!) {
      const t = totals.get(o.customer) ?? { revenue: 0, orders: 0 };
      t.revenue += o.total;
      t.orders += 1;
      totals.set(o.customer, t);
    }
    const expected = [...totals.entries()].map(([name, t]) => ({ _id: name, ...t })).sort((a, b) => b.revenue - a.revenue || a._id.localeCompare(b._id));
    assert.deepEqual(recordsOf(events), expected);
  });

  it('$out and $where are refused before execution; the data is unchanged', async () => {
    openai.push(
      { match: /Question: Copy the orders/, text: jsonReply({ collection: 'orders', operation: 'aggregate', pipeline: [{ $match: {} }, { $out: 'stolen' }] }) },
      { match: /\$out is not allowed/, text: jsonReply({ collection: 'orders', operation: 'find', filter: { $where: 'this.total > 0' } }) },
    );
    const events = await askAndCollect(engineFor(), { question: 'Copy the orders somewhere' });
    const done = terminal(events);
    assert.equal(done.type, 'error');
    assert.equal(done.type === 'error' && done.code, 'validation_failed');
    const validations = ofType(events, 'query_validated');
    assert.deepEqual(validations.map((v) => v.ok), [false, false]);
    assert.match(validations[0]!.problems.join(' '), /\$out is not allowed/);
    assert.match(validations[1]!.problems.join(' '), /\$where is not allowed/);
    assert.equal(ofType(events, 'execution_started').length, 0);
    assert.equal(await admin.db(DB).collection('orders').countDocuments(), ORDER_COUNT);
    const names = (await admin.db(DB).listCollections().toArray()).map((c) => c.name);
    assert.ok(!names.includes('stolen'));
  });

  it('an unknown collection is corrected once by the model', async () => {
    openai.push(
      { match: /Question: How many support tickets are open/, text: jsonReply({ collection: 'support_tickets', operation: 'find', filter: { status: 'open' } }) },
      {
        match: /unknown collection "support_tickets"; the collections are: customers, orders, pageviews, tickets/,
        text: jsonReply({ collection: 'tickets', operation: 'aggregate', pipeline: [{ $match: { status: 'open' } }, { $count: 'open' }] }),
      },
    );
    const events = await askAndCollect(engineFor(), { question: 'How many support tickets are open?' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    assert.deepEqual(ofType(events, 'query_validated').map((v) => v.ok), [false, true]);
    assert.equal(ofType(events, 'query_complete').length, 2);
    assert.deepEqual(recordsOf(events), [{ open: 2 }]);
  });

  it('a field first seen in a later batch adds a column; earlier rows keep their shape', async () => {
    const query = { collection: 'orders', operation: 'find', projection: { _id: 0, orderNo: 1, coupon: 1 }, sort: { orderNo: 1 } };
    openai.push({ match: /Question: List orders with their coupons/, text: jsonReply(query) });
    const events = await askAndCollect(engineFor({ batchSize: 10 }), { question: 'List orders with their coupons' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    const batches = ofType(events, 'partial_results');
    assert.equal(batches.length, 3, `three cursor batches of 10: ${JSON.stringify(batches.map((b) => [b.rows.length, b.columns]))}`);
    assert.deepEqual(batches[0]!.columns?.map((c) => c.name), ['orderNo'], JSON.stringify(batches[0]));
    assert.equal(batches[1]!.columns, undefined, 'no new field in the second batch');
    assert.deepEqual(batches[2]!.columns?.map((c) => c.name), ['orderNo', 'coupon']);
    const rows = rowsOf(events);
    assert.equal(rows.length, ORDER_COUNT);
    assert.deepEqual(rows[0], [1]);
    assert.deepEqual(rows[20], [21, null]);
    assert.deepEqual(rows[29], [30, 'SAVE30']);
  });

  it('flattens nested objects into dotted columns, arrays into JSON, dates into ISO text, ids into hex', async () => {
    openai.push({ match: /Question: Show order 4/, text: jsonReply({ collection: 'orders', operation: 'find', filter: { orderNo: 4 } }) });
    const events = await askAndCollect(engineFor(), { question: 'Show order 4' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    const columns = ofType(events, 'partial_results')[0]!.columns!;
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
    assert.equal(types._id, 'objectId');
    assert.equal(types.createdAt, 'date');
    assert.equal(types.items, 'array');
    assert.equal(types.total, 'number');
    assert.equal(types['shipping.address.city'], 'string');
    assert.ok(!('shipping' in types), 'a nested object is not a column of its own');
    const [record] = recordsOf(events);
    const order = SEED.orders!.find((o) => o.orderNo === 4)!;
    assert.match(String(record!._id), /^[0-9a-f]{24}$/);
    assert.equal(record!.createdAt, day(4).toISOString());
    assert.equal(record!.total, order.total);
    assert.equal(record!['shipping.address.city'], order.shipping.address.city);
    assert.equal(record!['shipping.method'], 'courier');
    assert.deepEqual(JSON.parse(String(record!.items)), order.items);
  });

  it('introspection infers dotted fields, BSON kinds, presence, counts and indexes', async () => {
    const progress: number[] = [];
    const snapshot = await source().introspect({ onProgress: (f) => progress.push(f) });
    assert.deepEqual(snapshot.tables.map((t) => t.name), ['customers', 'orders', 'pageviews', 'tickets']);
    assert.equal(progress[progress.length - 1], 1);
    const orders = snapshot.tables.find((t) => t.name === 'orders')!;
    assert.equal(orders.kind, 'collection');
    assert.equal(orders.rowEstimate, ORDER_COUNT);
    assert.match(orders.comment ?? '', /indexes: _id_ \(_id\)/);
    const field = (name: string) => orders.columns.find((c) => c.name === name);
    assert.equal(field('_id')?.type, 'objectId');
    assert.equal(field('_id')?.isPrimaryKey, true);
    assert.equal(field('createdAt')?.type, 'date');
    assert.equal(field('total')?.type, 'number');
    assert.equal(field('items')?.type, 'array<object>');
    assert.equal(field('items.price')?.type, 'number');
    assert.equal(field('shipping')?.type, 'object');
    assert.equal(field('shipping.address.city')?.type, 'string');
    assert.match(field('shipping.address.city')?.comment ?? '', /present in 100%/);
    const coupon = field('coupon')!;
    assert.equal(coupon.nullable, true);
    const share = Number(/present in (\d+)%/.exec(coupon.comment ?? '')?.[1]);
    assert.equal(share, Math.round(((ORDER_COUNT - COUPON_FROM + 1) / ORDER_COUNT) * 100));
    assert.deepEqual(new Set(field('status')?.sampleValues), new Set(STATUSES));
    const tickets = snapshot.tables.find((t) => t.name === 'tickets')!;
    assert.equal(tickets.columns.find((c) => c.name === 'openedAt')?.type, 'date');
    assert.match(tickets.columns.find((c) => c.name === 'closedAt')?.comment ?? '', /present in 33%/);
    // cached: the second call does not sample again
    assert.equal(await source().introspect().then((s) => s.tables.length), 4);
  });

  it('wrong credentials end with source_unavailable at the schema phase', async () => {
    let secured: MongoStandIn | undefined;
    let badUrl: string;
    if (REAL_URL) {
      const parsed = new URL(REAL_URL);
      parsed.username = 'ceneca_nobody';
      parsed.password = 'wrong';
      parsed.searchParams.set('authSource', 'admin');
      badUrl = parsed.toString();
    } else {
      secured = new MongoStandIn({ users: [{ username: 'ceneca', password: 'right-password' }] });
      await secured.start();
      secured.seed('shop', 'orders', [{ orderNo: 1 }]);
      badUrl = secured.url.replace('mongodb://', 'mongodb://ceneca:wrong-password@') + '&authSource=admin';
    }
    try {
      const events = await askAndCollect(engineFor({ url: badUrl }), { question: 'How many orders are there?' });
      const done = terminal(events);
      assert.equal(done.type, 'error');
      assert.equal(done.type === 'error' && done.code, 'source_unavailable');
      assert.equal(done.type === 'error' && done.phase, 'schema');
      assert.match(done.type === 'error' ? done.message : '', /Authentication failed/i);
      assert.equal(openai.requests.length, 0, 'the model is never asked');
    } finally {
      await secured?.stop();
    }
  });

  it('a broken URL ends with source_unavailable and a clear message', async () => {
    const events = await askAndCollect(engineFor({ url: 'not-a-mongo-url' }), { question: 'How many orders are there?' });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'source_unavailable');
    assert.match(done.type === 'error' ? done.message : '', /not a valid MongoDB URL/);
  });

  it('cancel while rows stream ends cancelled and closes the server cursor', async () => {
    openai.push({ match: /Question: All page views/, text: jsonReply({ collection: 'pageviews', operation: 'find', sort: { n: 1 } }) });
    let cancelled = false;
    const openBefore = new Set(standIn?.openCursorIds ?? []);
    const events = await askAndCollect(engineFor({ batchSize: 50 }), { question: 'All page views', maxRows: PAGEVIEWS }, {}, (event, cancel) => {
      if (event.type === 'partial_results' && !cancelled) {
        cancelled = true;
        cancel();
      }
    });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'cancelled', JSON.stringify(done));
    const rows = rowsOf(events).length;
    assert.ok(rows > 0 && rows < PAGEVIEWS, `only part of the result arrived (${rows} rows)`);
    if (standIn) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const leftOpen = standIn.openCursorIds.filter((id) => !openBefore.has(id));
      assert.deepEqual(leftOpen, [], `the server cursor was killed (${standIn.commands.slice(-8).join(' ')}; open before: ${[...openBefore].join(' ')})`);
    }
  });

  it('ping answers on a reachable server', async () => {
    await source().ping();
  });
});
