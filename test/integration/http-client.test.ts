/**
 * The reference client (src/client) against the real server: resumption across cut connections, the resume-gap
 * refusal, and — with two server instances sharing a real Redis — a stream that reconnects to the other instance
 * behind a "load balancer", and a cancel sent to the instance that does not run the session.
 */
import assert from 'node:assert/strict';
import { CenecaApiError, CenecaClient, ResumeGapError } from '../../src/client';
import { assertStreamContract } from '../../src/core/contract';
import { Engine } from '../../src/core/engine';
import type { CenecaEvent } from '../../src/core/events';
import { defaultEngineSettings } from '../../src/core/pipeline/single';
import { SessionManager } from '../../src/core/session/manager';
import { RedisSessionStore } from '../../src/server/redisStore';
import { createApiServer, type ApiServer } from '../../src/server/server';
import { OpenAIStandIn, openAIProvider, postgresSource, seededDatabase, sqlReply } from '../support/fixtures';
import { TEST_TOKEN, seededRandom, startTestApi, type TestApi } from '../support/http-helpers';
import { RedisUnavailableError, startRedisServer, type RedisServer } from '../support/redis-server';

const MANY_ROWS = 'SELECT g AS n, md5(g::text) AS label FROM generate_series(1, 3000) AS g';

/** A fetch whose streamed bodies break after a number of bytes chosen by `cutAfter` (undefined: never). */
function cuttingFetch(cutAfter: () => number | undefined, route: (url: string, call: number) => string = (url) => url): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const url = route(String(input), calls.length);
    calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname} ${new Headers(init?.headers).get('last-event-id') ?? ''}`.trim());
    const response = await fetch(url, init);
    const limit = cutAfter();
    if (!response.body || limit === undefined || !response.ok) return response;
    const reader = response.body.getReader();
    let passed = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        if (passed + value.byteLength >= limit) {
          controller.enqueue(value.subarray(0, Math.max(0, limit - passed)));
          await reader.cancel();
          controller.error(new TypeError('network connection lost (cut by the test)'));
          return;
        }
        passed += value.byteLength;
        controller.enqueue(value);
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: wrapped, calls };
}

async function collect(stream: AsyncIterable<CenecaEvent>): Promise<CenecaEvent[]> {
  const events: CenecaEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('Reference client (src/client)', function () {
  this.timeout(60_000);
  let databaseUrl: string;
  let openai: OpenAIStandIn;
  let api: TestApi;

  before(async () => {
    databaseUrl = await seededDatabase('ceneca_client');
  });
  beforeEach(async () => {
    openai = new OpenAIStandIn([]);
    await openai.start();
    api = await startTestApi({ databaseUrl, llm: openAIProvider(openai), settings: { analysis: false, maxRows: 10_000 } });
  });
  afterEach(async () => {
    await api.close();
    await openai.stop();
  });

  it('resumes across connections cut at random byte offsets: every event exactly once, in order, equal to the log', async () => {
    const random = seededRandom(7);
    for (let run = 0; run < 5; run++) {
      openai.push({ match: /Question: many rows/, text: sqlReply(MANY_ROWS) });
      let cuts = 0;
      const { fetch, calls } = cuttingFetch(() => (cuts++ < 3 ? 200 + Math.floor(random() * 20_000) : undefined));
      const client = new CenecaClient({ baseUrl: api.url, token: TEST_TOKEN, fetch, reconnect: { initialDelayMs: 5, maxDelayMs: 20 }, random });
      const stream = client.stream({ question: 'many rows', analysis: false });
      const events = await collect(stream);
      assertStreamContract(events);
      const session = api.manager.get(stream.sessionId!)!.session;
      assert.deepEqual(events.map((e) => e.id), session.log.snapshot().map((e) => e.id), `run ${run}: ${calls.join(' | ')}`);
      assert.deepEqual(events, session.log.snapshot());
      assert.equal(events[events.length - 1]!.type, 'complete');
      assert.ok(calls.filter((c) => c.startsWith('GET /sessions/')).length >= 1, 'it reconnected');
      assert.ok(calls.slice(1).every((c) => /^GET \/sessions\/[^/]+\/events \d+$/.test(c)), `every reconnect names the last id: ${calls.join(' | ')}`);
    }
  });

  it('backs off exponentially with jitter, within the policy', () => {
    const client = new CenecaClient({ baseUrl: 'http://127.0.0.1:9', token: 't', reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, random: seededRandom(1) });
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => client.backoffMs(attempt));
    const ceilings = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((d, i) => assert.ok(d >= ceilings[i]! / 2 && d <= ceilings[i]!, `attempt ${i + 1}: ${d} ms within [${ceilings[i]! / 2}, ${ceilings[i]}]`));
  });

  it('surfaces resume_gap when the events after the last seen id are gone, and API errors with their code', async () => {
    await api.close();
    api = await startTestApi({ databaseUrl, llm: openAIProvider(openai), settings: { analysis: false, maxRows: 10_000 }, manager: { sessionDefaults: { rowBytesBudget: 4096 } } });
    openai.push({ match: /Question: many rows/, text: sqlReply(MANY_ROWS) });
    const client = new CenecaClient({ baseUrl: api.url, token: TEST_TOKEN });
    const stream = client.stream({ question: 'many rows', analysis: false });
    await collect(stream);
    await assert.rejects(collect(client.follow(stream.sessionId!, 2)), (error: unknown) => error instanceof ResumeGapError && error.firstId > 3 && error.afterId === 2);
    await assert.rejects(collect(client.follow('no-such-session')), (error: unknown) => error instanceof CenecaApiError && error.status === 404);
    const wrongToken = new CenecaClient({ baseUrl: api.url, token: 'wrong' });
    await assert.rejects(collect(wrongToken.stream({ question: 'x' })), (error: unknown) => error instanceof CenecaApiError && error.status === 401);
    await assert.rejects(collect(client.stream({ question: '' })), (error: unknown) => error instanceof CenecaApiError && error.status === 400);
  });
});

describe('Two server instances sharing a real Redis', function () {
  this.timeout(60_000);
  let redis: RedisServer | undefined;
  let databaseUrl: string;
  let openai: OpenAIStandIn;
  const instances: Array<{ server: ApiServer; engine: Engine; store: RedisSessionStore; manager: SessionManager }> = [];

  before(async function () {
    this.timeout(120_000);
    try {
      redis = await startRedisServer();
    } catch (error) {
      if (error instanceof RedisUnavailableError) this.skip();
      throw error;
    }
    databaseUrl = await seededDatabase('ceneca_client_redis');
  });
  after(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    openai = new OpenAIStandIn([]);
    await openai.start();
    const keyPrefix = `ceneca-test-${Date.now()}:`; // one namespace per test, shared by both instances
    for (const name of ['a', 'b']) {
      const store = new RedisSessionStore({ url: redis!.url, instanceId: `instance-${name}`, keyPrefix });
      const manager = new SessionManager(store);
      const engine = new Engine({ sources: [postgresSource(databaseUrl)], llm: openAIProvider(openai), settings: { ...defaultEngineSettings, analysis: false, maxRows: 10_000 } }, manager);
      const server = await createApiServer({ engine, manager, store, token: TEST_TOKEN, port: 0, log: () => undefined });
      instances.push({ server, engine, store, manager });
    }
  });
  afterEach(async () => {
    for (const instance of instances.splice(0)) {
      await Promise.all([instance.server.close(), instance.engine.close()]);
      await instance.store.close();
    }
    await openai.stop();
  });

  it('a stream started on A and cut off resumes from B, by id, exactly once and in order', async () => {
    const [a, b] = instances;
    openai.push({ match: /Question: many rows/, text: sqlReply(MANY_ROWS), chunkSize: 4, chunkDelayMs: 2 });
    // The "load balancer": the first request goes to A, every reconnect to B.
    const { fetch, calls } = cuttingFetch(
      () => (calls.length === 1 ? 1500 : undefined),
      (url, call) => (call === 0 ? url : url.replace(a!.server.url, b!.server.url)),
    );
    const client = new CenecaClient({ baseUrl: a!.server.url, token: TEST_TOKEN, fetch, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const stream = client.stream({ question: 'many rows', analysis: false });
    const events = await collect(stream);
    assertStreamContract(events);
    assert.equal(events[events.length - 1]!.type, 'complete');
    const local = a!.manager.get(stream.sessionId!)!.session.log.snapshot();
    assert.deepEqual(events, local, 'B replayed exactly what A logged');
    assert.ok(calls.some((c) => c.startsWith('GET /sessions/')), calls.join(' | '));
    assert.equal(b!.manager.get(stream.sessionId!), undefined, 'B never ran the session');
  });

  it('a cancel sent to B stops the session A runs', async () => {
    const [a, b] = instances;
    openai.push({ match: /Question: slow/, text: sqlReply('SELECT 1 AS one'), chunkSize: 2, chunkDelayMs: 200 });
    const streaming = new CenecaClient({ baseUrl: a!.server.url, token: TEST_TOKEN });
    const stream = streaming.stream({ question: 'slow', analysis: false });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the session exists and A runs it
    const viaB = new CenecaClient({ baseUrl: b!.server.url, token: TEST_TOKEN });
    for (let i = 0; i < 40; i++) {
      try {
        await viaB.cancel(stream.sessionId!);
        break;
      } catch (error) {
        if (!(error instanceof CenecaApiError && error.status === 404)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25)); // B sees the session one tick after A starts it
      }
    }
    const rest: CenecaEvent[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
    const last = rest[rest.length - 1]!;
    assert.equal(last.type === 'error' && last.code, 'cancelled', JSON.stringify(last));
  });
});
