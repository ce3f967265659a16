/**
 * The local HTTP API (DESIGN §4) end to end: the real server on 127.0.0.1:0, a real PostgreSQL database, the real
 * OpenAI SDK talking to the loopback stand-in, and real HTTP clients (node:http, fetch, the `eventsource` package).
 * Every SSE stream is checked against the event contract.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { EventSource } from 'eventsource';
import { assertStreamContract } from '../../src/core/contract';
import { isTerminal, type CenecaEvent, type EventOf } from '../../src/core/events';
import type { SessionDescription } from '../../src/core/session/store';
import type { QueryAnswer } from '../../src/server/answers';
import { OpenAIStandIn, ofType, openAIProvider, seededDatabase, sql, sqlReply, rowsOf } from '../support/fixtures';
import { callJson, eventually, seededRandom, sleep, SseClient, startTestApi, type TestApi, type TestApiOptions } from '../support/http-helpers';

const SQL_REQUEST = /^You write one read-only/;
const ANALYSIS_REQUEST = /^You analyse the result/;
const TOP_CUSTOMERS = `SELECT c.name, sum(oi.quantity * oi.unit_price) AS revenue
FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id
WHERE o.status NOT IN ('cancelled', 'refunded')
GROUP BY c.name ORDER BY revenue DESC, c.name LIMIT 10`;
/** The pipeline pauses the cursor while the slowest subscriber is more than this many events behind (single.ts). */
const MAX_SUBSCRIBER_LAG = 8;

type Terminal = EventOf<'complete'> | EventOf<'error'>;

function lastOf(events: readonly CenecaEvent[]): Terminal {
  const last = events[events.length - 1];
  assert.ok(last && isTerminal(last), `the stream ends with a terminal event, not ${last?.type}`);
  return last as Terminal;
}

function sessionHeader(client: SseClient): string {
  const id = client.headers['x-ceneca-session'];
  assert.equal(typeof id, 'string', 'the POST stream names its session in X-Ceneca-Session');
  return id as string;
}

describe('HTTP API on a real PostgreSQL server', function () {
  this.timeout(60_000);
  let databaseUrl: string;
  let openai: OpenAIStandIn;
  const opened: TestApi[] = [];

  const startApi = async (options: Partial<TestApiOptions> = {}): Promise<TestApi> => {
    const api = await startTestApi({ databaseUrl, llm: openAIProvider(openai), ...options });
    opened.push(api);
    return api;
  };

  /** Statements other than ours still running in the test database (optionally only those containing `marker`). */
  const runningStatements = (marker?: string): Promise<unknown[]> =>
    sql(
      databaseUrl,
      `SELECT pid, state, query FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'${marker ? ` AND query LIKE '%${marker}%'` : ''}`,
    );

  before(async function () {
    this.timeout(60_000);
    databaseUrl = await seededDatabase('ceneca_http');
  });

  beforeEach(async () => {
    openai = new OpenAIStandIn([]);
    await openai.start();
  });

  afterEach(async () => {
    for (const api of opened.splice(0)) await api.close();
    await openai.stop();
  });

  it('POST /query/stream answers SSE from the first event: headers, retry, the rows the SQL returns, the analysis', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply(TOP_CUSTOMERS) }, { match: ANALYSIS_REQUEST, text: 'Ten customers lead.', chunkSize: 4 });
    const api = await startApi();
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'Who are our top 10 customers by revenue?' } });
    assert.equal(client.status, 200);
    assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.headers['cache-control'], 'no-cache');
    assert.equal(client.headers['x-accel-buffering'], 'no');
    assert.equal(client.headers['content-encoding'], undefined, 'no gzip unless asked for');
    const id = sessionHeader(client);
    const events = await client.readAll();
    assertStreamContract(events);
    assert.equal(client.retry, 2000);
    assert.equal(events[0]!.id, 1, 'the stream starts at the first event');
    assert.ok(events.every((e) => e.session === id));
    assert.equal(lastOf(events).type, 'complete', JSON.stringify(lastOf(events)));
    const expected = (await sql(databaseUrl, TOP_CUSTOMERS)).map((row) => Object.values(row));
    assert.deepEqual(rowsOf(events), expected);
    assert.equal(ofType(events, 'analysis_complete')[0]?.text, 'Ten customers lead.');

    const described = await callJson<SessionDescription>(api, 'GET', `/sessions/${id}`);
    assert.equal(described.status, 200);
    assert.equal(described.body.state, 'finished');
    assert.equal(described.body.lastEventId, events.length);
    assert.equal(described.body.rowsDelivered, 10);
    assert.equal(described.body.terminal?.type, 'complete');
  });

  it('gzip when the client accepts it, flushed per event: the first event arrives while the model is still thinking', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply('SELECT count(*) AS n FROM customers'), firstByteDelayMs: 500 });
    const api = await startApi();
    const client = await SseClient.open(`${api.url}/query/stream`, { gzip: true, body: { question: 'How many customers are there?', analysis: false } });
    assert.equal(client.status, 200);
    assert.equal(client.headers['content-encoding'], 'gzip');
    assert.match(String(client.headers.vary), /Accept-Encoding/);
    const first = await client.next();
    assert.ok(first, 'an event arrives');
    assert.equal(api.manager.get(first.session)?.session.ended, false, 'the first event arrived before the session ended');
    const events = await client.readAll();
    assertStreamContract(events);
    assert.equal(lastOf(events).type, 'complete');
    assert.deepEqual(rowsOf(events), [['300']]);
  });

  it('sends a `: heartbeat` comment while a stream is quiet', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply('SELECT 1 AS one'), firstByteDelayMs: 400 });
    const api = await startApi({ server: { heartbeatMs: 50 } });
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'One, slowly', analysis: false } });
    const events = await client.readAll();
    assertStreamContract(events);
    assert.equal(lastOf(events).type, 'complete');
    assert.ok(client.comments.filter((c) => c === 'heartbeat').length >= 3, `heartbeats: ${JSON.stringify(client.comments)}`);
  });

  it('resume: a client cut off at random points (10 seeded runs) reconnects with Last-Event-ID and gets every event exactly once, in order', async () => {
    const api = await startApi({ source: { batching: { firstRows: 50, minRows: 50, maxRows: 50 } } });
    const random = seededRandom(0xce4eca);
    let totalCuts = 0;
    for (let run = 1; run <= 10; run++) {
      const query = `SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 1500) AS g ORDER BY g`;
      openai.push(
        { match: new RegExp(`^You write one read-only[\\s\\S]*Resume run ${run}:`), text: sqlReply(query), chunkSize: 3, chunkDelayMs: 4 },
        { match: new RegExp(`^You analyse the result[\\s\\S]*Resume run ${run}:`), text: `Run ${run}: fifteen hundred numbers.`, chunkSize: 2, chunkDelayMs: 2 },
      );
      const uninterrupted = await SseClient.open(`${api.url}/query/stream`, { body: { question: `Resume run ${run}: every number with its hash`, maxRows: 5000 } });
      const id = sessionHeader(uninterrupted);
      const whole = uninterrupted.readAll();
      const { events: resumed, cuts } = await readWithCuts(api, id, random);
      const reference = await whole;
      assertStreamContract(reference);
      assertStreamContract(resumed);
      assert.equal(lastOf(reference).type, 'complete', JSON.stringify(lastOf(reference)));
      assert.deepEqual(resumed, reference, `run ${run}: the resumed stream equals the uninterrupted one`);
      assert.ok(cuts >= 3, `run ${run} was cut ${cuts} times`);
      totalCuts += cuts;
    }
    assert.ok(totalCuts >= 30);
  });

  it('the `eventsource` package consumes GET /sessions/:id/events and resumes with Last-Event-ID after a cut', async () => {
    const query = 'SELECT id, name, email FROM customers ORDER BY id';
    openai.push({ match: SQL_REQUEST, text: sqlReply(query), chunkSize: 4, chunkDelayMs: 5 }, { match: ANALYSIS_REQUEST, text: 'Three hundred customers.', chunkSize: 3, chunkDelayMs: 5 });
    const api = await startApi({ server: { retryMs: 50 } });
    // Start the session and leave at once: it runs on with no reader (no orphan rule by default).
    const starter = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'List every customer' } });
    const id = sessionHeader(starter);
    starter.cut();

    const requestHeaders: Array<Record<string, string>> = [];
    const received: CenecaEvent[] = [];
    let lastIdBeforeReconnect: number | undefined;
    const source = new EventSource(`${api.url}/sessions/${id}/events`, {
      fetch: async (input, init) => {
        requestHeaders.push({ ...init.headers });
        if (requestHeaders.length === 2) lastIdBeforeReconnect = received[received.length - 1]?.id;
        const response = await fetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${api.token}` } });
        // The first connection dies after 3000 characters, mid-frame most likely.
        return requestHeaders.length === 1 ? cutAfter(response, 3000) : response;
      },
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no terminal event; got ${received.length} events`)), 20_000);
      source.addEventListener('message', (message) => {
        const event = JSON.parse(message.data) as CenecaEvent;
        assert.equal(message.lastEventId, String(event.id));
        received.push(event);
        if (isTerminal(event)) {
          clearTimeout(timer);
          source.close();
          resolve();
        }
      });
    });
    await api.manager.get(id)!.done;
    assertStreamContract(received);
    assert.equal(lastOf(received).type, 'complete', 'the session completed although its first reader left');
    assert.deepEqual(received, api.manager.get(id)!.session.log.snapshot(), 'every event exactly once, in order');
    assert.ok(requestHeaders.length >= 2, 'the client reconnected');
    assert.equal(requestHeaders[0]!['Last-Event-ID'], undefined);
    assert.ok(lastIdBeforeReconnect !== undefined && lastIdBeforeReconnect > 0);
    assert.equal(requestHeaders[1]!['Last-Event-ID'], String(lastIdBeforeReconnect));
    assert.equal(rowsOf(received).length, 300);
  });

  it('cancel while the model streams: error{cancelled}, no open request at the model, nothing running in PostgreSQL', async () => {
    const slowSql = sqlReply(`SELECT name FROM customers ORDER BY name -- ${'a long comment that streams slowly '.repeat(20)}`);
    openai.push({ match: SQL_REQUEST, text: slowSql, chunkSize: 4, chunkDelayMs: 30 });
    const api = await startApi();
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'Customer names, slowly' } });
    const id = sessionHeader(client);
    assert.ok(await client.until((e) => e.type === 'partial_query'), 'the query starts streaming');
    assert.equal(openai.activeStreams, 1, 'the model is streaming');
    const cancelled = await callJson(api, 'POST', `/sessions/${id}/cancel`);
    assert.equal(cancelled.status, 202, JSON.stringify(cancelled.body));
    const events = await client.readAll();
    assertStreamContract(events);
    const last = lastOf(events);
    assert.equal(last.type, 'error');
    assert.equal(last.type === 'error' && last.code, 'cancelled');
    assert.equal(last.type === 'error' && last.phase, 'generate');
    assert.ok(await eventually(() => openai.activeStreams === 0, 2_000), `open model streams: ${openai.activeStreams}`);
    assert.deepEqual(await runningStatements(), []);
    const again = await callJson(api, 'POST', `/sessions/${id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'already_ended');
  });

  it('cancel while rows stream: error{cancelled}, and the statement is gone from pg_stat_activity', async () => {
    const marker = `ceneca_http_cancel_${process.pid}`;
    const query = `SELECT a.g * 100000 + b.g AS n, md5(b.g::text || '${marker}') AS h FROM generate_series(1, 2000) AS a(g) CROSS JOIN generate_series(1, 100000) AS b(g)`;
    openai.push({ match: SQL_REQUEST, text: sqlReply(query) });
    const api = await startApi();
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'Every number there is', maxRows: 10_000_000 } });
    const id = sessionHeader(client);
    assert.ok(await client.until((e) => e.type === 'partial_results'), 'rows start streaming');
    assert.ok((await runningStatements(marker)).length > 0, 'the statement runs on the server before the cancel');
    const cancelled = await callJson(api, 'POST', `/sessions/${id}/cancel`);
    assert.equal(cancelled.status, 202);
    const events = await client.readAll();
    assertStreamContract(events);
    const last = lastOf(events);
    assert.equal(last.type === 'error' && last.code, 'cancelled', JSON.stringify(last));
    assert.equal(ofType(events, 'result_complete').length, 0);
    assert.ok(await eventually(async () => (await runningStatements(marker)).length === 0, 3_000), 'no backend still runs the cancelled statement');
    assert.equal(openai.activeStreams, 0);
  });

  it('a client that leaves unsubscribes at once: the cursor it held back goes on, and the session completes with no reader', async () => {
    // About 53 MB of rows: far more than the sockets between server and client can hold.
    const total = 100_000;
    const query = `SELECT g AS n, repeat(md5(g::text), 16) AS pad FROM generate_series(1, ${total}) AS g`;
    openai.push({ match: SQL_REQUEST, text: sqlReply(query) });
    const api = await startApi({ source: { batching: { firstRows: 1000, minRows: 1000, maxRows: 1000 } } });
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'A hundred thousand wide rows', maxRows: total, analysis: false } });
    const id = sessionHeader(client);
    const managed = api.manager.get(id)!;
    assert.ok(await client.until((e) => e.type === 'partial_results'));
    // The client stops reading: its socket fills up and the cursor pauses behind it.
    assert.ok(await eventually(() => managed.session.log.lag >= MAX_SUBSCRIBER_LAG, 5_000), `lag ${managed.session.log.lag}`);
    const pausedAt = managed.session.log.lastId;
    await sleep(100);
    assert.ok(managed.session.log.lastId <= pausedAt + 2, 'the cursor stays paused while the reader is connected');
    assert.equal(managed.session.ended, false);
    client.cut();
    await managed.done;
    const last = lastOf(managed.session.log.snapshot());
    assert.equal(last.type, 'complete', JSON.stringify(last));
    assert.equal(last.type === 'complete' && last.summary.rowCount, total);
    const health = await callJson<{ subscribers: number }>(api, 'GET', '/health');
    assert.equal(health.body.subscribers, 0);
  });

  it('orphanCancelMs: a session whose last reader left is cancelled after the grace period', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply('SELECT 1 AS one'), chunkSize: 2, chunkDelayMs: 40 });
    const api = await startApi({ server: { orphanCancelMs: 100 } });
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'One, then nobody listens' } });
    const id = sessionHeader(client);
    assert.ok(await client.next());
    client.cut();
    await api.manager.get(id)!.done;
    const last = lastOf(api.manager.get(id)!.session.log.snapshot());
    assert.equal(last.type === 'error' && last.code, 'cancelled');
    assert.match(last.type === 'error' ? last.message : '', /every reader left/);
  });

  it('queue: with the cap at 2, five sessions run two at a time, in order, each stream with exactly one terminal event', async () => {
    const api = await startApi({ manager: { maxRunning: 2 } });
    const order: string[] = [];
    let mostRunning = 0;
    api.manager.onChange((managed) => {
      if (managed.state !== 'running') return;
      mostRunning = Math.max(mostRunning, api.manager.stats().running);
      order.push(managed.question ?? '?');
    });
    const questions = [1, 2, 3, 4, 5].map((n) => `Queue question ${n}: which number?`);
    for (const [i] of questions.entries()) openai.push({ match: new RegExp(`Queue question ${i + 1}:`), text: sqlReply(`SELECT ${i + 1} AS n`), firstByteDelayMs: 150 });
    const clients: SseClient[] = [];
    // One after another, so the order of arrival is known.
    for (const question of questions) clients.push(await SseClient.open(`${api.url}/query/stream`, { body: { question, analysis: false } }));
    const streams = await Promise.all(clients.map((c) => c.readAll()));
    streams.forEach((events, i) => {
      assertStreamContract(events);
      assert.equal(events.filter((e) => isTerminal(e)).length, 1);
      assert.equal(lastOf(events).type, 'complete', `session ${i + 1}: ${JSON.stringify(lastOf(events))}`);
      assert.deepEqual(rowsOf(events), [[i + 1]]);
    });
    assert.deepEqual(order, questions, 'they started in the order they arrived');
    assert.equal(mostRunning, 2);
    const queuedPositions = streams.map((events) => ofType(events, 'status').filter((s) => s.phase === 'queued').map((s) => Number(/position (\d+)/.exec(s.message)?.[1])));
    assert.deepEqual(queuedPositions[0], []);
    assert.deepEqual(queuedPositions[1], []);
    assert.deepEqual([...new Set(queuedPositions[4])], [3, 2, 1], 'the last one heard its place go 3 → 2 → 1');
    assert.equal(queuedPositions[2]![0], 1);
    assert.deepEqual(api.manager.stats(), { running: 0, queued: 0, finished: 5 });
  });

  it('slow consumer: one event per 20 ms while 200,000 rows stream; every row arrives and the cursor waits for the reader', async () => {
    const total = 200_000;
    const batchRows = 1000;
    const api = await startApi({ source: { batching: { firstRows: batchRows, minRows: batchRows, maxRows: batchRows } } });
    // Wide rows (about 530 bytes of JSON each), so what sockets can buffer is a small part of the whole result.
    const query = `SELECT g AS n, repeat(md5(g::text), 16) AS pad FROM generate_series(1, ${total}) AS g`;
    openai.push({ match: SQL_REQUEST, text: sqlReply(query) });
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'Every number, padded', maxRows: total, analysis: false } });
    const id = sessionHeader(client);
    const { session } = api.manager.get(id)!;

    let rowsReceived = 0;
    let mostLag = 0;
    let mostAhead = 0;
    let readWhenTenthArrived: number | undefined;
    let bytesPerRow = 0;
    for (let event = await client.next(); event; event = await client.next()) {
      if (event.type === 'partial_results') {
        assert.equal(event.rows[0]?.[0], rowsReceived + 1, 'rows arrive in order, none lost');
        rowsReceived += event.rows.length;
        bytesPerRow = JSON.stringify(event.rows).length / event.rows.length;
      }
      // What the database has handed over so far (rows appended to the session log) against what this client has.
      const readFromDatabase = (await api.store.describe(id))!.rowsDelivered;
      mostLag = Math.max(mostLag, session.log.lag);
      mostAhead = Math.max(mostAhead, readFromDatabase - rowsReceived);
      if (readWhenTenthArrived === undefined && rowsReceived >= total / 10) readWhenTenthArrived = readFromDatabase;
      await sleep(20);
    }
    const events = client.events;
    assertStreamContract(events);
    assert.equal(lastOf(events).type, 'complete');
    assert.equal(rowsReceived, total);
    assert.equal(ofType(events, 'result_complete')[0]?.rowCount, total);

    // The writer pulls an event only once the previous one was accepted, so the log's lag is what the cursor sees:
    // it reached the limit (the cursor had to wait) and never passed it by more than the events of one step.
    assert.ok(mostLag >= MAX_SUBSCRIBER_LAG, `the reader fell ${mostLag} events behind: the cursor never had to wait`);
    assert.ok(mostLag <= MAX_SUBSCRIBER_LAG + 2, `the log ran ${mostLag} events ahead of the HTTP writer`);
    // End to end: the rows read ahead of this client are those the log may hold plus what sockets can buffer.
    const socketRows = Math.ceil(transportBufferBytes() / bytesPerRow);
    const bound = (MAX_SUBSCRIBER_LAG + 2) * batchRows + socketRows;
    assert.ok(bound < total / 2, `the bound (${bound} rows) is small enough to tell a paused cursor from one that ran to the end`);
    assert.ok(mostAhead <= bound, `the database ran ${mostAhead} rows ahead of the client (bound ${bound})`);
    assert.ok(readWhenTenthArrived !== undefined && readWhenTenthArrived < total, `when a tenth had arrived the database had read ${readWhenTenthArrived} of ${total} rows`);
  });

  it('bad input: 401, 413, 415 and 400 with a message naming the problem; none of them leaves a session behind', async () => {
    const api = await startApi();
    const question = { question: 'How many customers are there?' };
    const cases: Array<{ name: string; path?: string; call: Parameters<typeof callJson>[3]; status: number; code: string; message: RegExp }> = [
      { name: 'no token', call: { body: question, token: null }, status: 401, code: 'unauthorized', message: /missing bearer token/ },
      { name: 'wrong token', call: { body: question, token: 'not-the-token' }, status: 401, code: 'unauthorized', message: /invalid bearer token/ },
      { name: 'another scheme', call: { body: question, token: null, headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }, status: 401, code: 'unauthorized', message: /missing bearer token/ },
      { name: 'oversized body', call: { body: { question: 'x'.repeat(70 * 1024) } }, status: 413, code: 'payload_too_large', message: /larger than 65536 bytes/ },
      { name: 'malformed JSON', call: { rawBody: '{"question": "How many' }, status: 400, code: 'bad_request', message: /not valid JSON/ },
      { name: 'empty body', call: { rawBody: '' , headers: { 'Content-Type': 'application/json' } }, status: 400, code: 'bad_request', message: /body is empty/ },
      { name: 'not an object', call: { body: ['How many customers?'] }, status: 400, code: 'bad_request', message: /must be a JSON object/ },
      { name: 'question missing', call: { body: { maxRows: 5 } }, status: 400, code: 'bad_request', message: /^question is required$/ },
      { name: 'question of the wrong type', call: { body: { question: 42 } }, status: 400, code: 'bad_request', message: /^question must be a string$/ },
      { name: 'empty question', call: { body: { question: '   ' } }, status: 400, code: 'bad_request', message: /^question must not be empty$/ },
      { name: 'question too long', call: { body: { question: 'x'.repeat(4001) } }, status: 400, code: 'bad_request', message: /at most 4000 characters/ },
      { name: 'maxRows a string', call: { body: { ...question, maxRows: '10' } }, status: 400, code: 'bad_request', message: /^maxRows must be a number$/ },
      { name: 'maxRows negative', call: { body: { ...question, maxRows: -1 } }, status: 400, code: 'bad_request', message: /^maxRows must be positive$/ },
      { name: 'analysis not a boolean', call: { body: { ...question, analysis: 'yes' } }, status: 400, code: 'bad_request', message: /^analysis must be true or false$/ },
      { name: 'bad priority', call: { body: { ...question, priority: 'urgent' } }, status: 400, code: 'bad_request', message: /^priority must be/ },
      { name: 'unknown field', call: { body: { ...question, limit: 5 } }, status: 400, code: 'bad_request', message: /unknown field "limit"/ },
      { name: 'unknown source id', call: { body: { ...question, sources: ['nope'] } }, status: 400, code: 'bad_request', message: /unknown source id "nope" \(configured: shop\)/ },
      { name: 'wrong content type', call: { rawBody: 'question=hi', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, status: 415, code: 'unsupported_media_type', message: /Content-Type: application\/json/ },
      { name: 'classify, wrong types', path: '/classify', call: { body: { question: ['a'] } }, status: 400, code: 'bad_request', message: /question must be a string/ },
      { name: 'whole answer, unknown source', path: '/query', call: { body: { ...question, sources: ['shop', 'other'] } }, status: 400, code: 'bad_request', message: /unknown source id "other"/ },
      { name: 'metrics without a token', path: '/metrics', call: { token: null }, status: 401, code: 'unauthorized', message: /bearer/ },
    ];
    for (const c of cases) {
      const method = c.path === '/metrics' ? 'GET' : 'POST';
      const reply = await callJson<{ code: string; message: string }>(api, method, c.path ?? '/query/stream', c.call);
      assert.equal(reply.status, c.status, `${c.name}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.code, c.code, c.name);
      assert.match(reply.body.message, c.message, c.name);
      if (c.status === 401) assert.match(reply.headers.get('www-authenticate') ?? '', /^Bearer/, c.name);
    }
    assert.equal(await chunkedUploadStatus(api, 200 * 1024), 413, 'a chunked body over the cap is refused without reading it all');
    assert.deepEqual(api.manager.stats(), { running: 0, queued: 0, finished: 0 });
    assert.equal(openai.requests.length, 0, 'no request reached the model');
  });

  it('POST /classify answers {sources:[{id, kind, reason}]}; POST /query answers one JSON body, or the error', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply(TOP_CUSTOMERS) }, { match: ANALYSIS_REQUEST, text: 'A clear leader.' });
    openai.push({ match: /Question: What is the meaning of life/, text: 'I cannot answer that with SQL.' });
    const api = await startApi();

    const classified = await callJson<{ session: string; sources: unknown[] }>(api, 'POST', '/classify', { body: { question: 'Who are our top customers?' } });
    assert.equal(classified.status, 200, JSON.stringify(classified.body));
    assert.deepEqual(classified.body.sources, [{ id: 'shop', kind: 'postgres', reason: 'the only configured source' }]);
    assert.equal(classified.headers.get('x-ceneca-session'), classified.body.session);

    const answered = await callJson<QueryAnswer>(api, 'POST', '/query', { body: { question: 'Who are our top 10 customers by revenue?' } });
    assert.equal(answered.status, 200, JSON.stringify(answered.body).slice(0, 500));
    const answer = answered.body;
    assert.equal(answer.status, 'complete');
    assert.equal(answer.query, TOP_CUSTOMERS);
    assert.equal(answer.source, 'shop');
    assert.deepEqual(answer.columns.map((c) => c.name), ['name', 'revenue']);
    assert.deepEqual(answer.rows, (await sql(databaseUrl, TOP_CUSTOMERS)).map((row) => Object.values(row)));
    assert.equal(answer.rowCount, 10);
    assert.equal(answer.truncated, false);
    assert.equal(answer.analysis, 'A clear leader.');
    assert.equal(answer.summary?.rowCount, 10);
    assert.equal(answer.error, undefined);

    const failed = await callJson<QueryAnswer>(api, 'POST', '/query', { body: { question: 'What is the meaning of life?', analysis: false } });
    assert.equal(failed.status, 422, JSON.stringify(failed.body));
    assert.equal(failed.body.status, 'error');
    assert.equal(failed.body.error?.code, 'llm_no_query');
    assert.ok(failed.body.error?.suggestion);
  });

  it('GET /sessions/:id/events: ?after=, 204 after the end, 400 beyond the last id, 404 unknown, 410 resume_gap with firstId', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply('SELECT id FROM customers ORDER BY id'), chunkSize: 3, times: 2 });
    // A tiny log: only the last 5 events stay once everyone has them.
    const api = await startApi({ manager: { sessionDefaults: { retainEvents: 5 } } });
    const client = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'Every customer id', analysis: false } });
    const id = sessionHeader(client);
    const events = await client.readAll();
    assertStreamContract(events);
    const lastId = lastOf(events).id;
    assert.ok(lastId > 10);

    const gap = await callJson<{ code: string; firstId: number; message: string }>(api, 'GET', `/sessions/${id}/events`, { headers: { 'Last-Event-ID': '1' } });
    assert.equal(gap.status, 410);
    assert.equal(gap.body.code, 'resume_gap');
    assert.equal(gap.body.firstId, lastId - 4);
    const tail = await SseClient.open(`${api.url}/sessions/${id}/events?after=${lastId - 3}`);
    assert.equal(tail.status, 200);
    assert.deepEqual(await tail.readAll(), events.slice(-3));

    const done = await callJson(api, 'GET', `/sessions/${id}/events?after=${lastId}`);
    assert.equal(done.status, 204, 'nothing more will come: EventSource stops reconnecting');
    const beyond = await callJson<{ code: string }>(api, 'GET', `/sessions/${id}/events?after=${lastId + 5}`);
    assert.equal(beyond.status, 400);
    const notANumber = await callJson<{ message: string }>(api, 'GET', `/sessions/${id}/events`, { headers: { 'Last-Event-ID': 'abc' } });
    assert.equal(notANumber.status, 400);
    assert.match(notANumber.body.message, /Last-Event-ID/);
    for (const [method, path] of [['GET', '/sessions/nope'], ['GET', '/sessions/nope/events'], ['POST', '/sessions/nope/cancel']] as const) {
      const missing = await callJson<{ code: string }>(api, method, path);
      assert.equal(missing.status, 404, `${method} ${path}`);
      assert.equal(missing.body.code, 'not_found');
    }
  });

  it('POST /cross-database-query/stream answers with a plan, its operation and the combined rows', async () => {
    const plan = { operations: [{ id: 'per_channel', source: 'shop', goal: 'Orders per channel', dependsOn: [], produces: ['channel', 'orders'] }], combine: { goal: 'channels by orders' } };
    openai.push(
      { match: /^You plan how to answer/, text: '```json\n' + JSON.stringify(plan) + '\n```' },
      { match: /Question: Orders per channel/, text: sqlReply('SELECT channel, count(*) AS orders FROM orders GROUP BY channel') },
      { match: /^You write one read-only DuckDB/, text: sqlReply('SELECT channel, CAST(orders AS BIGINT) AS orders FROM per_channel ORDER BY orders DESC, channel') },
    );
    const api = await startApi();
    const client = await SseClient.open(`${api.url}/cross-database-query/stream`, { body: { question: 'Orders per sales channel?', analysis: false } });
    const events = await client.readAll();
    assertStreamContract(events);
    assert.equal(lastOf(events).type, 'complete', JSON.stringify(lastOf(events)));
    const expected = (await sql<{ channel: string; orders: string }>(databaseUrl, 'SELECT channel, count(*) AS orders FROM orders GROUP BY channel'))
      .map((r) => [r.channel, Number(r.orders)] as [string, number])
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    assert.deepEqual(ofType(events, 'partial_results').filter((e) => e.resultId === 'combine:1').flatMap((e) => e.rows), expected);
    assert.ok(ofType(events, 'plan_validated').length === 1);
  });

  it('routes: 404 and 405 as JSON, /health without a token, /metrics with the metric names', async () => {
    openai.push({ match: SQL_REQUEST, text: sqlReply('SELECT count(*) AS n FROM orders') });
    openai.push({ match: /Question: Nonsense please/, text: 'No SQL here.' });
    const api = await startApi();

    const unknown = await callJson<{ code: string }>(api, 'GET', '/nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'not_found');
    const wrongMethod = await callJson<{ code: string }>(api, 'GET', '/query/stream');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    const deleteSession = await callJson(api, 'DELETE', '/sessions/abc');
    assert.equal(deleteSession.status, 405);
    assert.equal(deleteSession.headers.get('allow'), 'GET');

    const health = await callJson<{ status: string; version: string; sessions: { running: number } }>(api, 'GET', '/health', { token: null });
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.match(health.body.version, /^\d+\.\d+\.\d+/);
    assert.equal(health.body.sessions.running, 0);

    const ok = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'How many orders?', analysis: false } });
    assertStreamContract(await ok.readAll());
    const failing = await SseClient.open(`${api.url}/query/stream`, { body: { question: 'Nonsense please', analysis: false } });
    const failed = await failing.readAll();
    assertStreamContract(failed);
    const failure = lastOf(failed);
    assert.equal(failure.type === 'error' && failure.code, 'llm_no_query');

    const metrics = await callJson<string>(api, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const text = metrics.body;
    for (const name of [
      'ceneca_sessions{state="finished"} 2',
      'ceneca_sessions{state="running"} 0',
      'ceneca_sessions{state="queued"} 0',
      'ceneca_sse_events_sent_total',
      'ceneca_sse_bytes_sent_total',
      'ceneca_sse_subscribers 0',
      'ceneca_sse_subscriber_lag_events',
      'ceneca_sse_delivery_delay_seconds_bucket',
      'ceneca_phase_duration_seconds_count{phase="generate",resource="model"} 2',
      'ceneca_phase_duration_seconds_count{phase="execute",resource="database"} 1',
      'ceneca_session_errors_total{code="llm_no_query"} 1',
      'process_resident_memory_bytes',
    ]) {
      assert.ok(text.includes(name), `/metrics has ${name}`);
    }
    const sent = Number(/^ceneca_sse_events_sent_total (\d+)/m.exec(text)?.[1]);
    assert.equal(sent, ok.events.length + failed.length);
  });

  it('CORS is off unless origins are configured; then only those get Access-Control-Allow-Origin and a preflight answer', async () => {
    const closed = await startApi();
    const noCors = await callJson(closed, 'GET', '/health', { headers: { Origin: 'https://app.example' } });
    assert.equal(noCors.headers.get('access-control-allow-origin'), null);
    const noPreflight = await callJson(closed, 'OPTIONS', '/query/stream', { token: null, headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(noPreflight.status, 405);

    const api = await startApi({ server: { cors: { allowedOrigins: ['https://app.example'] } } });
    const preflight = await callJson(api, 'OPTIONS', '/query/stream', { token: null, headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    const allowed = await callJson(api, 'GET', '/health', { headers: { Origin: 'https://app.example' } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    const other = await callJson(api, 'GET', '/health', { headers: { Origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const otherPreflight = await callJson(api, 'OPTIONS', '/query/stream', { token: null, headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(otherPreflight.status, 403);
  });
});

/** Reads a session's events, cutting the connection at random points and resuming with Last-Event-ID each time. */
async function readWithCuts(api: TestApi, id: string, random: () => number): Promise<{ events: CenecaEvent[]; cuts: number }> {
  const received: CenecaEvent[] = [];
  let cuts = 0;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const lastId = received[received.length - 1]?.id;
    const client = await SseClient.open(`${api.url}/sessions/${id}/events`, {
      headers: lastId === undefined ? {} : { 'Last-Event-ID': String(lastId) },
      cutAfterChars: 200 + Math.floor(random() * 6000),
    });
    assert.equal(client.status, 200, `attempt ${attempt} after ${lastId}`);
    for (let event = await client.next(); event; event = await client.next()) received.push(event);
    const last = received[received.length - 1];
    if (last && isTerminal(last)) return { events: received, cuts };
    cuts++;
  }
  throw new Error(`no terminal event after ${cuts} reconnects`);
}

/** A fetch Response whose body ends after `limit` bytes, as if the connection had dropped. */
function cutAfter(response: Response, limit: number): Response {
  const reader = response.body!.getReader();
  let passed = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (passed >= limit) {
        await reader.cancel();
        controller.close();
        return;
      }
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      const piece = value.subarray(0, limit - passed);
      passed += piece.length;
      controller.enqueue(piece);
    },
    cancel: () => reader.cancel(),
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

/** Sends a body with no Content-Length, in 1 KiB chunks, and returns the status the server answers with. */
function chunkedUploadStatus(api: TestApi, bytes: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${api.url}/query/stream`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${api.token}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(1024, 'x');
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes && !answered) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    req.write('{"question":"');
    pump();
  });
}

/** What the loopback sockets between server and client may hold: both kernel buffers at their largest, and Node's stream buffers. */
function transportBufferBytes(): number {
  const maxOf = (path: string, fallback: number): number => {
    try {
      return Number(readFileSync(path, 'utf8').trim().split(/\s+/)[2]) || fallback;
    } catch {
      return fallback;
    }
  };
  const streamBuffers = 4 * 64 * 1024;
  return maxOf('/proc/sys/net/ipv4/tcp_wmem', 4 * 1024 * 1024) + maxOf('/proc/sys/net/ipv4/tcp_rmem', 6 * 1024 * 1024) + streamBuffers;
}
