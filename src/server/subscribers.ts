/**
 * Who is reading which session through this server: for the subscriber-lag metric, and for the optional rule
 * that a session whose last reader left (and did not come back within a grace period) is cancelled.
 */

export interface Subscription {
  readonly sessionId: string;
  /** The id of the last event written to this subscriber. */
  lastSentId: number;
}

export interface SubscriberTrackerOptions {
  /** Cancel a session this long after its last subscriber left before its end; undefined: never. */
  orphanCancelMs?: number;
  cancel: (sessionId: string) => Promise<unknown>;
}

export class SubscriberTracker {
  private readonly bySession = new Map<string, Set<Subscription>>();
  private readonly orphanTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: SubscriberTrackerOptions) {}

  add(sessionId: string, afterId: number): Subscription {
    this.clearOrphanTimer(sessionId);
    const subscription: Subscription = { sessionId, lastSentId: afterId };
    const set = this.bySession.get(sessionId) ?? new Set<Subscription>();
    set.add(subscription);
    this.bySession.set(sessionId, set);
    return subscription;
  }

  /** `sessionEnded`: the subscriber saw the terminal event, so there is nothing to cancel. */
  remove(subscription: Subscription, sessionEnded: boolean): void {
    const set = this.bySession.get(subscription.sessionId);
    if (!set?.delete(subscription)) return;
    if (set.size > 0) return;
    this.bySession.delete(subscription.sessionId);
    if (!sessionEnded) this.armOrphanTimer(subscription.sessionId);
  }

  get count(): number {
    let total = 0;
    for (const set of this.bySession.values()) total += set.size;
    return total;
  }

  *subscriptions(): Iterable<Subscription> {
    for (const set of this.bySession.values()) yield* set;
  }

  close(): void {
    for (const timer of this.orphanTimers.values()) clearTimeout(timer);
    this.orphanTimers.clear();
  }

  private armOrphanTimer(sessionId: string): void {
    const graceMs = this.options.orphanCancelMs;
    if (graceMs === undefined || graceMs < 0) return;
    const timer = setTimeout(() => {
      this.orphanTimers.delete(sessionId);
      if (this.bySession.has(sessionId)) return; // a reader came back
      this.options.cancel(sessionId).catch(() => undefined);
    }, graceMs);
    timer.unref();
    this.orphanTimers.set(sessionId, timer);
  }

  private clearOrphanTimer(sessionId: string): void {
    const timer = this.orphanTimers.get(sessionId);
    if (timer) clearTimeout(timer);
    this.orphanTimers.delete(sessionId);
  }
}
