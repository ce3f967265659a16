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

export interface SessionLogOptions {
  clock?: () => number;
  /**
   * How many events the log holds. Beyond it the oldest events leave — but only those every live subscriber has
   * already received, so a subscriber never loses an event; a later resume from before them is refused.
   */
  retainEvents?: number;
}

/** Where one live subscriber has got to; the log never evicts past the slowest. */
interface SubscriberPosition {
  delivered: number;
}

export class SessionLog {
  private readonly entries: CenecaEvent[] = [];
  /** Id of `entries[0]`; rises when old entries leave the log. */
  private firstId = 1;
  private lastTs = 0;
  private terminal = false;
  private wakeSubscribers: Array<() => void> = [];
  private readonly live = new Set<SubscriberPosition>();
  private readonly clock: () => number;
  private readonly retainEvents: number;

  constructor(
    readonly sessionId: string,
    options: SessionLogOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.retainEvents = options.retainEvents ?? Number.POSITIVE_INFINITY;
  }

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
    this.evict();
    this.wake();
    return event;
  }

  private evict(): void {
    const excess = this.entries.length - this.retainEvents;
    if (excess <= 0) return;
    let slowest = this.lastId;
    for (const position of this.live) slowest = Math.min(slowest, position.delivered);
    const removable = Math.min(excess, slowest - this.firstId + 1);
    if (removable <= 0) return;
    this.entries.splice(0, removable);
    this.firstId += removable;
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
    const position: SubscriberPosition = { delivered: afterId };
    this.checkResumable(afterId);
    this.live.add(position);
    try {
      while (!signal?.aborted) {
        if (position.delivered < this.lastId) {
          const event = this.entries[position.delivered + 1 - this.firstId]!;
          yield event;
          position.delivered = event.id;
          continue;
        }
        if (this.terminal) return;
        await this.nextAppend(signal);
      }
    } finally {
      this.live.delete(position);
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
