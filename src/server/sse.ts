/**
 * Server-sent events (DESIGN §4): `retry:` once, then one `id:` + `data:` frame per event, a `:` comment as a
 * heartbeat, the end of the response after the terminal event. Optionally gzip, flushed after every frame so
 * compression never holds an event back.
 *
 * Backpressure: the next event is pulled from the session only once the previous frame was accepted (`write`
 * returned true, or 'drain' fired). While a client is behind, its subscription stops advancing, the session log's
 * lag grows, and the pipeline pauses the database cursor — the socket's own buffer is this subscriber's bound.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline, type Writable } from 'node:stream';
import { constants as zlibConstants, createGzip, type Gzip } from 'node:zlib';
import { isTerminal, type CenecaEvent } from '../core/events';

export const DEFAULT_HEARTBEAT_MS = 15_000;
export const DEFAULT_RETRY_MS = 2_000;

export interface SseOptions {
  heartbeatMs: number;
  /** The `retry:` the client's EventSource waits before reconnecting. */
  retryMs: number;
  gzip: boolean;
  /** More response headers (the session id, CORS). */
  headers?: OutgoingHttpHeaders;
}

export const SSE_HEADERS: OutgoingHttpHeaders = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
  Vary: 'Accept-Encoding',
};

/** True when the client lists gzip (or `*`) in Accept-Encoding with a non-zero q. */
export function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    if (name.trim() !== 'gzip' && name.trim() !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** One open SSE response: frames out, heartbeats, and the moment the client leaves. */
export class SseResponse {
  private readonly gzip?: Gzip;
  private readonly target: Writable;
  private heartbeat?: NodeJS.Timeout;
  private waitingForDrain = false;
  private gone = false;
  private readonly goneListeners: Array<() => void> = [];
  /** Resolves when the response is over, whether finished or cut off. */
  readonly closed: Promise<void>;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseOptions,
  ) {
    if (options.gzip) {
      this.gzip = createGzip();
      // pipeline destroys both sides when either fails, so a vanished client frees the compressor too.
      pipeline(this.gzip, res, () => undefined);
    }
    this.target = this.gzip ?? res;
    this.closed = new Promise<void>((resolve) => {
      res.once('close', () => {
        this.stopHeartbeat();
        if (!res.writableFinished) this.markGone();
        resolve();
      });
    });
    if (res.destroyed) this.markGone();
  }

  /** The client went away before the response ended. */
  get clientGone(): boolean {
    return this.gone;
  }

  onClientGone(listener: () => void): void {
    if (this.gone) listener();
    else this.goneListeners.push(listener);
  }

  /** Sends the headers and the `retry:` line at once, and starts the heartbeat. */
  open(): void {
    if (this.gone) return;
    const encoding: OutgoingHttpHeaders = this.gzip ? { 'Content-Encoding': 'gzip' } : {};
    // Keep a Vary set earlier (CORS: Origin); writeHead's headers would replace it.
    const vary = [this.res.getHeader('Vary'), SSE_HEADERS.Vary].filter((v) => v !== undefined).join(', ');
    this.res.writeHead(200, { ...SSE_HEADERS, ...encoding, Vary: vary, ...this.options.headers });
    this.res.flushHeaders();
    this.writeNow(`retry: ${this.options.retryMs}\n\n`);
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Writes one event frame; resolves when the transport can take the next one (or the client has gone). Returns the frame's size in bytes (before compression). */
  async sendEvent(event: CenecaEvent): Promise<number> {
    if (this.gone) return 0;
    const frame = frameOf(event);
    if (!this.writeNow(frame)) await this.drained();
    return frame.length;
  }

  /** Ends the response; resolves once it is finished or the client has gone. */
  async end(): Promise<void> {
    this.stopHeartbeat();
    if (!this.gone) this.target.end();
    await this.closed;
  }

  private beat(): void {
    // A heartbeat only matters on an idle connection; one that is backed up is not idle.
    if (this.gone || this.waitingForDrain) return;
    this.writeNow(': heartbeat\n\n');
  }

  private writeNow(chunk: string | Buffer): boolean {
    const accepted = this.target.write(chunk);
    this.gzip?.flush(zlibConstants.Z_SYNC_FLUSH);
    return accepted;
  }

  private drained(): Promise<void> {
    this.waitingForDrain = true;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.target.off('drain', done);
        this.res.off('close', done);
        this.waitingForDrain = false;
        resolve();
      };
      this.target.once('drain', done);
      this.res.once('close', done);
    });
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    for (const listener of this.goneListeners.splice(0)) listener();
  }
}

/**
 * An event's SSE frame, built once however many clients follow the session (they all receive the same event
 * object from the session log).
 */
const frames = new WeakMap<CenecaEvent, Buffer>();

function frameOf(event: CenecaEvent): Buffer {
  let frame = frames.get(event);
  if (!frame) {
    frame = Buffer.from(`id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`, 'utf8');
    frames.set(event, frame);
  }
  return frame;
}

export interface StreamOutcome {
  /** The id of the last event written, 0 when none was. */
  lastId: number;
  /** The terminal event was written. */
  terminal: boolean;
  clientGone: boolean;
}

/**
 * Writes every event of `events` to the response, one at a time, each only after the previous one was accepted,
 * and ends the response after the terminal event. A client that leaves unsubscribes at once (`return()`),
 * even while the loop waits for the next event.
 */
export async function pipeEvents(
  events: AsyncIterableIterator<CenecaEvent>,
  sse: SseResponse,
  onSent: (event: CenecaEvent, bytes: number) => void = () => undefined,
): Promise<StreamOutcome> {
  let lastId = 0;
  let terminal = false;
  sse.onClientGone(() => void finish(events));
  try {
    while (!sse.clientGone) {
      const next = await events.next();
      if (next.done || sse.clientGone) break;
      const bytes = await sse.sendEvent(next.value);
      if (bytes > 0) {
        lastId = next.value.id;
        onSent(next.value, bytes);
      }
      if (isTerminal(next.value)) {
        terminal = true;
        break;
      }
    }
  } finally {
    await finish(events);
  }
  await sse.end();
  return { lastId, terminal, clientGone: sse.clientGone };
}

/** Ends a subscription; a store whose iterator fails to close has nothing more to tell this client. */
async function finish(events: AsyncIterableIterator<CenecaEvent>): Promise<void> {
  try {
    await events.return?.();
  } catch {
    // already closed or broken: either way it delivers nothing more
  }
}
