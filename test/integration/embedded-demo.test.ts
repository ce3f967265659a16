/** The embedded demo database (PGlite behind a loopback socket) through the ordinary PostgreSQL source. */
import assert from 'node:assert/strict';
import { DEMO_SOURCE_ID, createDemoSource, stopDemoDatabase } from '../../src/core/sources/embedded-demo';
import type { PostgresSource } from '../../src/core/sources/postgres';
import { DEMO_ROW_COUNTS } from '../../src/core/sources/demo-data';
import { OpenAIStandIn, askAndCollect, makeEngine, ofType, openAIProvider, sqlReply, terminal } from '../support/fixtures';

describe('embedded demo database', function () {
  this.timeout(60_000);
  let source: PostgresSource;

  before(() => {
    source = createDemoSource();
  });
  after(async () => {
    await source.close();
    await stopDemoDatabase();
  });

  it('starts on first use, reporting progress, and introspects the demo shop', async () => {
    const fractions: number[] = [];
    const snapshot = await source.introspect({ onProgress: (f) => fractions.push(f) });
    assert.ok(fractions.length >= 4, `progress was reported while PGlite started: ${fractions.join(',')}`);
    assert.deepEqual([...fractions].sort((a, b) => a - b), fractions, 'progress never goes back');
    assert.equal(fractions[fractions.length - 1], 1);
    const names = snapshot.tables.map((t) => t.qualifiedName).sort();
    assert.deepEqual(names, ['customers', 'order_items', 'orders', 'products', 'support_tickets']);
    const orders = snapshot.tables.find((t) => t.name === 'orders')!;
    assert.ok(orders.comment, 'table comments are read');
    assert.deepEqual(orders.primaryKey, ['id']);
    assert.deepEqual(orders.foreignKeys, [{ columns: ['customer_id'], refTable: 'customers', refColumns: ['id'] }]);
    assert.equal(orders.rowEstimate, DEMO_ROW_COUNTS.orders);
    assert.deepEqual(orders.columns.find((c) => c.name === 'customer_id')!.references, { table: 'customers', column: 'id' });
  });

  it('answers a question end to end with real rows', async () => {
    const standIn = new OpenAIStandIn([
      { match: /Question: How many customers per segment/, text: sqlReply('SELECT segment, count(*) AS customers FROM customers GROUP BY segment ORDER BY segment') },
      { match: /You analyse the result/, text: 'Three segments.' },
    ]);
    await standIn.start();
    const engine = makeEngine([source], openAIProvider(standIn));
    try {
      const events = await askAndCollect(engine, { question: 'How many customers per segment?' });
      assert.equal(terminal(events).type, 'complete');
      assert.equal(ofType(events, 'databases_selected')[0]!.databases[0]!.id, DEMO_SOURCE_ID);
      const rows = ofType(events, 'partial_results').flatMap((b) => b.rows);
      assert.deepEqual(rows.map((r) => r[0]), ['consumer', 'enterprise', 'small_business']);
      assert.equal(rows.reduce((sum, r) => sum + Number(r[1]), 0), DEMO_ROW_COUNTS.customers);
    } finally {
      await standIn.stop();
    }
  });

  it('refuses a write on the demo database too', async () => {
    const standIn = new OpenAIStandIn([{ match: /Question: Wipe/, text: sqlReply('DELETE FROM orders'), times: 2 }]);
    await standIn.start();
    const engine = makeEngine([source], openAIProvider(standIn));
    try {
      const done = terminal(await askAndCollect(engine, { question: 'Wipe the orders' }));
      assert.equal(done.type === 'error' && done.code, 'validation_failed');
      const count = await collectCount(source);
      assert.equal(count, DEMO_ROW_COUNTS.orders);
    } finally {
      await standIn.stop();
    }
  });
});

async function collectCount(source: PostgresSource): Promise<number> {
  const signal = new AbortController().signal;
  for await (const batch of source.execute('SELECT count(*) FROM orders', { maxRows: 1, signal })) return Number(batch.rows[0]![0]);
  throw new Error('no rows');
}
