/**
 * Many sessions at once (DESIGN §4): at most `maxRunning` do work; the rest wait in a queue — interactive ones
 * ahead of background ones, first come first served within each — and hear their place as `status` events.
 * Finished sessions stay readable for a retention window (count and age), then leave. Every session is handed to
 * the session store, which makes its events readable by id (in memory, or from Redis on any instance).
 */
import type { CompleteSummary } from './session';
import { Session, type SessionOptions } from './session';
import type { SessionStore } from './store';

export type SessionPriority = 'interactive' | 'background';

export interface SessionManagerOptions {
  /** Sessions doing work at once. Default 4. */
  maxRunning?: number;
  /** Finished sessions kept for late readers, at most this many… Default 200. */
  retainFinished?: number;
  /** …and at most this long after they ended (ms). Default 15 minutes. */
  retainFinishedMs?: number;
  /** Options every session starts with (timeouts, log budgets). */
  sessionDefaults?: SessionOptions;
  /** While queued, a session repeats its place at least this often (ms), so its idle timeout does not fire. */
  queueReminderMs?: number;
}

export interface StartOptions extends SessionOptions {
  priority?: SessionPriority;
  /** What the session answers (for listings and `GET /sessions/:id`). */
  kind?: string;
  question?: string;
}

export type SessionState = 'queued' | 'running' | 'finished';

export interface ManagedSession {
  session: Session;
  kind: string;
  question?: string;
  priority: SessionPriority;
  createdAt: number;
  state: SessionState;
  startedAt?: number;
  endedAt?: number;
  /** Resolves when the terminal event is in the log. */
  done: Promise<void>;
}

export interface ManagerStats {
  running: number;
  queued: number;
  finished: number;
}

interface Waiter {
  managed: ManagedSession;
  admit: () => void;
}

const DEFAULT_MAX_RUNNING = 4;
const DEFAULT_RETAIN_FINISHED = 200;
const DEFAULT_RETAIN_FINISHED_MS = 15 * 60_000;
const DEFAULT_QUEUE_REMINDER_MS = 30_000;

export class SessionManager {
  readonly maxRunning: number;
  private readonly sessions = new Map<string, ManagedSession>();
  private readonly queue: Waiter[] = [];
  private running = 0;
  private readonly finishedOrder: ManagedSession[] = [];
  private readonly listeners = new Set<(managed: ManagedSession) => void>();

  constructor(
    private readonly store: SessionStore,
    private readonly options: SessionManagerOptions = {},
  ) {
    this.maxRunning = Math.max(1, Math.floor(options.maxRunning ?? DEFAULT_MAX_RUNNING));
  }

  /**
   * Creates a session at once (so a client can subscribe to it immediately) and runs `work` when a slot is free.
   * A session cancelled while queued ends `cancelled` without ever running.
   */
  start(work: (session: Session) => Promise<CompleteSummary>, options: StartOptions = {}): ManagedSession {
    const { priority = 'interactive', kind = 'query', question, ...sessionOptions } = options;
    const session = new Session({ ...this.options.sessionDefaults, ...sessionOptions });
    const managed: ManagedSession = { session, kind, question, priority, createdAt: Date.now(), state: 'queued', done: Promise.resolve() };
    this.sessions.set(session.id, managed);
    this.store.track(session, { kind, question, createdAt: managed.createdAt });
    managed.done = session.run(async (s) => {
      await this.waitForSlot(managed);
      managed.state = 'running';
      managed.startedAt = Date.now();
      this.notify(managed);
      try {
        return await work(s);
      } finally {
        this.releaseSlot();
      }
    }).finally(() => this.finish(managed));
    return managed;
  }

  get(id: string): ManagedSession | undefined {
    this.evictExpired();
    return this.sessions.get(id);
  }

  /** Cancels a session run by this manager; false when it does not know the id or it has ended. */
  cancel(id: string, message?: string): boolean {
    const managed = this.sessions.get(id);
    if (!managed || managed.session.ended) return false;
    managed.session.cancel(message);
    return true;
  }

  stats(): ManagerStats {
    this.evictExpired();
    return { running: this.running, queued: this.queue.length, finished: this.finishedOrder.length };
  }

  /** Called on every state change (queued → running → finished), e.g. for metrics. */
  onChange(listener: (managed: ManagedSession) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cancels everything still queued or running and waits for their terminal events. */
  async close(message = 'the server is shutting down'): Promise<void> {
    const open = [...this.sessions.values()].filter((m) => !m.session.ended);
    for (const managed of open) managed.session.cancel(message);
    await Promise.all(open.map((m) => m.done));
  }

  private waitForSlot(managed: ManagedSession): Promise<void> {
    if (this.running < this.maxRunning && this.queue.length === 0) {
      this.running++;
      return Promise.resolve();
    }
    const { session } = managed;
    return new Promise<void>((resolve, reject) => {
      let reminder: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        managed,
        admit: () => {
          cleanup();
          this.running++;
          resolve();
        },
      };
      const onAbort = (): void => {
        cleanup();
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        this.announcePositions();
        reject(session.signal.reason);
      };
      const cleanup = (): void => {
        if (reminder) clearInterval(reminder);
        session.signal.removeEventListener('abort', onAbort);
      };
      session.signal.addEventListener('abort', onAbort, { once: true });
      this.enqueue(waiter);
      reminder = setInterval(() => this.announce(waiter), this.options.queueReminderMs ?? DEFAULT_QUEUE_REMINDER_MS);
      reminder.unref();
      this.announcePositions();
    });
  }

  /** Interactive sessions go after the last interactive one (ahead of every background one); background ones at the end. */
  private enqueue(waiter: Waiter): void {
    if (waiter.managed.priority === 'background') {
      this.queue.push(waiter);
      return;
    }
    const firstBackground = this.queue.findIndex((w) => w.managed.priority === 'background');
    if (firstBackground < 0) this.queue.push(waiter);
    else this.queue.splice(firstBackground, 0, waiter);
  }

  private releaseSlot(): void {
    this.running--;
    const next = this.queue.shift();
    if (next) next.admit();
    this.announcePositions();
  }

  private announcePositions(): void {
    for (const waiter of this.queue) this.announce(waiter);
  }

  private announce(waiter: Waiter): void {
    const position = this.queue.indexOf(waiter) + 1;
    if (position <= 0) return;
    const { session } = waiter.managed;
    session.phase = 'queued';
    session.emit({
      type: 'status',
      phase: 'queued',
      message: `waiting for a free slot: position ${position} in the queue (${this.running} of ${this.maxRunning} running)`,
    });
  }

  private finish(managed: ManagedSession): void {
    managed.state = 'finished';
    managed.endedAt = Date.now();
    this.finishedOrder.push(managed);
    this.notify(managed);
    this.evictExpired();
  }

  private evictExpired(): void {
    const maxCount = this.options.retainFinished ?? DEFAULT_RETAIN_FINISHED;
    const maxAge = this.options.retainFinishedMs ?? DEFAULT_RETAIN_FINISHED_MS;
    const now = Date.now();
    while (this.finishedOrder.length > 0) {
      const oldest = this.finishedOrder[0]!;
      if (this.finishedOrder.length <= maxCount && now - (oldest.endedAt ?? now) <= maxAge) break;
      this.finishedOrder.shift();
      this.sessions.delete(oldest.session.id);
      this.store.forget(oldest.session.id);
    }
  }

  private notify(managed: ManagedSession): void {
    for (const listener of this.listeners) listener(managed);
  }
}
