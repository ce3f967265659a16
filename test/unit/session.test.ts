import assert from 'node:assert/strict';
import { assertStreamContract } from '../../src/core/contract';
import type { CenecaEvent, EventOf, EventPayload } from '../../src/core/events';
import { LogClosedError, ResumeGapError, SessionLog } from '../../src/core/session/log';
import { PipelineError, Session, SessionAbort, type CompleteSummary } from '../../src/core/session/session';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const status = (message: string): EventPayload => ({ type: 'status', message, phase: 'execute' });
const complete: EventPayload = { type: 'complete', summary: { sources: ['pg'], rowCount: 0, elapsedMs: 1 } };
const summary: CompleteSummary = { sources: ['pg'], rowCount: 3, elapsedMs: 12 };

async function collect(iterator: AsyncIterable<CenecaEvent>): Promise<CenecaEvent[]> {
  const out: CenecaEvent[] = [];
  for await (const event of iterator) out.push(event);
  return out;
}

const messages = (events: readonly CenecaEvent[]): string[] => events.map((e) => (e.type === 'status' ? e.message : e.type));
const ids = (events: readonly CenecaEvent[]): number[] => events.map((e) => e.id);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Resolves when the session's signal aborts; rejects with its reason, as well-behaved work does. */
function untilAborted(session: Session): Promise<never> {
  return new Promise((_, reject) => {
    if (session.signal.aborted) reject(session.signal.reason);
    session.signal.addEventListener('abort', () => reject(session.signal.reason), { once: true });
  });
}

function lastEvent(session: Session): CenecaEvent {
  const events = session.log.snapshot();
  assert.ok(events.length > 0, 'the log is empty');
  return events[events.length - 1]!;
}

function terminalError(session: Session): EventOf<'error'> {
  const last = lastEvent(session);
  assert.equal(last.type, 'error', `last event is ${JSON.stringify(last)}`);
  return last as EventOf<'error'>;
}

describe('SessionLog', () => {
  it('stamps v, session, id 1,2,3… and ts from the clock', () => {
    let now = 1_000;
    const log = new SessionLog('s1', { clock: () => now++ });
    const events = [log.append(status('a')), log.append(status('b')), log.append(complete)];
    assert.deepEqual(events, [
      { type: 'status', message: 'a', phase: 'execute', v: 1, session: 's1', id: 1, ts: 1000 },
      { type: 'status', message: 'b', phase: 'execute', v: 1, session: 's1', id: 2, ts: 1001 },
      { ...complete, v: 1, session: 's1', id: 3, ts: 1002 },
    ]);
    assert.equal(log.lastId, 3);
    assert.equal(log.firstHeldId, 1);
    assert.deepEqual(log.snapshot(), events);
    assertStreamContract(log.snapshot());
  });

  it('starts empty: lastId 0, not closed', () => {
    const log = new SessionLog('s');
    assert.equal(log.lastId, 0);
    assert.equal(log.closed, false);
    assert.deepEqual(log.snapshot(), []);
  });

  it('keeps ts from going backwards when the clock does, and floors fractions', () => {
    const times = [100.7, 50, 99, 200.2, 10, 201.9];
    const log = new SessionLog('s', { clock: () => times.shift()! });
    for (let i = 0; i < 5; i++) log.append(status(String(i)));
    log.append(complete);
    assert.deepEqual(
      log.snapshot().map((e) => e.ts),
      [100, 100, 100, 200, 200, 201],
    );
    assertStreamContract(log.snapshot());
  });

  it('the envelope cannot be forged by the payload', () => {
    const log = new SessionLog('real', { clock: () => 5 });
    const forged = { ...status('x'), v: 9, session: 'fake', id: 77, ts: 1 } as unknown as EventPayload;
    const event = log.append(forged);
    assert.deepEqual([event.v, event.session, event.id, event.ts], [1, 'real', 1, 5]);
  });

  it('snapshot is a copy', () => {
    const log = new SessionLog('s');
    log.append(status('a'));
    const snap = log.snapshot() as CenecaEvent[];
    snap.pop();
    assert.equal(log.snapshot().length, 1);
  });

  it('append after the terminal event throws LogClosedError', () => {
    const log = new SessionLog('s');
    log.append(complete);
    assert.equal(log.closed, true);
    assert.throws(() => log.append(status('late')), (e: unknown) => e instanceof LogClosedError && /s has ended/.test(e.message));
    assert.equal(log.lastId, 1);
  });

  it('a fatal error closes the log; a recoverable one does not', () => {
    const log = new SessionLog('s');
    log.append({ type: 'error', code: 'execution_failed', message: 'try again', phase: 'execute', recoverable: true });
    assert.equal(log.closed, false);
    log.append({ type: 'error', code: 'internal', message: 'boom', phase: 'execute', recoverable: false });
    assert.equal(log.closed, true);
    assert.throws(() => log.append(status('late')), LogClosedError);
    assertStreamContract(log.snapshot());
  });

  describe('subscribe', () => {
    it('replays every event after afterId, in order, then follows and ends at the terminal event', async () => {
      const log = new SessionLog('s');
      for (let i = 1; i <= 5; i++) log.append(status(`e${i}`));
      const seen: Promise<CenecaEvent[]> = collect(log.subscribe(2));
      for (let i = 6; i <= 8; i++) {
        await tick();
        log.append(status(`e${i}`));
      }
      await tick();
      log.append(complete);
      const events = await seen;
      assert.deepEqual(ids(events), range(3, 9));
      assert.deepEqual(messages(events), ['e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'complete']);
    });

    it('subscribe() and subscribe(0) start at the first event', async () => {
      const log = new SessionLog('s');
      log.append(status('a'));
      log.append(complete);
      assert.deepEqual(ids(await collect(log.subscribe())), [1, 2]);
      assert.deepEqual(ids(await collect(log.subscribe(0))), [1, 2]);
    });

    it('yields events appended while iterating exactly once, including ones appended from the loop body', async () => {
      const log = new SessionLog('s');
      log.append(status('start'));
      const seen: CenecaEvent[] = [];
      let inLoop = 0;
      const consumer = (async () => {
        for await (const event of log.subscribe(0)) {
          seen.push(event);
          if (inLoop < 10) {
            // Append from inside the loop: sometimes after an await, sometimes two at once.
            if (inLoop % 3 === 0) await tick();
            log.append(status(`in-loop ${++inLoop}`));
            if (inLoop % 4 === 0) log.append(status(`in-loop ${++inLoop}`));
          } else if (!log.closed) {
            log.append(complete);
          }
        }
      })();
      // A producer outside the loop as well, interleaved with awaits.
      for (let i = 0; i < 5 && !log.closed; i++) {
        await tick();
        if (!log.closed) log.append(status(`outside ${i}`));
      }
      await consumer;
      assert.deepEqual(ids(seen), range(1, log.lastId));
      assert.deepEqual(seen, log.snapshot());
      assert.equal(seen[seen.length - 1]!.type, 'complete');
      assertStreamContract(seen);
    });

    it('several concurrent subscribers each get everything, once, in order', async () => {
      const log = new SessionLog('s');
      const early = collect(log.subscribe(0));
      log.append(status('1'));
      const middle = collect(log.subscribe(0));
      await tick();
      log.append(status('2'));
      log.append(status('3'));
      const late = collect(log.subscribe(2));
      for (let i = 4; i <= 20; i++) {
        if (i % 2 === 0) await tick();
        log.append(status(String(i)));
      }
      const alsoLate = collect(log.subscribe(20));
      await sleep(1);
      log.append(complete);
      const [a, b, c, d] = await Promise.all([early, middle, late, alsoLate]);
      assert.deepEqual(ids(a), range(1, 21));
      assert.deepEqual(ids(b), range(1, 21));
      assert.deepEqual(ids(c), range(3, 21));
      assert.deepEqual(ids(d), [21]);
      assert.deepEqual(a, log.snapshot());
      assertStreamContract(a);
    });

    it('after the terminal event replays and ends', async () => {
      const log = new SessionLog('s');
      log.append(status('a'));
      log.append(status('b'));
      log.append(complete);
      assert.deepEqual(messages(await collect(log.subscribe(0))), ['a', 'b', 'complete']);
      assert.deepEqual(messages(await collect(log.subscribe(1))), ['b', 'complete']);
      assert.deepEqual(await collect(log.subscribe(3)), []);
    });

    it('stops when its AbortSignal aborts while waiting', async () => {
      const log = new SessionLog('s');
      log.append(status('a'));
      const controller = new AbortController();
      const iterator = log.subscribe(0, controller.signal);
      assert.deepEqual(messages([(await iterator.next()).value as CenecaEvent]), ['a']);
      const pending = iterator.next();
      await tick();
      controller.abort();
      assert.deepEqual(await pending, { done: true, value: undefined });
      log.append(status('b'));
      assert.equal((await iterator.next()).done, true);
    });

    it('stops between events when its signal aborts, and others carry on', async () => {
      const log = new SessionLog('s');
      const controller = new AbortController();
      const seen: CenecaEvent[] = [];
      const stopping = (async () => {
        for await (const event of log.subscribe(0, controller.signal)) {
          seen.push(event);
          if (event.id === 2) controller.abort();
        }
      })();
      const other = collect(log.subscribe(0));
      for (let i = 1; i <= 4; i++) {
        log.append(status(String(i)));
        await tick();
      }
      log.append(complete);
      await stopping;
      assert.deepEqual(ids(seen), [1, 2]);
      assert.deepEqual(ids(await other), [1, 2, 3, 4, 5]);
    });

    it('with an already aborted signal yields nothing', async () => {
      const log = new SessionLog('s');
      log.append(status('a'));
      assert.deepEqual(await collect(log.subscribe(0, AbortSignal.abort())), []);
    });

    it('throws RangeError at once for an id beyond the last, a negative id or a non-integer', () => {
      const log = new SessionLog('s');
      log.append(status('a'));
      log.append(status('b'));
      for (const bad of [3, 100, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => log.subscribe(bad), RangeError, `subscribe(${bad})`);
      }
      assert.doesNotThrow(() => log.subscribe(2));
    });

    it('subscribe(n) with n > lastId throws even once the log is closed', () => {
      const log = new SessionLog('s');
      log.append(complete);
      assert.throws(() => log.subscribe(2), /has no event 2 \(last is 1\)/);
    });
  });

  describe('bounded log (retainEvents) and ResumeGapError', () => {
    it('ResumeGapError carries code, firstId, afterId and a message naming the first id still held', () => {
      const error = new ResumeGapError(10, 3);
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'ResumeGapError');
      assert.equal(error.code, 'resume_gap');
      assert.equal(error.firstId, 10);
      assert.equal(error.afterId, 3);
      assert.equal(error.message, 'cannot resume after event 3: the log now starts at event 10');
    });

    it('by default the log keeps every event', async () => {
      const log = new SessionLog('s');
      for (let i = 0; i < 5000; i++) log.append(status(String(i)));
      log.append(complete);
      assert.equal(log.firstHeldId, 1);
      const events = await collect(log.subscribe(0));
      assert.equal(events.length, 5001);
      assert.deepEqual(ids(events.slice(0, 3)), [1, 2, 3]);
    });

    it('without subscribers it keeps only the last retainEvents events; ids keep counting', () => {
      const log = new SessionLog('s', { retainEvents: 3 });
      for (let i = 1; i <= 6; i++) log.append(status(String(i)));
      assert.equal(log.firstHeldId, 4);
      assert.equal(log.lastId, 6);
      assert.deepEqual(ids(log.snapshot()), [4, 5, 6]);
      assert.equal(log.append(complete).id, 7);
      assert.deepEqual(ids(log.snapshot()), [5, 6, 7]);
    });

    it('subscribe from an id the log no longer holds is refused whole at once', () => {
      const log = new SessionLog('s', { retainEvents: 3 });
      for (let i = 1; i <= 6; i++) log.append(status(String(i)));
      for (const afterId of [0, 1, 2]) {
        assert.throws(
          () => log.subscribe(afterId),
          (e: unknown) => e instanceof ResumeGapError && e.firstId === 4 && e.afterId === afterId,
          `subscribe(${afterId})`,
        );
      }
    });

    it('subscribe from the id just before the first held one replays everything held', async () => {
      const log = new SessionLog('s', { retainEvents: 3 });
      for (let i = 1; i <= 6; i++) log.append(status(String(i)));
      const seen = collect(log.subscribe(3));
      log.append(complete);
      assert.deepEqual(ids(await seen), [4, 5, 6, 7]);
    });

    it('a subscriber is live from subscribe(), before it starts reading: nothing it has not received leaves', async () => {
      const log = new SessionLog('s', { retainEvents: 2 });
      log.append(status('1'));
      const iterator = log.subscribe(0);
      for (let i = 2; i <= 5; i++) log.append(status(String(i)));
      assert.equal(log.firstHeldId, 1);
      const got: number[] = [];
      for (let i = 1; i <= 5; i++) got.push((await iterator.next()).value!.id);
      assert.deepEqual(got, range(1, 5));
    });

    it('return() on a subscriber that never started reading lets the log shrink again', async () => {
      const log = new SessionLog('s', { retainEvents: 2 });
      log.append(status('1'));
      const iterator = log.subscribe(0);
      for (let i = 2; i <= 5; i++) log.append(status(String(i)));
      await iterator.return?.();
      log.append(status('6'));
      assert.deepEqual(ids(log.snapshot()), [5, 6]);
    });

    it('never evicts an event a live subscriber has not received yet', async () => {
      const log = new SessionLog('s', { retainEvents: 2 });
      const iterator = log.subscribe(0);
      log.append(status('1'));
      assert.equal((await iterator.next()).value?.id, 1);
      // The subscriber is parked after event 1: events 2.. must stay although the log is over its budget.
      for (let i = 2; i <= 10; i++) log.append(status(String(i)));
      // (It may also keep event 1, which it holds while it is parked.)
      assert.ok(log.firstHeldId <= 2, `first held ${log.firstHeldId}`);
      assert.deepEqual(ids(log.snapshot()).slice(-9), range(2, 10));
      const rest: number[] = [];
      for (let i = 2; i <= 10; i++) rest.push((await iterator.next()).value!.id);
      assert.deepEqual(rest, range(2, 10));
      // Once it has caught up the log shrinks back to its budget on the next append.
      log.append(complete);
      assert.deepEqual(ids(log.snapshot()), [10, 11]);
      assert.equal((await iterator.next()).value?.id, 11);
      assert.equal((await iterator.next()).done, true);
    });

    it('a slow and a fast subscriber both get everything from a small log', async () => {
      const log = new SessionLog('s', { retainEvents: 2 });
      const fast = collect(log.subscribe(0));
      const slowSeen: number[] = [];
      const slow = (async () => {
        for await (const event of log.subscribe(0)) {
          slowSeen.push(event.id);
          await sleep(1);
        }
      })();
      for (let i = 1; i <= 20; i++) {
        log.append(status(String(i)));
        if (i % 5 === 0) await tick();
      }
      log.append(complete);
      await slow;
      assert.deepEqual(ids(await fast), range(1, 21));
      assert.deepEqual(slowSeen, range(1, 21));
    });

    it('a subscriber that stops (break) no longer holds events back', async () => {
      const log = new SessionLog('s', { retainEvents: 2 });
      log.append(status('1'));
      for await (const event of log.subscribe(0)) {
        assert.equal(event.id, 1);
        break;
      }
      for (let i = 2; i <= 6; i++) log.append(status(String(i)));
      assert.deepEqual(ids(log.snapshot()), [5, 6]);
    });
  });
});

describe('Session', () => {
  it('run: work returning a summary ends with exactly one complete', async () => {
    const session = new Session({ id: 'run-1' });
    await session.run(async (s) => {
      assert.equal(s, session);
      s.emit(status('working'));
      await tick();
      s.emit({ type: 'query_complete', source: 'pg', language: 'sql', query: 'SELECT 1' });
      return summary;
    });
    const events = session.log.snapshot();
    assert.deepEqual(
      events.map((e) => e.type),
      ['status', 'query_complete', 'complete'],
    );
    assert.deepEqual((events[2] as EventOf<'complete'>).summary, summary);
    assert.ok(events.every((e) => e.session === 'run-1'));
    assert.equal(session.ended, true);
    assert.equal(session.phase, 'session');
    assert.equal(session.signal.aborted, false);
    assertStreamContract(events);
  });

  it('gets a random id when none is given', () => {
    const a = new Session();
    const b = new Session();
    assert.match(a.id, /^[0-9a-f-]{36}$/);
    assert.notEqual(a.id, b.id);
    assert.equal(a.log.sessionId, a.id);
    // Let them end so their timers are cleared.
    return Promise.all([a.run(async () => summary), b.run(async () => summary)]);
  });

  it('run: work throwing PipelineError ends with that error', async () => {
    const session = new Session();
    await session.run(async (s) => {
      s.emit(status('working'));
      s.phase = 'generate';
      throw new PipelineError('llm_no_query', 'the reply had no query', 'validate', 'rephrase the question');
    });
    const events = session.log.snapshot();
    assert.equal(events.length, 2);
    const { v, session: sid, id, ts, ...error } = terminalError(session);
    assert.deepEqual([v, sid, id, typeof ts], [1, session.id, 2, 'number']);
    assert.deepEqual(error, {
      type: 'error',
      code: 'llm_no_query',
      message: 'the reply had no query',
      phase: 'validate',
      recoverable: false,
      suggestion: 'rephrase the question',
    });
    assertStreamContract(events);
  });

  it('run: a PipelineError without suggestion leaves the field out', async () => {
    const session = new Session();
    await session.run(async () => {
      throw new PipelineError('no_source', 'nothing configured', 'classify');
    });
    const error = terminalError(session);
    assert.equal('suggestion' in error, false);
    assert.equal(error.code, 'no_source');
    assertStreamContract(session.log.snapshot());
  });

  it('run: work throwing a plain Error ends with code internal, in the current phase', async () => {
    const session = new Session();
    await session.run(async (s) => {
      s.phase = 'execute';
      throw new TypeError('x is not a function');
    });
    const error = terminalError(session);
    assert.deepEqual([error.code, error.message, error.phase, error.recoverable], ['internal', 'x is not a function', 'execute', false]);
    assertStreamContract(session.log.snapshot());
  });

  it('run: a thrown non-Error and an empty message still give a valid internal error', async () => {
    const a = new Session();
    await a.run(() => Promise.reject('just a string'));
    assert.deepEqual([terminalError(a).code, terminalError(a).message], ['internal', 'just a string']);
    assertStreamContract(a.log.snapshot());
    const b = new Session();
    await b.run(async () => {
      throw new Error('');
    });
    assert.deepEqual([terminalError(b).code, terminalError(b).message], ['internal', 'unexpected failure']);
    assertStreamContract(b.log.snapshot());
  });

  it('cancel() while work is pending ends with error cancelled once the work has wound down', async () => {
    const session = new Session({ cancelGraceMs: 2000 });
    let settled = false;
    const running = session.run(async (s) => {
      s.phase = 'execute';
      s.emit(status('running'));
      try {
        await new Promise<void>((_, reject) => {
          s.signal.addEventListener('abort', () => setTimeout(() => reject(s.signal.reason), 30), { once: true });
        });
      } finally {
        s.emit(status('closing the cursor'));
        settled = true;
      }
      return summary;
    });
    await sleep(5);
    const started = Date.now();
    session.cancel();
    assert.equal(session.signal.aborted, true);
    assert.ok(session.signal.reason instanceof SessionAbort);
    assert.equal(session.ended, false, 'the terminal event waits for the work');
    await running;
    assert.equal(settled, true);
    assert.ok(Date.now() - started < 1000, 'ended long before the grace period');
    assert.deepEqual(messages(session.log.snapshot()), ['running', 'closing the cursor', 'error']);
    const error = terminalError(session);
    assert.deepEqual([error.code, error.message, error.phase, error.recoverable], ['cancelled', 'cancelled by the user', 'execute', false]);
    assertStreamContract(session.log.snapshot());
  });

  it('cancel(message) carries the message', async () => {
    const session = new Session();
    const running = session.run((s) => untilAborted(s));
    session.cancel('Ctrl-C');
    await running;
    assert.deepEqual([terminalError(session).code, terminalError(session).message], ['cancelled', 'Ctrl-C']);
  });

  it('cancel() ends within cancelGraceMs when the work ignores the signal; its late events are dropped', async () => {
    const session = new Session({ cancelGraceMs: 60 });
    let release!: () => void;
    const lateEmits: Array<CenecaEvent | undefined> = [];
    let finished = false;
    const running = session.run(async (s) => {
      s.emit(status('running'));
      await new Promise<void>((resolve) => (release = resolve));
      lateEmits.push(s.emit(status('too late')));
      finished = true;
      return summary;
    });
    await tick();
    const started = Date.now();
    session.cancel();
    await running;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 50 && elapsed < 1000, `ended after ${elapsed} ms`);
    assert.equal(finished, false);
    assert.equal(terminalError(session).code, 'cancelled');
    release();
    await tick();
    await tick();
    assert.equal(finished, true);
    assert.deepEqual(lateEmits, [undefined]);
    assert.equal(session.emit(status('even later')), undefined);
    assert.deepEqual(messages(session.log.snapshot()), ['running', 'error']);
    assertStreamContract(session.log.snapshot());
  });

  it('a cancelled session does not end with complete even if the work then returns a summary', async () => {
    const session = new Session({ cancelGraceMs: 500 });
    const running = session.run(async (s) => {
      await new Promise<void>((resolve) => s.signal.addEventListener('abort', () => resolve(), { once: true }));
      return summary;
    });
    session.cancel();
    await running;
    assert.deepEqual(messages(session.log.snapshot()), ['error']);
    assert.equal(terminalError(session).code, 'cancelled');
  });

  it('an outer AbortSignal cancels the session', async () => {
    const outer = new AbortController();
    const session = new Session({ signal: outer.signal, cancelGraceMs: 500 });
    const running = session.run(async (s) => {
      s.emit(status('running'));
      return untilAborted(s);
    });
    await sleep(5);
    outer.abort();
    await running;
    assert.equal(terminalError(session).code, 'cancelled');
    assertStreamContract(session.log.snapshot());
  });

  it('an outer AbortSignal that is already aborted cancels the session, even if the work ignores it', async () => {
    const session = new Session({ signal: AbortSignal.abort(), cancelGraceMs: 30 });
    assert.equal(session.signal.aborted, true);
    let release!: () => void;
    const running = session.run(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return summary;
    });
    const outcome = await Promise.race([running.then(() => 'ended'), sleep(1000).then(() => 'still running')]);
    release();
    assert.equal(outcome, 'ended');
    assert.deepEqual(messages(session.log.snapshot()), ['error']);
    assert.equal(terminalError(session).code, 'cancelled');
  });

  it('cancel() before run() cancels the run, even if the work ignores the signal', async () => {
    const session = new Session({ cancelGraceMs: 30 });
    session.cancel();
    await session.run(async () => summary);
    assert.deepEqual(messages(session.log.snapshot()), ['error']);
    assert.equal(terminalError(session).code, 'cancelled');
  });

  it('after run, aborting the outer signal changes nothing', async () => {
    const outer = new AbortController();
    const session = new Session({ signal: outer.signal });
    await session.run(async () => summary);
    outer.abort();
    session.cancel();
    assert.equal(session.signal.aborted, false);
    assert.deepEqual(messages(session.log.snapshot()), ['complete']);
  });

  it('overall timeout ends with code timeout', async () => {
    const session = new Session({ timeoutMs: 50, cancelGraceMs: 500 });
    const started = Date.now();
    await session.run((s) => untilAborted(s));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 45 && elapsed < 1000, `ended after ${elapsed} ms`);
    const error = terminalError(session);
    assert.deepEqual([error.code, error.message, error.recoverable], ['timeout', 'the question took longer than 50 ms', false]);
    assert.ok(session.signal.reason instanceof SessionAbort && session.signal.reason.code === 'timeout');
    assertStreamContract(session.log.snapshot());
  });

  it('overall timeout fires even while events keep coming', async () => {
    const session = new Session({ timeoutMs: 60, idleTimeoutMs: 200, cancelGraceMs: 500 });
    await session.run(async (s) => {
      while (!s.signal.aborted) {
        s.emit(status('tick'));
        await sleep(5);
      }
      throw s.signal.reason;
    });
    assert.equal(terminalError(session).code, 'timeout');
    assert.ok(session.log.lastId > 3);
    assertStreamContract(session.log.snapshot());
  });

  it('idle timeout with no events ends with idle_timeout', async () => {
    const session = new Session({ idleTimeoutMs: 50, cancelGraceMs: 500 });
    const started = Date.now();
    await session.run((s) => untilAborted(s));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 45 && elapsed < 1000, `ended after ${elapsed} ms`);
    const error = terminalError(session);
    assert.deepEqual([error.code, error.message], ['idle_timeout', 'no progress for 50 ms']);
    assertStreamContract(session.log.snapshot());
  });

  it('idle timeout counts from the last event', async () => {
    const session = new Session({ idleTimeoutMs: 50, cancelGraceMs: 500 });
    let lastEmit = 0;
    await session.run(async (s) => {
      await sleep(30);
      s.emit(status('one'));
      lastEmit = Date.now();
      return untilAborted(s);
    });
    const since = Date.now() - lastEmit;
    assert.ok(since >= 45, `idle timeout fired ${since} ms after the last event`);
    assert.equal(terminalError(session).code, 'idle_timeout');
  });

  it('emitting events regularly keeps the session alive past the idle limit', async () => {
    const session = new Session({ idleTimeoutMs: 50 });
    const started = Date.now();
    await session.run(async (s) => {
      for (let i = 0; i < 15; i++) {
        s.emit(status(`tick ${i}`));
        await sleep(10);
        assert.equal(s.signal.aborted, false);
      }
      return summary;
    });
    assert.ok(Date.now() - started >= 140);
    assert.equal(lastEvent(session).type, 'complete');
    assert.equal(session.log.lastId, 16);
    assertStreamContract(session.log.snapshot());
  });

  it('the first abort reason wins', async () => {
    const session = new Session({ timeoutMs: 20, cancelGraceMs: 500 });
    await session.run(async (s) => {
      await untilAborted(s).catch(() => undefined);
      s.cancel('too late to matter');
      throw s.signal.reason;
    });
    assert.equal(terminalError(session).code, 'timeout');
  });

  it('no timer fires after the session ended', async () => {
    const session = new Session({ timeoutMs: 20, idleTimeoutMs: 20 });
    await session.run(async () => summary);
    await sleep(50);
    assert.equal(session.signal.aborted, false);
    assert.deepEqual(messages(session.log.snapshot()), ['complete']);
  });

  it('emit after the terminal event returns undefined and appends nothing', async () => {
    const session = new Session();
    await session.run(async () => summary);
    assert.equal(session.emit(status('late')), undefined);
    assert.equal(session.emit(complete), undefined);
    assert.equal(session.log.lastId, 1);
  });

  it('emit returns the stamped event while the session runs', async () => {
    const session = new Session({ id: 'emit' });
    let emitted: CenecaEvent | undefined;
    await session.run(async (s) => {
      emitted = s.emit(status('x'));
      return summary;
    });
    assert.equal(emitted?.id, 1);
    assert.equal(emitted?.session, 'emit');
    assert.deepEqual(session.log.snapshot()[0], emitted);
  });

  it('a subscriber sees the whole run live', async () => {
    const session = new Session();
    const seen = collect(session.log.subscribe(0));
    await session.run(async (s) => {
      for (let i = 0; i < 5; i++) {
        s.emit(status(String(i)));
        await tick();
      }
      return summary;
    });
    const events = await seen;
    assert.deepEqual(events, session.log.snapshot());
    assert.equal(events.length, 6);
    assertStreamContract(events);
  });

  it('SessionAbort and PipelineError carry their fields', () => {
    const abort = new SessionAbort('idle_timeout', 'quiet');
    assert.deepEqual([abort.name, abort.code, abort.message, abort instanceof Error], ['SessionAbort', 'idle_timeout', 'quiet', true]);
    const error = new PipelineError('cost_refused', 'too expensive', 'validate', 'add a filter');
    assert.deepEqual(
      [error.name, error.code, error.message, error.phase, error.suggestion, error instanceof Error],
      ['PipelineError', 'cost_refused', 'too expensive', 'validate', 'add a filter', true],
    );
  });
});

describe('SessionLog: backpressure and the row byte budget', () => {
  const batch = (offset: number, rows: number) => ({
    type: 'partial_results' as const,
    source: 's',
    resultId: 'r',
    ...(offset === 0 ? { columns: [{ name: 'v', type: 'text' }] } : {}),
    rows: Array.from({ length: rows }, (_, i) => [`value-${offset + i}`]),
    offset,
  });

  it('waitForRoom resolves at once with no live subscriber, and waits for a slow one to catch up', async () => {
    const log = new SessionLog('bp');
    log.append({ type: 'classifying', message: 'x' });
    await log.waitForRoom(0); // nobody subscribed
    const reader = log.subscribe(0);
    await reader.next(); // the reader holds event 1
    for (let i = 0; i < 5; i++) log.append({ type: 'status', message: `s${i}`, phase: 'execute' });
    let released = false;
    const waiting = log.waitForRoom(2).then(() => (released = true));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(released, false, 'the producer waits while the reader is 5 events behind');
    for (let i = 0; i < 3; i++) await reader.next();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(released, false, 'still 3 behind: event 1 counts as received only when the reader asks for the next');
    await reader.next();
    await waiting;
    assert.equal(released, true);
    assert.ok(log.lag <= 2);
    await reader.return?.();
  });

  it('row batches over the byte budget leave once every live subscriber has them; a resume from before is refused', async () => {
    const log = new SessionLog('budget', { rowBytesBudget: 20_000 });
    const reader = log.subscribe(0);
    let offset = 0;
    for (let i = 0; i < 10; i++) {
      log.append(batch(offset, 100));
      offset += 100;
    }
    assert.equal(log.firstHeldId, 1, 'nothing leaves before the reader has it');
    for (let i = 0; i < 10; i++) await reader.next();
    log.append({ type: 'complete', summary: { sources: ['s'], rowCount: offset, elapsedMs: 1 } });
    assert.ok(log.firstHeldId > 1, 'delivered batches left the log');
    assert.ok(log.rowBytesHeld <= 20_000, `held ${log.rowBytesHeld}`);
    assert.throws(() => log.subscribe(0), (error: unknown) => error instanceof ResumeGapError && error.firstId === log.firstHeldId);
    const late: number[] = [];
    for await (const event of log.subscribe(log.firstHeldId - 1)) late.push(event.id);
    assert.deepEqual(late, Array.from({ length: log.lastId - log.firstHeldId + 1 }, (_, i) => log.firstHeldId + i));
    await reader.return?.();
  });

  it('with nobody subscribed, row batches over the budget leave at once', () => {
    const log = new SessionLog('nobody', { rowBytesBudget: 10_000 });
    for (let i = 0; i < 20; i++) log.append(batch(i * 100, 100));
    assert.ok(log.rowBytesHeld <= 10_000);
    assert.ok(log.firstHeldId > 1);
  });
});
