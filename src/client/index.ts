/**
 * The reference client of Ceneca's local HTTP API (DESIGN §4), for Node ≥ 18 and browsers: `fetch` for the POST
 * streams (EventSource cannot POST or send a bearer token), SSE parsed by `eventsource-parser`, and resumption
 * the way EventSource does it — reconnect with exponential backoff and jitter, send `Last-Event-ID`, skip what was
 * already seen — except that a resume the server can no longer serve surfaces as `ResumeGapError` instead of a
 * silent gap.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { isTerminal, validateEvent, type CenecaEvent } from '../core/events';

export interface QueryBody {
  question: string;
  sources?: string[];
  maxRows?: number;
  analysis?: boolean;
  priority?: 'interactive' | 'background';
}

export interface ReconnectPolicy {
  /** Reconnects in a row without receiving an event before giving up. Default 8. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface CenecaClientOptions {
  /** e.g. `http://127.0.0.1:7717` */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
  reconnect?: Partial<ReconnectPolicy>;
  /** Jitter source, for reproducible tests. */
  random?: () => number;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called before each reconnect, with why the stream broke and how long the client waits. */
  onReconnect?: (attempt: number, delayMs: number, reason: Error) => void;
}

/** The server answered with an error status; `code` and `message` come from its JSON body. */
export class CenecaApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'CenecaApiError';
  }
}

/** The events after the last one received are gone from the server: the stream cannot continue without a gap. */
export class ResumeGapError extends Error {
  readonly code = 'resume_gap';
  constructor(
    readonly sessionId: string,
    readonly afterId: number,
    readonly firstId: number,
  ) {
    super(`session ${sessionId} can no longer be resumed after event ${afterId}: the server now starts at event ${firstId}`);
    this.name = 'ResumeGapError';
  }
}

const DEFAULT_RECONNECT: ReconnectPolicy = { maxAttempts: 8, initialDelayMs: 250, maxDelayMs: 10_000 };

/** A session's events as they arrive; knows its session id and the last event id once they are known. */
export interface EventStream extends AsyncIterable<CenecaEvent> {
  readonly sessionId: string | undefined;
  readonly lastEventId: number;
}

export class CenecaClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly policy: ReconnectPolicy;
  private readonly random: () => number;

  constructor(private readonly options: CenecaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.policy = { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.random = options.random ?? Math.random;
  }

  /** Asks a question and follows its events to the terminal one, resuming across dropped connections. */
  stream(body: QueryBody, options: StreamOptions = {}): EventStream {
    return this.resumable(() => this.request('POST', '/query/stream', { body, signal: options.signal, stream: true }), undefined, 0, options);
  }

  /** Follows an existing session from `afterId` (0: from its first event). */
  follow(sessionId: string, afterId = 0, options: StreamOptions = {}): EventStream {
    return this.resumable(() => this.openEvents(sessionId, afterId, options.signal), sessionId, afterId, options);
  }

  classify(body: QueryBody, signal?: AbortSignal): Promise<{ sources: Array<{ id: string; kind: string; reason: string }> }> {
    return this.json('POST', '/classify', body, signal);
  }

  /** The whole answer in one JSON body, for callers that cannot stream. */
  query(body: QueryBody, signal?: AbortSignal): Promise<unknown> {
    return this.json('POST', '/query', body, signal);
  }

  describe(sessionId: string, signal?: AbortSignal): Promise<unknown> {
    return this.json('GET', `/sessions/${encodeURIComponent(sessionId)}`, undefined, signal);
  }

  cancel(sessionId: string, signal?: AbortSignal): Promise<unknown> {
    return this.json('POST', `/sessions/${encodeURIComponent(sessionId)}/cancel`, undefined, signal);
  }

  /** The delay before reconnect `attempt` (1-based): exponential, capped, with full jitter over its upper half. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  private resumable(open: () => Promise<Response>, knownSessionId: string | undefined, startAfter: number, options: StreamOptions): EventStream {
    const client = this;
    const state = { sessionId: knownSessionId, lastEventId: startAfter };
    async function* events(): AsyncGenerator<CenecaEvent> {
      let response = await open();
      state.sessionId ??= response.headers.get('x-ceneca-session') ?? undefined;
      let failures = 0;
      for (;;) {
        let reason: Error;
        try {
          for await (const event of client.readEvents(response, options.signal)) {
            state.sessionId ??= event.session;
            if (event.id <= state.lastEventId) continue; // already delivered before the reconnect
            state.lastEventId = event.id;
            failures = 0;
            yield event;
            if (isTerminal(event)) return;
          }
          reason = new Error('the stream ended before its terminal event');
        } catch (error) {
          if (options.signal?.aborted) throw error;
          if (error instanceof CenecaApiError && error.status < 500) throw error;
          reason = error instanceof Error ? error : new Error(String(error));
        }
        if (!state.sessionId) throw reason; // nothing to resume: the session id never arrived
        response = await client.reconnect(state.sessionId, state.lastEventId, ++failures, reason, options);
      }
    }
    const iterable = events();
    return {
      get sessionId() {
        return state.sessionId;
      },
      get lastEventId() {
        return state.lastEventId;
      },
      [Symbol.asyncIterator]: () => iterable,
    };
  }

  /** Waits, then reopens the session's events after `afterId`, until it works or the attempts run out. */
  private async reconnect(sessionId: string, afterId: number, firstAttempt: number, reason: Error, options: StreamOptions): Promise<Response> {
    let lastReason = reason;
    for (let attempt = firstAttempt; attempt <= this.policy.maxAttempts; attempt++) {
      const delayMs = this.backoffMs(attempt);
      options.onReconnect?.(attempt, delayMs, lastReason);
      await sleep(delayMs, options.signal);
      try {
        return await this.openEvents(sessionId, afterId, options.signal);
      } catch (error) {
        if (options.signal?.aborted || error instanceof ResumeGapError) throw error;
        if (error instanceof CenecaApiError && error.status < 500) throw error;
        lastReason = error instanceof Error ? error : new Error(String(error));
      }
    }
    throw new Error(`gave up on session ${sessionId} after ${this.policy.maxAttempts} reconnect attempts: ${lastReason.message}`);
  }

  private async openEvents(sessionId: string, afterId: number, signal?: AbortSignal): Promise<Response> {
    try {
      return await this.request('GET', `/sessions/${encodeURIComponent(sessionId)}/events`, { signal, stream: true, lastEventId: afterId });
    } catch (error) {
      if (error instanceof CenecaApiError && error.status === 410) {
        const firstId = Number((error.body as { firstId?: unknown } | undefined)?.firstId);
        throw new ResumeGapError(sessionId, afterId, Number.isFinite(firstId) ? firstId : afterId + 1);
      }
      throw error;
    }
  }

  private async *readEvents(response: Response, signal?: AbortSignal): AsyncGenerator<CenecaEvent> {
    if (!response.body) throw new Error('the response has no body');
    const pending: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (message) => pending.push(message) });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const onAbort = (): void => void reader.cancel().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        while (pending.length > 0) yield parseEvent(pending.shift()!);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      reader.cancel().catch(() => undefined);
    }
  }

  private async json<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.request(method, path, { body, signal });
    return (await response.json()) as T;
  }

  private async request(method: string, path: string, options: { body?: unknown; signal?: AbortSignal; stream?: boolean; lastEventId?: number }): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.options.token}` };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.stream) headers.Accept = 'text/event-stream';
    if (options.lastEventId !== undefined) headers['Last-Event-ID'] = String(options.lastEventId);
    const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!response.ok) throw await apiError(response);
    return response;
  }
}

function parseEvent(message: EventSourceMessage): CenecaEvent {
  let value: unknown;
  try {
    value = JSON.parse(message.data);
  } catch {
    throw new Error(`the server sent an event that is not JSON (id ${message.id ?? '?'})`);
  }
  const checked = validateEvent(value);
  if (!checked.ok) throw new Error(`the server sent ${checked.message}`);
  return checked.event;
}

async function apiError(response: Response): Promise<CenecaApiError> {
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const fields = (body ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof fields.code === 'string' ? fields.code : `http_${response.status}`;
  const message = typeof fields.message === 'string' ? fields.message : text.slice(0, 200) || response.statusText;
  return new CenecaApiError(response.status, code, `${response.status} ${message}`, body);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
