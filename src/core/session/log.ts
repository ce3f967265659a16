/**
 * Append-only event log of one session (DESIGN §4). The log stamps the envelope (v, session, id, ts), so ids
 * are consecutive by construction; any number of subscribers replay from an id and then follow live appends.
 */
import { EVENT_VERSION, isTerminal, type CenecaEvent, type EventPayload } from '../events';

/** A resume asked for events the log no longer holds: refused whole, never a silent gap. */
export class ResumeGapError extends Error {
  readonly code = 'resume_gap';
  constructor(
    readonly firstId: number,
    readonly afterId: number,
  ) {
    super(`cannot resume after event ${afterId}: the log now starts at event ${firstId}`);
    this.name = 'ResumeGapError';
  }
}

export class LogClosedError extends Error {
  constructor(sessionId: string) {
    super(`session ${sessionId} has ended; no event may follow its terminal event`);
    this.name = 'LogClosedError';
  }
}

export class SessionLog {
  private readonly entries: CenecaEvent[] = [];
  /** Id of `entries[0]`; rises when old entries leave the log. */
  private firstId = 1;
  private lastTs = 0;
  private terminal = false;
  private wakeSubscribers: Array<() => void> = [];

  constructor(
    readonly sessionId: string,
    private readonly clock: () => number = Date.now,
  ) {}

  get lastId(): number {
    return this.firstId + this.entries.length - 1;
  }

  get firstHeldId(): number {
    return this.firstId;
  }

  get closed(): boolean {
    return this.terminal;
  }

  /** Stamps and stores an event; throws LogClosedError after the terminal event. */
  append(payload: EventPayload): CenecaEvent {
    if (this.terminal) throw new LogClosedError(this.sessionId);
    this.lastTs = Math.max(this.lastTs, Math.floor(this.clock()));
    const event = { ...payload, v: EVENT_VERSION, session: this.sessionId, id: this.lastId + 1, ts: this.lastTs } as CenecaEvent;
    this.entries.push(event);
    if (isTerminal(event)) this.terminal = true;
    this.wake();
    return event;
  }

  /** The events still held, oldest first. */
  snapshot(): readonly CenecaEvent[] {
    return this.entries.slice();
  }

  /**
   * Every event with id > afterId, exactly once and in order, including those appended while iterating;
   * ends after the terminal event (or when `signal` aborts). Throws ResumeGapError at once when the log no
   * longer holds afterId + 1.
   */
  subscribe(afterId = 0, signal?: AbortSignal): AsyncIterableIterator<CenecaEvent> {
    if (!Number.isInteger(afterId) || afterId < 0 || afterId > this.lastId) {
      throw new RangeError(`session ${this.sessionId} has no event ${afterId} (last is ${this.lastId})`);
    }
    this.checkResumable(afterId);
    return this.follow(afterId, signal);
  }

  private checkResumable(afterId: number): void {
    if (afterId + 1 < this.firstId) throw new ResumeGapError(this.firstId, afterId);
  }

  private async *follow(afterId: number, signal?: AbortSignal): AsyncIterableIterator<CenecaEvent> {
    let cursor = afterId;
    while (!signal?.aborted) {
      if (cursor < this.lastId) {
        this.checkResumable(cursor);
        const event = this.entries[cursor + 1 - this.firstId]!;
        cursor = event.id;
        yield event;
        continue;
      }
      if (this.terminal) return;
      await this.nextAppend(signal);
    }
  }

  private nextAppend(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.wakeSubscribers.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    const waiting = this.wakeSubscribers;
    if (waiting.length === 0) return;
    this.wakeSubscribers = [];
    for (const resolve of waiting) resolve();
  }
}
