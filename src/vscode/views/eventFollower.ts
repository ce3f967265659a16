/**
 * Follows one session's log for a webview: events are gathered and posted in batches about once per frame, and
 * while a post is in flight the follower stops reading, so a slow webview paces the engine through the log's
 * backpressure instead of piling events up in the host.
 */
import type { CenecaEvent } from '../../core/events';
import type { Session } from '../../core/session/session';

const FRAME_MS = 16;
const MAX_BATCH_EVENTS = 64;

export type PostEvents = (events: CenecaEvent[]) => Thenable<boolean>;

export class EventFollower {
  private readonly stopper = new AbortController();
  private buffer: CenecaEvent[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  /** Throws ResumeGapError (or RangeError for an id the session never had) at once, as SessionLog.subscribe does. */
  constructor(
    readonly session: Session,
    afterId: number,
    private readonly post: PostEvents,
  ) {
    const events = session.log.subscribe(afterId, this.stopper.signal);
    void this.follow(events);
  }

  stop(): void {
    this.stopper.abort();
    if (this.timer) clearTimeout(this.timer);
    this.buffer = [];
  }

  private async follow(events: AsyncIterableIterator<CenecaEvent>): Promise<void> {
    for await (const event of events) {
      this.buffer.push(event);
      if (this.buffer.length >= MAX_BATCH_EVENTS) await this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), FRAME_MS);
    }
    if (!this.stopper.signal.aborted) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight) await this.inFlight;
    if (this.buffer.length === 0 || this.stopper.signal.aborted) return;
    const batch = this.buffer;
    this.buffer = [];
    this.inFlight = Promise.resolve(this.post(batch)).then(
      () => undefined,
      () => undefined, // a disposed webview: the view asks to resume when it comes back
    );
    await this.inFlight;
    this.inFlight = undefined;
  }
}
