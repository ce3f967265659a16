/**
 * The Redis session store (issue 6, "More than one machine") against a real redis-server: two session managers,
 * each with its own RedisSessionStore (instances A and B) on one Redis. A session run by A is read by B from the
 * start and from any id, live until its terminal event, exactly once and in order; B describes and cancels it;
 * a trimmed stream refuses a resume with ResumeGapError; and a store whose Redis dies leaves the session running.
 */
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { assertStreamContract } from '../../src/core/contract';
import type { CenecaEvent } from '../../src/core/events';
import { ResumeGapError } from '../../src/core/session/log';
import { SessionManager } from '../../src/core/session/manager';
import type { CompleteSummary, Session } from '../../src/core/session/session';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../src/server/redisStore';
import { RedisUnavailableError, startRedisServer, type RedisServer } from '../support/redis-server';

interface Gate {
  open(): void;
  opened: Promise<void>;
}

function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Row streaming work: a progress event, then `batches` partial_results of `rowsPerBatch` rows, pausing at `pauseAt` until `resume` opens. */
function rowWork(options: { batches: number; rowsPerBatch: number; pauseAt?: number; resume?: Gate }): (s: Session) => Promise<CompleteSummary> {
  return async (s) => {
    s.emit({ type: 'progress', step: 1, total: 3, percentage: 33 });
    s.emit({ type: 'databases_selected', databases: [{ id: 'shop', kind: 'postgres', reason: 'orders live there' }] });
    s.emit({ type: 'execution_started', source: 'shop' });
    let offset = 0;
    for (let batch = 0; batch < options.batches; batch++) {
      if (batch === options.pauseAt) await options.resume?.opened;
      if (batch % 10 === 9) await new Promise((resolve) => setImmediate(resolve)); // spread over ticks, as a cursor does
      const rows = Array.from({ length: options.rowsPerBatch }, (_, i) => [offset + i, `row ${offset + i}`]);
      s.emit({
        type: 'partial_results',
        source: 'shop',
        resultId: 'r1',
        ...(batch === 0 ? { columns: [{ name: 'id', type: 'int4' }, { name: 'label', type: 'text' }] } : {}),
        rows,
        offset,
      });
      offset += rows.length;
    }
    s.emit({ type: 'result_complete', source: 'shop', resultId: 'r1', rowCount: offset, truncated: false, elapsedMs: 1 });
    return { sources: ['shop'], rowCount: offset, elapsedMs: 1 };
  };
}

/** Work that says it is waiting and then waits for its session to be cancelled. */
async function waitForAbort(s: Session): Promise<CompleteSummary> {
  s.emit({ type: 'progress', step: 1, total: 2, percentage: 50 });
  s.emit({ type: 'status', phase: 'execute', message: 'waiting for a cancel' });
  await new Promise((_, reject) => s.signal.addEventListener('abort', () => reject(s.signal.reason), { once: true }));
  throw new Error('unreachable');
}

async function collect(events: AsyncIterable<CenecaEvent>): Promise<CenecaEvent[]> {
  const seen: CenecaEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

/** Polls `probe` until it yields something truthy (the owner writes a tick behind, and meta updates are throttled). */
async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}

describe('RedisSessionStore: two instances share sessions through a real Redis', function () {
  let redis: RedisServer | undefined;
  let raw: Redis | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  let suite = 0;

  before(async function () {
    this.timeout(180_000); // may install redis-server first
    try {
      redis = await startRedisServer((line) => console.log(`    [redis] ${line}`));
    } catch (error) {
      if (error instanceof RedisUnavailableError) {
        console.log(`    skipping the Redis session store suite: ${error.message}`);
        this.skip();
      }
      throw error;
    }
    raw = new Redis(redis.url);
  });

  afterEach(async () => {
    // Managers first (their sessions end and are written), then the stores.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  after(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  function instances(options: Partial<RedisSessionStoreOptions> = {}, optionsOfA: Partial<RedisSessionStoreOptions> = {}) {
    const url = must(redis, 'redis').url;
    const keyPrefix = `t${++suite}:`;
    const notices: string[] = [];
    const make = (instanceId: string, extra: Partial<RedisSessionStoreOptions>): { store: RedisSessionStore; manager: SessionManager } => {
      const store = new RedisSessionStore({ url, instanceId, keyPrefix, retentionMs: 60_000, log: (line) => notices.push(line), ...options, ...extra });
      const manager = new SessionManager(store, { maxRunning: 8 });
      cleanups.push(async () => store.close(), async () => manager.close());
      return { store, manager };
    };
    const a = make('A', optionsOfA);
    const b = make('B', {});
    return { a, b, keyPrefix, notices };
  }

  it('B reads a session run by A from the start, live until its terminal event, exactly once and in order', async () => {
    const { a, b } = instances();
    const resume = gate();
    const managed = a.manager.start(rowWork({ batches: 300, rowsPerBatch: 20, pauseAt: 100, resume }), { question: 'how many orders?' });
    const id = managed.session.id;

    const fromB = await eventually(() => b.store.read(id, 0), 'the session to appear in Redis');
    const fromA = must(await a.store.read(id, 0), 'the local read');
    const seenByB: CenecaEvent[] = [];
    const readingB = (async () => {
      for await (const event of fromB) seenByB.push(event);
    })();
    const readingA = collect(fromA);

    // While A is paused after 100 batches, B already has them: it follows live, not after the end.
    await eventually(async () => seenByB.some((e) => e.type === 'partial_results' && e.offset === 99 * 20), 'B to receive the first 100 batches');
    assert.equal(managed.session.ended, false);
    const running = await eventually(async () => {
      const description = await b.store.describe(id);
      return description && description.rowsDelivered === 2_000 ? description : undefined;
    }, 'B to describe the paused session');
    assert.equal(running.state, 'running');
    assert.equal(running.kind, 'query');
    assert.equal(running.question, 'how many orders?');
    assert.deepEqual(running.sources, ['shop']);
    assert.equal(running.terminal, undefined);

    resume.open();
    await managed.done;
    await readingB;
    const local = [...managed.session.log.snapshot()];
    assert.equal(local[0]?.id, 1, 'the local log still holds the whole session');
    assert.deepEqual(seenByB, local);
    assert.deepEqual(await readingA, local);
    assertStreamContract(seenByB);
    assert.equal(seenByB.at(-1)?.type, 'complete');

    const finished = await eventually(async () => {
      const description = await b.store.describe(id);
      return description?.state === 'finished' ? description : undefined;
    }, 'B to see the session finished');
    const ownView = must(await a.store.describe(id), "A's description");
    assert.equal(finished.lastEventId, local.at(-1)?.id);
    assert.equal(finished.rowsDelivered, 6_000);
    assert.equal(finished.firstHeldId, 1);
    assert.deepEqual(finished.terminal, local.at(-1));
    for (const field of ['kind', 'question', 'createdAt', 'state', 'lastEventId', 'rowsDelivered', 'sources'] as const) {
      assert.deepEqual(finished[field], ownView[field], field);
    }
  });

  it('B resumes after any id; an id beyond the last is a RangeError; finished keys expire after the retention window', async () => {
    const { a, b, keyPrefix } = instances();
    const managed = a.manager.start(rowWork({ batches: 40, rowsPerBatch: 5 }));
    const id = managed.session.id;
    await managed.done;
    const local = [...managed.session.log.snapshot()];
    const last = must(local.at(-1), 'the last event').id;
    await eventually(async () => (await b.store.describe(id))?.state === 'finished', 'the terminal event in Redis');

    for (const afterId of [0, 1, 2, 17, Math.floor(last / 2), last - 1, last]) {
      const events = await collect(must(await b.store.read(id, afterId), `read after ${afterId}`));
      assert.deepEqual(events, local.slice(afterId), `after ${afterId}`);
    }
    await assert.rejects(b.store.read(id, last + 1), RangeError);
    await assert.rejects(b.store.read(id, -1), RangeError);

    // A's own log keeps less than the stream (here a tiny row budget evicted its start): A falls back to Redis.
    const small = a.manager.start(rowWork({ batches: 40, rowsPerBatch: 5 }), { rowBytesBudget: 2_000 });
    await small.done;
    assert.ok(small.session.log.firstHeldId > 1, 'the local log dropped its first events');
    await eventually(async () => (await b.store.describe(small.session.id))?.state === 'finished', 'the small session in Redis');
    const whole = await collect(must(await a.store.read(small.session.id, 0), 'read of an evicted start'));
    assert.equal(whole.length, small.session.log.lastId);
    assertStreamContract(whole);

    // Once A forgets it, A reads it back from Redis like any other instance.
    a.store.forget(id);
    assert.deepEqual(await collect(must(await a.store.read(id, 10), 'read from Redis on A')), local.slice(10));

    const ttl = must(raw, 'raw client');
    for (const key of [`${keyPrefix}s:${id}:events`, `${keyPrefix}s:${id}:meta`]) {
      const pttl = await ttl.pttl(key);
      assert.ok(pttl > 0 && pttl <= 60_000, `${key} expires within the retention window (pttl ${pttl})`);
    }
  });

  it('a cancel sent to B reaches the session A runs: its terminal event is error "cancelled"', async () => {
    const { a, b } = instances();
    const managed = a.manager.start(waitForAbort);
    const id = managed.session.id;
    const fromB = await eventually(() => b.store.read(id, 0), 'the session to appear in Redis');
    const reading = collect(fromB);
    await eventually(async () => (await b.store.describe(id))?.state === 'running', 'B to see it running');

    // A reader that stops early ends at once, whether by its signal or by return().
    const aborter = new AbortController();
    const leaving = collect(must(await b.store.read(id, 0, aborter.signal), 'a second reader'));
    const returning = must(await b.store.read(id, 1), 'a third reader');
    assert.equal((await returning.next()).value?.id, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    let started = Date.now();
    aborter.abort();
    assert.deepEqual((await leaving).map((e) => e.id), [1, 2]);
    const pending = returning.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await returning.return?.();
    assert.equal((await pending).done, true);
    assert.ok(Date.now() - started < 500, 'stopping a remote reader does not wait for the next event');

    // An id beyond the last is given a short grace (the owner writes a tick behind), then refused.
    started = Date.now();
    await assert.rejects(b.store.read(id, 1_000), RangeError);
    assert.ok(Date.now() - started >= 1_500, 'the grace for an owner a tick ahead');

    assert.equal(await b.store.cancel(id, 'stopped from B'), true);
    await managed.done;
    const terminal = managed.session.log.snapshot().at(-1);
    assert.equal(terminal?.type, 'error');
    assert.equal(terminal.type === 'error' && terminal.code, 'cancelled');
    assert.equal(terminal.type === 'error' && terminal.message, 'stopped from B');

    const seen = await reading;
    assert.deepEqual(seen, [...managed.session.log.snapshot()]);
    assertStreamContract(seen);
    await eventually(async () => (await b.store.describe(id))?.state === 'finished', 'B to see it finished');
    assert.equal(await b.store.cancel(id), false, 'an ended session cannot be cancelled again');
    assert.equal(await a.store.cancel(id), false);
  });

  it('a resume from before the trimmed part is refused with ResumeGapError naming the first id still held', async () => {
    const { a, b } = instances({}, { rowBytesBudget: 20_000 });
    const resume = gate();
    const managed = a.manager.start(rowWork({ batches: 200, rowsPerBatch: 20, pauseAt: 0, resume }));
    const id = managed.session.id;

    // A reader that has only the first events in hand, then falls behind while the budget trims the stream.
    const slowReader = await eventually(() => b.store.read(id, 0), 'the session to appear in Redis');
    assert.equal((await slowReader.next()).value?.id, 1);
    resume.open();
    await managed.done;
    const described = await eventually(async () => {
      const description = await b.store.describe(id);
      return description?.state === 'finished' ? description : undefined;
    }, 'the terminal event in Redis');
    const firstId = described.firstHeldId;
    assert.ok(firstId > 10, `the stream was trimmed (first held id ${firstId})`);

    await assert.rejects(
      (async () => {
        for (;;) if ((await slowReader.next()).done) return;
      })(),
      (error: unknown) => error instanceof ResumeGapError && error.firstId === firstId,
      'the slow reader is told about the gap, not handed a stream with a hole',
    );
    await assert.rejects(b.store.read(id, 0), (error: unknown) => error instanceof ResumeGapError && error.firstId === firstId && error.afterId === 0);
    await assert.rejects(b.store.read(id, firstId - 2), (error: unknown) => error instanceof ResumeGapError && error.firstId === firstId);

    const local = [...managed.session.log.snapshot()];
    const tail = await collect(must(await b.store.read(id, firstId - 1), 'read from the first held id'));
    assert.equal(tail[0]?.id, firstId);
    assert.deepEqual(tail, local.slice(local.findIndex((e) => e.id === firstId)));
    const batchesHeld = tail.filter((e) => e.type === 'partial_results').length;
    assert.ok(batchesHeld < 200, 'row batches beyond the budget left the stream');
  });

  it('the event count bounds the stream too', async () => {
    const { a, b } = instances({}, { maxEvents: 50 });
    const managed = a.manager.start(rowWork({ batches: 120, rowsPerBatch: 2 }));
    await managed.done;
    const last = must(managed.session.log.snapshot().at(-1), 'the last event').id;
    const described = await eventually(async () => {
      const description = await b.store.describe(managed.session.id);
      return description?.state === 'finished' ? description : undefined;
    }, 'the terminal event in Redis');
    assert.equal(described.firstHeldId, last - 49);
    const tail = await collect(must(await b.store.read(managed.session.id, last - 50), 'read the 50 held events'));
    assert.equal(tail.length, 50);
    assert.equal(tail.at(-1)?.type, 'complete');
  });

  it('a remote reader is told when the instance running the session goes away before the session ends', async () => {
    const { a, b } = instances({ ownerCheckMs: 200 });
    const managed = a.manager.start(waitForAbort);
    const reader = await eventually(() => b.store.read(managed.session.id, 0), 'the session to appear in Redis');
    const reading = collect(reader);
    await eventually(async () => (await b.store.describe(managed.session.id))?.state === 'running', 'B to see it running');
    await a.store.close(); // as when A shuts down without ending its sessions: its heartbeat goes
    await assert.rejects(reading, /the instance running session .* \(A\) stopped before the session ended/);
  });

  it('an unknown id: read and describe give undefined, cancel gives false', async () => {
    const { a, b } = instances();
    for (const store of [a.store, b.store]) {
      assert.equal(await store.read('no-such-session', 0), undefined);
      assert.equal(await store.describe('no-such-session'), undefined);
      assert.equal(await store.cancel('no-such-session'), false);
    }
  });

  it('forty remote readers of four live sessions share three connections of B', async () => {
    const { a, b } = instances();
    const resume = gate();
    const sessions = Array.from({ length: 4 }, () => a.manager.start(rowWork({ batches: 60, rowsPerBatch: 10, pauseAt: 5, resume })));
    const readers = await Promise.all(
      sessions.flatMap((managed) => Array.from({ length: 10 }, () => eventually(() => b.store.read(managed.session.id, 0), 'the session in Redis'))),
    );
    const collected = readers.map((reader) => collect(reader));
    await new Promise((resolve) => setTimeout(resolve, 100)); // every reader is now waiting on the shared follower
    const clients = (await must(raw, 'raw client').client('LIST')) as string;
    const ofB = clients.split('\n').filter((line) => / name=ceneca:B:/.test(line));
    assert.ok(ofB.length <= 3, `B holds ${ofB.length} connections:\n${ofB.join('\n')}`);

    resume.open();
    await Promise.all(sessions.map((managed) => managed.done));
    const results = await Promise.all(collected);
    results.forEach((events, index) => {
      const managed = sessions[Math.floor(index / 10)]!;
      assert.deepEqual(events, [...managed.session.log.snapshot()]);
    });
  });

  it('a reader that joins while the shared XREAD blocks on a quiet session is woken at once, not after the block time', async () => {
    const { a, b } = instances({ blockMs: 5_000 });
    const quiet = a.manager.start(waitForAbort);
    const quietReader = collect(await eventually(() => b.store.read(quiet.session.id, 0), 'the quiet session in Redis'));
    await new Promise((resolve) => setTimeout(resolve, 100)); // B's follower now blocks on the quiet stream alone

    const resume = gate();
    const busy = a.manager.start(rowWork({ batches: 20, rowsPerBatch: 5, pauseAt: 0, resume }));
    const busyReader = await eventually(() => b.store.read(busy.session.id, 0), 'the busy session in Redis');
    const seen: CenecaEvent[] = [];
    const reading = (async () => {
      for await (const event of busyReader) seen.push(event);
    })();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the busy reader has caught up and waits too
    const opened = Date.now();
    resume.open();
    await reading;
    assert.ok(Date.now() - opened < 1_000, `the busy reader finished ${Date.now() - opened} ms after its session went on`);
    assert.deepEqual(seen, [...busy.session.log.snapshot()]);

    assert.equal(await b.store.cancel(quiet.session.id), true);
    assert.equal((await quietReader).at(-1)?.type, 'error');
  });

  it('a session whose store loses Redis mid-stream still completes locally; the store logs once and reports degraded', async function () {
    // Its own redis-server, so killing it leaves the other tests' server alone.
    const doomed = await startRedisServer();
    const notices: string[] = [];
    const store = new RedisSessionStore({ url: doomed.url, instanceId: 'C', log: (line) => notices.push(line) });
    const manager = new SessionManager(store);
    cleanups.push(async () => {
      await doomed.stop();
    });
    try {
      const resume = gate();
      const managed = manager.start(rowWork({ batches: 200, rowsPerBatch: 20, pauseAt: 50, resume }));
      const probe = new Redis(doomed.url);
      await eventually(async () => (await probe.xlen(`ceneca:s:${managed.session.id}:events`)) > 50, 'the first batches in Redis');
      probe.disconnect();

      await doomed.kill();
      resume.open();
      await managed.done;
      const local = [...managed.session.log.snapshot()];
      assertStreamContract(local);
      assert.equal(local.at(-1)?.type, 'complete');
      // The local fast path still serves the session.
      assert.deepEqual(await collect(must(await store.read(managed.session.id, 0), 'local read')), local);

      await eventually(async () => store.degraded, 'the store to notice');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(notices.filter((line) => /degraded/.test(line)).length, 1, notices.join('\n'));
    } finally {
      const started = Date.now();
      await manager.close();
      await store.close();
      assert.ok(Date.now() - started < 6_000, 'close() does not hang on a dead Redis');
    }
  });
});
