/** The session manager: the running cap, the queue and its order, cancel while queued, retention, the store's view. */
import assert from 'node:assert/strict';
import { findContractProblems } from '../../src/core/contract';
import type { CenecaEvent } from '../../src/core/events';
import { SessionManager, type ManagedSession } from '../../src/core/session/manager';
import type { CompleteSummary, Session } from '../../src/core/session/session';
import { MemorySessionStore } from '../../src/core/session/store';

/** Work that runs until `release()` is called, recording when it starts. */
function gatedWork(log: string[], name: string): { work: (s: Session) => Promise<CompleteSummary>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    work: async (s) => {
      log.push(`start ${name}`);
      s.emit({ type: 'progress', step: 1, total: 2, percentage: 0 });
      await Promise.race([gate, new Promise((_, reject) => s.signal.addEventListener('abort', () => reject(s.signal.reason)))]);
      log.push(`end ${name}`);
      return { sources: [], rowCount: 0, elapsedMs: 0 };
    },
  };
}

async function eventsOf(managed: ManagedSession): Promise<CenecaEvent[]> {
  await managed.done;
  return [...managed.session.log.snapshot()];
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SessionManager', () => {
  it('with the cap at 2, five sessions run two at a time, in order, each with exactly one terminal event', async () => {
    const manager = new SessionManager(new MemorySessionStore(), { maxRunning: 2 });
    const log: string[] = [];
    const gates = ['a', 'b', 'c', 'd', 'e'].map((name) => gatedWork(log, name));
    const started = gates.map((g) => manager.start(g.work));
    await tick();
    assert.deepEqual(log, ['start a', 'start b']);
    assert.deepEqual(manager.stats(), { running: 2, queued: 3, finished: 0 });
    const queued = started[4]!.session.log.snapshot().filter((e) => e.type === 'status');
    assert.match(queued[queued.length - 1]!.type === 'status' ? (queued[queued.length - 1] as { message: string }).message : '', /position 3 in the queue \(2 of 2 running\)/);

    for (const gate of gates) {
      gate.release();
      await tick();
      await tick();
    }
    for (const managed of started) await managed.done;
    assert.deepEqual(log, ['start a', 'start b', 'end a', 'start c', 'end b', 'start d', 'end c', 'start e', 'end d', 'end e']);
    for (const managed of started) {
      const events = await eventsOf(managed);
      assert.deepEqual(findContractProblems(events), []);
      assert.equal(events.filter((e) => e.type === 'complete' || (e.type === 'error' && !e.recoverable)).length, 1);
    }
    // The last one heard its place go 3 → 2 → 1.
    const places = (await eventsOf(started[4]!)).flatMap((e) => (e.type === 'status' && e.phase === 'queued' ? [/position (\d)/.exec(e.message)![1]] : []));
    assert.deepEqual([...new Set(places)], ['3', '2', '1']);
    assert.deepEqual(manager.stats(), { running: 0, queued: 0, finished: 5 });
  });

  it('an interactive session jumps ahead of queued background ones, but not of earlier interactive ones', async () => {
    const manager = new SessionManager(new MemorySessionStore(), { maxRunning: 1 });
    const log: string[] = [];
    const gates = new Map(['run', 'bg1', 'bg2', 'fg1', 'fg2'].map((name) => [name, gatedWork(log, name)]));
    manager.start(gates.get('run')!.work);
    manager.start(gates.get('bg1')!.work, { priority: 'background' });
    manager.start(gates.get('bg2')!.work, { priority: 'background' });
    manager.start(gates.get('fg1')!.work);
    const last = manager.start(gates.get('fg2')!.work);
    for (const name of ['run', 'fg1', 'fg2', 'bg1', 'bg2']) {
      await tick();
      gates.get(name)!.release();
      await tick();
    }
    await last.done;
    await tick();
    assert.deepEqual(log.filter((l) => l.startsWith('start')), ['start run', 'start fg1', 'start fg2', 'start bg1', 'start bg2']);
  });

  it('a session cancelled while queued ends cancelled without running, and the others move up', async () => {
    const manager = new SessionManager(new MemorySessionStore(), { maxRunning: 1 });
    const log: string[] = [];
    const first = gatedWork(log, 'first');
    const skipped = gatedWork(log, 'skipped');
    const third = gatedWork(log, 'third');
    const running = manager.start(first.work);
    const queued = manager.start(skipped.work);
    const after = manager.start(third.work);
    await tick();
    assert.equal(manager.cancel(queued.session.id), true);
    const events = await eventsOf(queued);
    const terminal = events[events.length - 1]!;
    assert.equal(terminal.type === 'error' && terminal.code, 'cancelled');
    assert.equal(terminal.type === 'error' && terminal.phase, 'queued');
    assert.deepEqual(findContractProblems(events), []);
    const thirdPlaces = after.session.log.snapshot().flatMap((e) => (e.type === 'status' ? [/position (\d)/.exec(e.message)?.[1]] : []));
    assert.deepEqual(thirdPlaces, ['2', '1']);
    first.release();
    await running.done;
    third.release();
    await after.done;
    assert.deepEqual(log, ['start first', 'end first', 'start third', 'end third']);
    assert.equal(manager.cancel(queued.session.id), false, 'an ended session cannot be cancelled');
  });

  it('keeps finished sessions up to the retention count, and the store describes them', async () => {
    const store = new MemorySessionStore();
    const manager = new SessionManager(store, { maxRunning: 4, retainFinished: 2 });
    const done: ManagedSession[] = [];
    for (let i = 0; i < 3; i++) {
      const managed = manager.start(async (s) => {
        s.emit({ type: 'databases_selected', databases: [{ id: 'shop', kind: 'postgres', reason: 'only one' }] });
        s.emit({ type: 'partial_results', source: 'shop', resultId: 'r', columns: [{ name: 'n', type: 'int4' }], rows: [[1], [2]], offset: 0 });
        return { sources: ['shop'], rowCount: 2, elapsedMs: 1 };
      }, { kind: 'query', question: `q${i}` });
      await managed.done;
      done.push(managed);
    }
    assert.equal(manager.get(done[0]!.session.id), undefined, 'the oldest finished session left');
    assert.equal(await store.describe(done[0]!.session.id), undefined);
    const described = await store.describe(done[2]!.session.id);
    assert.ok(described);
    assert.equal(described.state, 'finished');
    assert.equal(described.question, 'q2');
    assert.deepEqual(described.sources, ['shop']);
    assert.equal(described.rowsDelivered, 2);
    assert.equal(described.terminal?.type, 'complete');
    assert.equal(described.lastEventId, done[2]!.session.log.lastId);
  });

  it('close() cancels queued and running sessions and waits for their terminal events', async () => {
    const manager = new SessionManager(new MemorySessionStore(), { maxRunning: 1 });
    const log: string[] = [];
    const a = manager.start(gatedWork(log, 'a').work);
    const b = manager.start(gatedWork(log, 'b').work);
    await tick();
    await manager.close();
    for (const managed of [a, b]) {
      const events = await eventsOf(managed);
      const last = events[events.length - 1]!;
      assert.equal(last.type === 'error' && last.code, 'cancelled');
    }
    assert.deepEqual(log, ['start a']);
  });
});
