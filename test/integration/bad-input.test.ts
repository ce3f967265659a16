/**
 * Bad input, every source (PostgreSQL, MongoDB, Slack; Qdrant has the same cases in its own suite): an unreachable
 * host, wrong credentials, an unknown table / collection / channel the model insists on, an empty result, and a
 * model that writes an unusable query twice. Each ends with a clear error event that carries a suggestion (or, for
 * the empty result, completes with the columns and no rows); nothing hangs; no secret is echoed; connections and
 * cursors are released.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { assertStreamContract } from '../../src/core/contract';
import type { Engine } from '../../src/core/engine';
import type { CenecaEvent, EventOf } from '../../src/core/events';
import { MongoSource } from '../../src/core/sources/mongodb';
import { SlackSource } from '../../src/core/sources/slack';
import type { DataSource } from '../../src/core/sources/source';
import { MongoStandIn } from '../support/mongo-standin';
import { SlackStandIn } from '../support/slack-standin';
import { OpenAIStandIn, askAndCollect, makeEngine, ofType, openAIProvider, postgresSource, seededDatabase, sql, sqlReply, terminal, testServerUrl, withDatabase, jsonReply } from '../support/fixtures';

const SECRET = 's3cret-Pa55';
/** Every case must finish well inside this (the sources' own connect timeouts are shorter). */
const CASE_LIMIT_MS = 15_000;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What each source contributes to the shared cases. */
interface SourceCase {
  kind: string;
  /** A source that reaches a working server. */
  working(): DataSource;
  unreachable(port: number): DataSource;
  wrongCredentials(): DataSource;
  /** A query on something that does not exist (the model writes it twice). */
  unknownThing: string;
  /** A valid query with an empty result. */
  emptyQuery: string;
  emptyColumns: string[];
  /** A reply the source cannot use as a query. */
  unusable: string;
  /** Checks nothing is left open on the server after the case. */
  released(): Promise<void>;
}

describe('Bad input, every source', function () {
  this.timeout(40_000);
  let openai: OpenAIStandIn;
  let mongo: MongoStandIn;
  let securedMongo: MongoStandIn;
  let slack: SlackStandIn;
  let pgUrl: string;
  const engines: Engine[] = [];

  before(async function () {
    this.timeout(60_000);
    pgUrl = await seededDatabase('ceneca_bad_input');
  });

  beforeEach(async () => {
    openai = new OpenAIStandIn([]);
    await openai.start();
    mongo = new MongoStandIn();
    await mongo.start();
    mongo.seed('shop', 'orders', [{ orderNo: 1, status: 'new', total: 10 }, { orderNo: 2, status: 'shipped', total: 20 }]);
    securedMongo = new MongoStandIn({ users: [{ username: 'ceneca', password: 'right-password' }] });
    await securedMongo.start();
    slack = new SlackStandIn({
      tokens: { 'xoxp-good': 'user' },
      channels: [{ id: 'C1', name: 'incidents', members: [], messages: [{ ts: '1709251200.000100', user: 'U1', text: 'Outage in eu-west' }] }],
    });
    await slack.start();
  });

  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    await openai.stop();
    await mongo.stop();
    await securedMongo.stop();
    await slack.stop();
  });

  const cases: SourceCase[] = [
    {
      kind: 'postgres',
      working: () => postgresSource(pgUrl),
      unreachable: (port) => postgresSource(`postgres://ceneca:${SECRET}@127.0.0.1:${port}/shop`),
      wrongCredentials: () => postgresSource(withDatabase(testServerUrl(), 'ceneca_bad_input').replace('://', `://no_such_role:${SECRET}@`).replace(/@[^@]*@/, '@')),
      unknownThing: 'SELECT * FROM invoices_2031',
      emptyQuery: "SELECT id, name FROM customers WHERE name = 'Nobody Atall'",
      emptyColumns: ['id', 'name'],
      unusable: 'SELECT * FROM (',
      released: async () => {
        const busy = await sql<{ n: string }>(testServerUrl(), "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'ceneca_bad_input' AND state = 'active' AND pid <> pg_backend_pid()");
        assert.equal(Number(busy[0]!.n), 0, 'no statement is left running');
      },
    },
    {
      kind: 'mongodb',
      working: () => new MongoSource({ id: 'shop', url: mongo.url, database: 'shop' }),
      unreachable: (port) => new MongoSource({ id: 'shop', url: `mongodb://ceneca:${SECRET}@127.0.0.1:${port}/?directConnection=true`, database: 'shop', serverSelectionTimeoutMs: 2_000 }),
      wrongCredentials: () => new MongoSource({ id: 'shop', url: securedMongo.url.replace('mongodb://', `mongodb://ceneca:${SECRET}@`) + '&authSource=admin', database: 'shop' }),
      unknownThing: jsonReply({ collection: 'invoices_2031', operation: 'find', filter: {} }),
      emptyQuery: jsonReply({ collection: 'orders', operation: 'find', filter: { status: 'lost' }, projection: { orderNo: 1, status: 1 } }),
      emptyColumns: [],
      unusable: jsonReply('{"collection": "orders", "operation": "find", "filter": {'),
      released: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(mongo.openCursorIds, [], 'no server cursor is left open');
      },
    },
    {
      kind: 'slack',
      working: () => new SlackSource({ id: 'shop', token: 'xoxp-good', slackApiUrl: slack.apiUrl }),
      unreachable: (port) => new SlackSource({ id: 'shop', token: 'xoxp-good', slackApiUrl: `http://127.0.0.1:${port}/api/` }),
      wrongCredentials: () => new SlackSource({ id: 'shop', token: `xoxp-${SECRET}`, slackApiUrl: slack.apiUrl }),
      unknownThing: jsonReply({ channels: ['#invoices-2031'], query: 'anything' }),
      emptyQuery: jsonReply({ channels: ['#incidents'], query: 'kangaroo' }),
      emptyColumns: ['channel', 'user', 'ts', 'text', 'permalink'],
      unusable: jsonReply('{"channels": ["#incidents"], "query": '),
      released: async () => undefined,
    },
  ];

  function engineFor(source: DataSource): Engine {
    const engine = makeEngine([source], openAIProvider(openai), { analysis: false });
    engines.push(engine);
    return engine;
  }

  async function run(source: DataSource, question: string): Promise<{ events: CenecaEvent[]; done: EventOf<'complete'> | EventOf<'error'>; elapsedMs: number }> {
    const started = Date.now();
    const events = await askAndCollect(engineFor(source), { question });
    assertStreamContract(events);
    const elapsedMs = Date.now() - started;
    assert.ok(elapsedMs < CASE_LIMIT_MS, `took ${elapsedMs} ms`);
    assert.ok(!JSON.stringify(events).includes(SECRET), 'no secret appears in any event');
    return { events, done: terminal(events), elapsedMs };
  }

  function assertFailed(done: EventOf<'complete'> | EventOf<'error'>, code: string, phase: string): EventOf<'error'> {
    assert.equal(done.type, 'error', JSON.stringify(done));
    const error = done as EventOf<'error'>;
    assert.equal(error.code, code, JSON.stringify(error));
    assert.equal(error.phase, phase, JSON.stringify(error));
    assert.ok(error.suggestion && error.suggestion.length > 10, `a suggestion: ${JSON.stringify(error)}`);
    return error;
  }

  for (const c of cases) {
    describe(c.kind, () => {
      it('an unreachable host: source_unavailable at the schema phase, quickly, and the model is never asked', async () => {
        const { done } = await run(c.unreachable(await closedPort()), 'How many orders are there?');
        const error = assertFailed(done, 'source_unavailable', 'schema');
        assert.match(error.message, /ECONNREFUSED|connect|reach|Server selection/i);
        assert.equal(openai.requests.length, 0);
      });

      it('wrong credentials: source_unavailable at the schema phase, naming the cause, no secret echoed', async () => {
        const { done } = await run(c.wrongCredentials(), 'How many orders are there?');
        const error = assertFailed(done, 'source_unavailable', 'schema');
        assert.match(error.message, /auth|role .* does not exist|password/i);
        assert.equal(openai.requests.length, 0);
      });

      it('an unknown table the model insists on: one correction round, then a clear failure', async () => {
        openai.push({ match: /Question: Show the 2031 invoices/, text: c.kind === 'postgres' ? sqlReply(c.unknownThing) : c.unknownThing, times: 2 });
        const { events, done } = await run(c.working(), 'Show the 2031 invoices');
        const error = assertFailed(done, done.type === 'error' && done.phase === 'execute' ? 'execution_failed' : 'validation_failed', done.type === 'error' ? done.phase : 'validate');
        assert.match(error.message, /corrected query failed too/);
        assert.match(error.message, /invoices_2031|invoices-2031/);
        assert.equal(ofType(events, 'query_complete').length, 2, 'the model was asked once more');
        await c.released();
      });

      it('an empty result completes with its columns and no rows', async () => {
        openai.push({ match: /Question: Anything nobody has/, text: c.kind === 'postgres' ? sqlReply(c.emptyQuery) : c.emptyQuery });
        const { events, done } = await run(c.working(), 'Anything nobody has');
        assert.equal(done.type, 'complete', JSON.stringify(done));
        assert.equal(ofType(events, 'result_complete')[0]!.rowCount, 0);
        const results = ofType(events, 'partial_results');
        assert.equal(results.flatMap((e) => e.rows).length, 0);
        if (c.emptyColumns.length > 0) assert.deepEqual(results[0]?.columns?.map((col) => col.name), c.emptyColumns);
        await c.released();
      });

      it('a model that writes an unusable query twice: validation_failed with a suggestion', async () => {
        openai.push({ match: /Question: Broken please/, text: c.kind === 'postgres' ? sqlReply(c.unusable) : c.unusable, times: 2 });
        const { events, done } = await run(c.working(), 'Broken please');
        assertFailed(done, 'validation_failed', 'validate');
        assert.deepEqual(ofType(events, 'query_validated').map((e) => e.ok), [false, false]);
        assert.equal(ofType(events, 'execution_started').length, 0, 'nothing ran');
        await c.released();
      });
    });
  }
});
