/**
 * The whole single-database pipeline against a real PostgreSQL server, with the real OpenAI and Anthropic SDKs
 * talking to the loopback stand-ins. Every stream is checked against the event contract by askAndCollect.
 */
import assert from 'node:assert/strict';
import { assertStreamContract } from '../../src/core/contract';
import type { Engine } from '../../src/core/engine';
import type { CenecaEvent } from '../../src/core/events';
import type { PostgresSource } from '../../src/core/sources/postgres';
import {
  AnthropicStandIn,
  OpenAIStandIn,
  anthropicProvider,
  askAndCollect,
  makeEngine,
  ofType,
  openAIProvider,
  postgresSource,
  seededDatabase,
  sql,
  sqlReply,
  terminal,
} from '../support/fixtures';

const TOP_CUSTOMERS = `SELECT c.name, sum(oi.quantity * oi.unit_price) AS revenue
FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id
WHERE o.status NOT IN ('cancelled', 'refunded')
GROUP BY c.name ORDER BY revenue DESC LIMIT 10`;

describe('single-database pipeline on a real PostgreSQL server', function () {
  this.timeout(60_000);
  let url: string;
  let source: PostgresSource;
  let openai: OpenAIStandIn;
  let engine: Engine;

  before(async () => {
    url = await seededDatabase('ceneca_pipeline');
    openai = new OpenAIStandIn([]);
    await openai.start();
  });

  beforeEach(() => {
    source = postgresSource(url);
    engine = makeEngine([source], openAIProvider(openai));
  });

  afterEach(async () => {
    await engine.close();
  });

  after(async () => {
    await openai.stop();
  });

  it('streams the query, the rows and the analysis through the OpenAI SDK', async () => {
    openai.push(
      { match: /Question: Who are our top 10 customers/, text: sqlReply(TOP_CUSTOMERS), chunks: splitInside(sqlReply(TOP_CUSTOMERS)) },
      { match: /You analyse the result/, text: 'The **top customer** is clear.\n- ten rows', chunkSize: 5 },
    );
    const events = await askAndCollect(engine, { question: 'Who are our top 10 customers by revenue?' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));

    const types = events.map((e) => e.type);
    for (const expected of ['classifying', 'databases_selected', 'schema_loading', 'schema_chunks', 'partial_query', 'query_complete', 'query_validated', 'execution_started', 'partial_results', 'result_complete', 'analysis_chunk', 'analysis_complete']) {
      assert.ok(types.includes(expected as (typeof types)[number]), `missing ${expected} in ${types.join(',')}`);
    }
    // Order of the phases.
    assert.ok(types.indexOf('schema_chunks') < types.indexOf('partial_query'));
    assert.ok(types.lastIndexOf('partial_query') < types.indexOf('query_complete'));
    assert.ok(types.indexOf('query_validated') < types.indexOf('execution_started'));
    assert.ok(types.lastIndexOf('partial_results') < types.indexOf('result_complete'));
    assert.ok(types.indexOf('result_complete') < types.indexOf('analysis_chunk'));

    const partials = ofType(events, 'partial_query');
    assert.ok(partials.length > 3, 'the query arrives in several deltas');
    assert.equal(partials.map((p) => p.delta).join(''), partials[partials.length - 1]!.text);
    assert.equal(ofType(events, 'query_complete')[0]!.query, TOP_CUSTOMERS);
    assert.ok(!partials.some((p) => p.text.includes('`')), 'no fence marker leaks into the query text');

    const schema = ofType(events, 'schema_chunks')[0]!;
    const names = schema.chunks.map((c) => c.name);
    for (const needed of ['customers', 'orders', 'order_items']) assert.ok(names.slice(0, 5).includes(needed), `${needed} in top 5: ${names.join(',')}`);

    const batches = ofType(events, 'partial_results');
    assert.deepEqual(batches[0]!.columns!.map((c) => c.name), ['name', 'revenue']);
    assert.equal(batches[0]!.columns![1]!.type, 'numeric');
    const rows = batches.flatMap((b) => b.rows);
    const expected = await sql<{ name: string; revenue: string }>(url, TOP_CUSTOMERS);
    assert.deepEqual(rows, expected.map((r) => [r.name, r.revenue]));

    const result = ofType(events, 'result_complete')[0]!;
    assert.equal(result.rowCount, 10);
    assert.equal(result.truncated, false);
    assert.equal(ofType(events, 'analysis_complete')[0]!.text, 'The **top customer** is clear.\n- ten rows');
    assert.equal(ofType(events, 'analysis_chunk').map((c) => c.text).join(''), 'The **top customer** is clear.\n- ten rows');
    assert.equal(done.type === 'complete' && done.summary.rowCount, 10);
    assert.ok(done.type === 'complete' && done.summary.usage && done.summary.usage.outputTokens > 0, 'token usage is reported');

    // Schema text reached the model inside a data block, and the question after it.
    const generation = openai.requests.find((r) => r.text.includes('Question: Who are our top 10'))!;
    assert.match(generation.text, /<data kind="schema">[\s\S]*table customers[\s\S]*<\/data>/);
    assert.match(generation.text, /status text[^\n]*common values: [^\n]*"cancelled"/, 'sample values of low-cardinality columns reach the model');
  });

  it('keeps sample values out of the prompt when the user chose schema only', async () => {
    const schemaOnly = makeEngine([postgresSource(url)], openAIProvider(openai), { sampleValues: false, analysis: false });
    openai.push({ match: /Question: Schema only please/, text: sqlReply('SELECT count(*) AS n FROM orders') });
    try {
      const events = await askAndCollect(schemaOnly, { question: 'Schema only please: how many orders?' });
      assert.equal(terminal(events).type, 'complete');
      const generation = openai.requests.find((r) => r.text.includes('Question: Schema only please'))!;
      assert.match(generation.text, /status text/);
      assert.doesNotMatch(generation.text, /common values/);
    } finally {
      await schemaOnly.close();
    }
  });

  it('works the same through the Anthropic SDK', async () => {
    const anthropic = new AnthropicStandIn([
      { match: /Question: How many orders per status/, text: sqlReply('SELECT status, count(*) AS orders FROM orders GROUP BY status ORDER BY status'), byteSplit: 7 },
      { match: /You analyse the result/, text: 'Orders per status — naïve café 😀 analysis.', chunkSize: 3 },
    ]);
    await anthropic.start();
    const anthropicEngine = makeEngine([postgresSource(url)], anthropicProvider(anthropic));
    try {
      const events = await askAndCollect(anthropicEngine, { question: 'How many orders per status?' });
      assert.equal(terminal(events).type, 'complete');
      const rows = ofType(events, 'partial_results').flatMap((b) => b.rows);
      const expected = await sql<{ status: string; orders: string }>(url, 'SELECT status, count(*) AS orders FROM orders GROUP BY status ORDER BY status');
      assert.deepEqual(rows, expected.map((r) => [r.status, r.orders]));
      assert.equal(ofType(events, 'analysis_complete')[0]!.text, 'Orders per status — naïve café 😀 analysis.');
    } finally {
      await anthropicEngine.close();
      await anthropic.stop();
    }
  });

  it('corrects a wrong column name once, after a recoverable error', async () => {
    openai.push(
      { match: /Question: List customer names/, text: sqlReply('SELECT nme FROM customers ORDER BY id LIMIT 3') },
      { match: /column "nme" does not exist/, text: sqlReply('SELECT name FROM customers ORDER BY id LIMIT 3') },
      { match: /You analyse the result/, text: 'Three customers.' },
    );
    const events = await askAndCollect(engine, { question: 'List customer names' });
    assert.equal(terminal(events).type, 'complete');
    const recoverable = ofType(events, 'error');
    assert.equal(recoverable.length, 1);
    assert.equal(recoverable[0]!.recoverable, true);
    assert.equal(recoverable[0]!.code, 'execution_failed');
    assert.match(recoverable[0]!.message, /nme/);
    assert.ok(ofType(events, 'status').some((s) => /correct the query/.test(s.message)));
    assert.deepEqual(ofType(events, 'query_complete').map((q) => q.query), ['SELECT nme FROM customers ORDER BY id LIMIT 3', 'SELECT name FROM customers ORDER BY id LIMIT 3']);
    assert.equal(ofType(events, 'partial_results').flatMap((b) => b.rows).length, 3);
  });

  describe('refuses anything but a read-only query, before execution', () => {
    const hostile: Array<[string, string]> = [
      ['DELETE', 'DELETE FROM customers'],
      ['DROP', 'DROP TABLE customers'],
      ['UPDATE', "UPDATE customers SET name = 'x'"],
      ['multi-statement', 'SELECT 1; DELETE FROM customers'],
      ['data-modifying CTE', 'WITH gone AS (DELETE FROM customers RETURNING *) SELECT count(*) FROM gone'],
      ['SELECT … FOR UPDATE', 'SELECT * FROM customers FOR UPDATE'],
      ['pg_terminate_backend', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity'],
      ['lo_from_bytea', "SELECT lo_from_bytea(0, 'x'::bytea)"],
    ];
    for (const [label, query] of hostile) {
      it(`${label}`, async () => {
        const before = await sql<{ n: string; lo: string }>(url, 'SELECT (SELECT count(*) FROM customers) AS n, (SELECT count(*) FROM pg_largeobject_metadata) AS lo');
        openai.push({ match: /Question: Do something/, text: sqlReply(query), times: 2 }); // the correction repeats it
        const events = await askAndCollect(engine, { question: 'Do something to the customers table' });
        const done = terminal(events);
        assert.equal(done.type, 'error');
        assert.equal(done.type === 'error' && done.code, 'validation_failed');
        assert.ok(!events.some((e) => e.type === 'execution_started'), 'nothing was executed');
        const validations = ofType(events, 'query_validated');
        assert.equal(validations.length, 2, 'refused, corrected once, refused again');
        assert.ok(validations.every((v) => !v.ok && v.problems.length > 0));
        const after = await sql<{ n: string; lo: string }>(url, 'SELECT (SELECT count(*) FROM customers) AS n, (SELECT count(*) FROM pg_largeobject_metadata) AS lo');
        assert.deepEqual(after, before, 'the database is unchanged');
      });
    }
  });

  it('stops a statement that runs past statement_timeout with a clear error', async () => {
    const slowSource = postgresSource(url, { statementTimeoutMs: 300 });
    const slowEngine = makeEngine([slowSource], openAIProvider(openai), { analysis: false });
    openai.push({ match: /Question: Count a lot/, text: sqlReply('SELECT count(*) FROM generate_series(1, 20000) a CROSS JOIN generate_series(1, 20000) b') });
    try {
      const started = Date.now();
      const events = await askAndCollect(slowEngine, { question: 'Count a lot of things' });
      const done = terminal(events);
      assert.equal(done.type === 'error' && done.code, 'statement_timeout', JSON.stringify(done));
      assert.ok(done.type === 'error' && done.suggestion);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await slowEngine.close();
    }
  });

  it('cancel during row streaming ends with error{cancelled} and leaves nothing running on the server', async () => {
    const marker = `cancel_marker_${Date.now()}`;
    // A nested loop over two small series streams (a single huge generate_series would materialise first).
    const query = `SELECT a.g * 100000 + b.g AS ${marker}, md5(b.g::text) AS hash FROM generate_series(1, 2000) AS a(g) CROSS JOIN generate_series(1, 100000) AS b(g)`;
    openai.push({ match: /Question: Stream everything/, text: sqlReply(query) });
    let batchesSeen = 0;
    const events = await askAndCollect(engine, { question: 'Stream everything', maxRows: 10_000_000, analysis: false }, {}, (event, cancel) => {
      if (event.type === 'partial_results' && ++batchesSeen === 2) cancel();
    });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'cancelled');
    assert.ok(batchesSeen >= 2);
    await engine.close();
    let running: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      running = await sql(url, `SELECT pid, state, query FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`);
      if (running.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(running, [], 'the cancelled statement is gone from pg_stat_activity');
  });

  it('runs EXPLAIN and SHOW statements as they are (no cost check wraps them)', async () => {
    openai.push(
      { match: /Question: Explain the count/, text: sqlReply('EXPLAIN SELECT count(*) FROM orders') },
      { match: /Question: What is the timeout/, text: sqlReply('SHOW statement_timeout') },
    );
    const explained = await askAndCollect(engine, { question: 'Explain the count of orders', analysis: false });
    assert.equal(terminal(explained).type, 'complete');
    assert.match(String(ofType(explained, 'partial_results')[0]!.rows[0]![0]), /Aggregate/);
    const shown = await askAndCollect(engine, { question: 'What is the timeout?', analysis: false });
    assert.equal(terminal(shown).type, 'complete');
    assert.deepEqual(ofType(shown, 'partial_results')[0]!.rows, [['30s']]);
  });

  it('a slow subscriber pauses the cursor: the log never runs far ahead of it', async () => {
    openai.push({ match: /Question: Many rows slowly/, text: sqlReply('SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 200000) AS g') });
    const { session, done } = engine.ask({ question: 'Many rows slowly', maxRows: 1_000_000, analysis: false });
    const events: CenecaEvent[] = [];
    let maxLag = 0;
    let rows = 0;
    for await (const event of session.log.subscribe(0)) {
      events.push(event);
      maxLag = Math.max(maxLag, session.log.lag);
      if (event.type === 'partial_results') {
        rows += event.rows.length;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await done;
    assertStreamContract(events);
    assert.equal(terminal(events).type, 'complete');
    assert.equal(rows, 200_000);
    assert.ok(maxLag <= 12, `the producer ran ${maxLag} events ahead of a slow reader`);
    const etas = events.filter((e): e is Extract<CenecaEvent, { type: 'progress' }> => e.type === 'progress' && e.etaMs !== undefined);
    assert.ok(etas.length > 0, 'a long result reports progress with an ETA while rows stream');
    assert.ok(etas.every((e) => e.step === 5 && e.percentage >= 66 && e.percentage < 84), JSON.stringify(etas[0]));
  });

  it('caps rows and reports truncation', async () => {
    openai.push({ match: /Question: All order items/, text: sqlReply('SELECT id, quantity FROM order_items ORDER BY id') });
    const events = await askAndCollect(engine, { question: 'All order items', maxRows: 250, analysis: false });
    const result = ofType(events, 'result_complete')[0]!;
    assert.equal(result.rowCount, 250);
    assert.equal(result.truncated, true);
    const batches = ofType(events, 'partial_results');
    assert.equal(batches.flatMap((b) => b.rows).length, 250);
    assert.ok(batches.length >= 2, 'rows arrive in more than one batch');
    assert.equal(batches[0]!.rows.length, 100, 'a small first batch, so the first rows show at once');
  });

  it('warns about an expensive query and refuses one above the hard cost limit', async () => {
    const guarded = makeEngine([postgresSource(url)], openAIProvider(openai), { softCostLimit: 10, hardCostLimit: 1e12, analysis: false });
    const refusing = makeEngine([postgresSource(url)], openAIProvider(openai), { softCostLimit: 10, hardCostLimit: 100, analysis: false });
    openai.push({ match: /Question: Expensive/, text: sqlReply('SELECT o.id FROM orders o JOIN order_items oi ON oi.order_id = o.id'), times: 2 });
    try {
      const warned = await askAndCollect(guarded, { question: 'Expensive join' });
      assert.equal(terminal(warned).type, 'complete');
      assert.ok(ofType(warned, 'status').some((s) => /may be slow: estimated cost/.test(s.message)));
      const refused = await askAndCollect(refusing, { question: 'Expensive join' });
      const done = terminal(refused);
      assert.equal(done.type === 'error' && done.code, 'cost_refused');
      assert.ok(done.type === 'error' && done.suggestion);
      assert.ok(!refused.some((e) => e.type === 'execution_started'));
    } finally {
      await guarded.close();
      await refusing.close();
    }
  });

  it('a broken connection string gives a clear error, not a crash', async () => {
    const broken = makeEngine([postgresSource('postgres://nobody@127.0.0.1:1/none')], openAIProvider(openai));
    const garbage = makeEngine([postgresSource('definitely not a url')], openAIProvider(openai));
    try {
      for (const e of [broken, garbage]) {
        const events = await askAndCollect(e, { question: 'Anything at all' });
        const done = terminal(events);
        assert.equal(done.type === 'error' && done.code, 'source_unavailable', JSON.stringify(done));
        assert.equal(done.type === 'error' && done.phase, 'schema');
      }
    } finally {
      await broken.close();
      await garbage.close();
    }
  });
});

/** Chunk boundaries inside words and across the fence markers (``` split as `` + `). */
function splitInside(text: string): string[] {
  const chunks: string[] = [];
  let rest = text;
  const cuts = [3, 7, 2, 5, 1, 9, 4];
  for (let i = 0; rest.length > 0; i++) {
    const fence = rest.indexOf('```');
    const size = fence >= 0 && fence < cuts[i % cuts.length]! + 2 ? fence + 2 : cuts[i % cuts.length]!;
    chunks.push(rest.slice(0, Math.max(1, size)));
    rest = rest.slice(Math.max(1, size));
  }
  return chunks;
}

describe('a query the user wrote', function () {
  this.timeout(30_000);
  let url: string;
  let openai: OpenAIStandIn;
  before(async () => {
    url = await seededDatabase('ceneca_userquery');
    openai = new OpenAIStandIn([]);
    await openai.start();
  });
  after(async () => {
    await openai.stop();
  });

  it('runs through the same validation and streaming, with no model call', async () => {
    const engine = makeEngine([postgresSource(url)], openAIProvider(openai));
    try {
      const { session, done } = engine.runQuery({ query: 'SELECT id, name FROM customers ORDER BY id LIMIT 5' });
      const events = [];
      for await (const event of session.log.subscribe(0)) events.push(event);
      await done;
      assertStreamContract(events);
      assert.equal(terminal(events).type, 'complete');
      assert.equal(ofType(events, 'partial_results').flatMap((b) => b.rows).length, 5);
      assert.equal(openai.requests.length, 0);
    } finally {
      await engine.close();
    }
  });

  it('refuses a write the user typed, before execution', async () => {
    const engine = makeEngine([postgresSource(url)], openAIProvider(openai));
    try {
      const { session, done } = engine.runQuery({ query: 'DELETE FROM customers' });
      const events = [];
      for await (const event of session.log.subscribe(0)) events.push(event);
      await done;
      assertStreamContract(events);
      const end = terminal(events);
      assert.equal(end.type === 'error' && end.code, 'validation_failed');
      assert.ok(!events.some((e) => e.type === 'execution_started'));
      assert.equal((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM customers'))[0]!.n, '300');
    } finally {
      await engine.close();
    }
  });
});
