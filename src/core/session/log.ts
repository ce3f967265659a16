/**
 * Append-only event log of one session (DESIGN §4). The log stamps the envelope (v, session, id, ts), so ids
 * are consecutive by construction; any number of subscribers replay from an id and then follow live appends.
 *
 * Memory stays bounded two ways: old events leave once every live subscriber has them (by count, and by an
 * estimated byte budget for row batches), and `waitForRoom` lets the producer pause while the slowest live
 * subscriber is too far behind — so a slow reader pauses the database cursor instead of growing the log.
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
  /** Estimated bytes of row batches (`partial_results`) the log holds, under the same rule. */
  rowBytesBudget?: number;
}

/**
 * Small on purpose: delivered row batches kept for a resume live long enough to be promoted out of V8's young
 * generation, and promotion is what costs — 4 MiB held cost 27% of the pipeline's throughput, 1 MiB 9%, and
 * 0 nothing measurable (docs/performance.md). 1 MiB still covers the batch or two a dropped connection can lose
 * in flight; anything older is refused as a resume gap.
 */
export const DEFAULT_ROW_BYTES_BUDGET = 1024 * 1024;

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
  private readonly rowBytesBudget: number;
  /** Estimated size of each held entry's rows (0 for other events), parallel to `entries`. */
  private readonly rowBytes: number[] = [];
  private heldRowBytes = 0;
  /** Producers waiting in waitForRoom, each with the lag it waits for. */
  private roomWaiters: Array<{ maxLag: number; resolve: () => void }> = [];
  private readonly appendListeners = new Set<(event: CenecaEvent) => void>();

  constructor(
    readonly sessionId: string,
    options: SessionLogOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.retainEvents = options.retainEvents ?? Number.POSITIVE_INFINITY;
    this.rowBytesBudget = options.rowBytesBudget ?? DEFAULT_ROW_BYTES_BUDGET;
  }

  /** How many events the slowest live subscriber has still to receive (0 with no live subscriber). */
  get lag(): number {
    return this.live.size === 0 ? 0 : this.lastId - this.slowestDelivered();
  }

  /** Estimated bytes of row batches held. */
  get rowBytesHeld(): number {
    return this.heldRowBytes;
  }

  /**
   * Resolves once the slowest live subscriber is at most `maxLag` events behind (at once when it already is, when
   * nobody is subscribed, or when the log has ended). The producer awaits it before reading more rows.
   */
  waitForRoom(maxLag: number, signal?: AbortSignal): Promise<void> {
    if (this.lag <= maxLag || this.terminal || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter = { maxLag, resolve: (): void => finish() };
      const finish = (): void => {
        signal?.removeEventListener('abort', finish);
        this.roomWaiters = this.roomWaiters.filter((w) => w !== waiter);
        resolve();
      };
      this.roomWaiters.push(waiter);
      signal?.addEventListener('abort', finish, { once: true });
    });
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
    const bytes = event.type === 'partial_results' ? estimateRowBytes(event.rows) : 0;
    this.rowBytes.push(bytes);
    this.heldRowBytes += bytes;
    if (isTerminal(event)) this.terminal = true;
    for (const listener of this.appendListeners) listener(event);
    this.evict();
    this.wake();
    if (this.terminal) this.releaseRoomWaiters(true);
    return event;
  }

  private slowestDelivered(): number {
    let slowest = this.lastId;
    for (const position of this.live) slowest = Math.min(slowest, position.delivered);
    return slowest;
  }

  /** Drops the oldest events while over a bound, but never one a live subscriber has not received. */
  private evict(): void {
    const overBound = (): boolean => this.entries.length > this.retainEvents || this.heldRowBytes > this.rowBytesBudget;
    if (!overBound()) return;
    const deliveredToAll = this.slowestDelivered();
    let removable = 0;
    let freedBytes = 0;
    while (this.firstId + removable <= deliveredToAll && removable < this.entries.length - 1) {
      if (this.entries.length - removable <= this.retainEvents && this.heldRowBytes - freedBytes <= this.rowBytesBudget) break;
      freedBytes += this.rowBytes[removable]!;
      removable++;
    }
    if (removable === 0) return;
    this.entries.splice(0, removable);
    this.rowBytes.splice(0, removable);
    this.heldRowBytes -= freedBytes;
    this.firstId += removable;
  }

  /** A subscriber moved on: events it held back may leave, and a paused producer may go on. */
  private advanced(): void {
    this.evict();
    this.releaseRoomWaiters(false);
  }

  private releaseRoomWaiters(all: boolean): void {
    if (this.roomWaiters.length === 0) return;
    const lag = this.lag;
    for (const waiter of this.roomWaiters.slice()) if (all || lag <= waiter.maxLag) waiter.resolve();
  }

  /**
   * Calls `listener` with every event appended from now on, synchronously, in order (a store mirroring the log
   * elsewhere, a digest of the session's state). Returns the function that stops it.
   */
  onAppend(listener: (event: CenecaEvent) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** The events still held, oldest first. */
  snapshot(): readonly CenecaEvent[] {
    return this.entries.slice();
  }

  /**
   * Every event with id > afterId, exactly once and in order, including those appended while iterating;
   * ends after the terminal event (or when `signal` aborts). Throws ResumeGapError at once when the log no
   * longer holds afterId + 1. The subscriber counts as live from this call until it ends or `return()` is
   * called, so iterate it (or return it): a live subscriber holds events in the log and paces the producer.
   */
  subscribe(afterId = 0, signal?: AbortSignal): AsyncIterableIterator<CenecaEvent> {
    if (!Number.isInteger(afterId) || afterId < 0 || afterId > this.lastId) {
      throw new RangeError(`session ${this.sessionId} has no event ${afterId} (last is ${this.lastId})`);
    }
    this.checkResumable(afterId);
    const position: SubscriberPosition = { delivered: afterId };
    this.live.add(position);
    const release = (): void => {
      if (this.live.delete(position)) this.advanced(); // the slowest reader may have left
    };
    const events = this.follow(position, release, signal);
    return {
      next: () => events.next(),
      return: (value?: unknown) => {
        release(); // also when iteration never started, where the generator's own finally does not run
        return events.return(value as CenecaEvent);
      },
      throw: (error?: unknown) => events.throw(error),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  private checkResumable(afterId: number): void {
    if (afterId + 1 < this.firstId) throw new ResumeGapError(this.firstId, afterId);
  }

  private async *follow(position: SubscriberPosition, release: () => void, signal?: AbortSignal): AsyncGenerator<CenecaEvent> {
    try {
      while (!signal?.aborted) {
        if (position.delivered < this.lastId) {
          const event = this.entries[position.delivered + 1 - this.firstId]!;
          yield event;
          position.delivered = event.id;
          this.advanced();
          continue;
        }
        if (this.terminal) return;
        await this.nextAppend(signal);
      }
    } finally {
      release();
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

/**
 * A cheap size estimate for a row batch — the first row's cells times the row count — so the byte budget costs
 * no serialisation on the hot path.
 */
export function estimateRowBytes(rows: ReadonlyArray<ReadonlyArray<unknown>>): number {
  const first = rows[0];
  if (!first) return 64;
  let perRow = 16;
  for (const cell of first) perRow += typeof cell === 'string' ? 16 + cell.length * 2 : 16;
  return 64 + perRow * rows.length;
}
