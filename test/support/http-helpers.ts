/**
 * Helpers for the HTTP API tests: a real API server over a real PostgreSQL source and the OpenAI stand-in, a small
 * SSE client on `node:http` that reads only when asked (so a slow reader really leaves bytes unread), and JSON calls.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createParser } from 'eventsource-parser';
import { Engine } from '../../src/core/engine';
import type { CenecaEvent } from '../../src/core/events';
import type { LlmProvider } from '../../src/core/llm/provider';
import { defaultEngineSettings, type EngineSettings } from '../../src/core/pipeline/single';
import { SessionManager, type SessionManagerOptions } from '../../src/core/session/manager';
import { MemorySessionStore } from '../../src/core/session/store';
import type { PostgresSource, PostgresSourceOptions } from '../../src/core/sources/postgres';
import { createApiServer, type ApiServer, type ApiServerOptions } from '../../src/server/server';
import { postgresSource } from './fixtures';

export const TEST_TOKEN = 'test-token-0123456789';

export interface TestApi {
  url: string;
  token: string;
  server: ApiServer;
  engine: Engine;
  manager: SessionManager;
  store: MemorySessionStore;
  source: PostgresSource;
  close(): Promise<void>;
}

export interface TestApiOptions {
  databaseUrl: string;
  llm: LlmProvider;
  settings?: Partial<EngineSettings>;
  source?: Partial<PostgresSourceOptions>;
  manager?: SessionManagerOptions;
  server?: Partial<Omit<ApiServerOptions, 'engine' | 'manager' | 'store'>>;
}

/** A whole API on 127.0.0.1:0: source, engine, manager, in-memory store, server. */
export async function startTestApi(options: TestApiOptions): Promise<TestApi> {
  const source = postgresSource(options.databaseUrl, options.source);
  const store = new MemorySessionStore();
  const manager = new SessionManager(store, options.manager);
  const engine = new Engine({ sources: [source], llm: options.llm, settings: { ...defaultEngineSettings, ...options.settings } }, manager);
  const token = options.server?.token ?? TEST_TOKEN;
  const server = await createApiServer({ engine, manager, store, token, port: 0, log: () => undefined, ...options.server });
  return {
    url: server.url,
    token,
    server,
    engine,
    manager,
    store,
    source,
    close: async () => {
      await Promise.all([server.close(), engine.close()]);
      await store.close();
    },
  };
}

export interface JsonReply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** One JSON request with fetch; `token: null` sends no Authorization header. */
export async function callJson<T = Record<string, unknown>>(
  api: { url: string; token: string },
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<JsonReply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? api.token : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${api.url}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (metrics): the text itself
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export interface SseOpenOptions {
  method?: 'GET' | 'POST';
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send Accept-Encoding: gzip and decompress. */
  gzip?: boolean;
  /** Cut the connection once this many characters of the body have arrived (the rest of that chunk is lost). */
  cutAfterChars?: number;
}

/**
 * An SSE response read on demand: `next()` resumes the socket only while it has no parsed event to hand out,
 * so an idle caller leaves the bytes in the socket (and the server sees a slow reader).
 */
export class SseClient {
  /** Every event parsed so far, in arrival order. */
  readonly events: CenecaEvent[] = [];
  readonly comments: string[] = [];
  retry?: number;
  /** Characters of body received (after decompression). */
  receivedChars = 0;
  private readonly queue: CenecaEvent[] = [];
  private ended = false;
  private wake?: () => void;
  private readonly parser = createParser({
    onEvent: (message) => {
      const event = JSON.parse(message.data) as CenecaEvent;
      if (message.id !== String(event.id)) throw new Error(`frame id ${message.id} differs from event id ${event.id}`);
      this.events.push(event);
      this.queue.push(event);
    },
    onRetry: (ms) => (this.retry = ms),
    onComment: (comment) => this.comments.push(comment.trim()),
  });

  private constructor(
    readonly response: IncomingMessage,
    private readonly request: ClientRequest,
    private readonly body: Readable,
    private readonly cutAfterChars: number | undefined,
  ) {
    body.setEncoding('utf8');
    body.pause();
    body.on('data', (text: string) => this.receive(text));
    const finish = (): void => {
      this.ended = true;
      this.wakeUp();
    };
    body.on('end', finish);
    body.on('close', finish);
    body.on('error', finish);
    response.on('error', finish);
    response.on('aborted', finish);
  }

  static open(url: string, options: SseOpenOptions = {}): Promise<SseClient> {
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...options.headers };
    if (options.token !== null) headers.Authorization = `Bearer ${options.token ?? TEST_TOKEN}`;
    if (options.gzip) headers['Accept-Encoding'] = 'gzip';
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise<SseClient>((resolve, reject) => {
      const req = httpRequest(url, { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, agent: false });
      req.once('error', reject);
      req.once('response', (res) => {
        req.off('error', reject);
        req.on('error', () => undefined); // a deliberate cut destroys the request
        const gzipped = res.headers['content-encoding'] === 'gzip';
        const body = gzipped ? res.pipe(createGunzip()) : res;
        resolve(new SseClient(res, req, body, options.cutAfterChars));
      });
      req.end(payload);
    });
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.response.headers;
  }

  /** The next event, or undefined once the response is over. */
  async next(): Promise<CenecaEvent | undefined> {
    while (this.queue.length === 0 && !this.ended) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.body.resume();
      });
    }
    return this.queue.shift();
  }

  /** Reads to the end of the response; returns every event received. */
  async readAll(): Promise<CenecaEvent[]> {
    while ((await this.next()) !== undefined) {
      // draining
    }
    return this.events;
  }

  /** Reads until an event passes `test` (returned), or the end (undefined). */
  async until(test: (event: CenecaEvent) => boolean): Promise<CenecaEvent | undefined> {
    for (let event = await this.next(); event; event = await this.next()) if (test(event)) return event;
    return undefined;
  }

  /** Drops the connection, as a client that vanished would. */
  cut(): void {
    this.ended = true;
    this.request.destroy();
    this.response.destroy();
    this.wakeUp();
  }

  private receive(text: string): void {
    if (this.ended) return;
    let piece = text;
    if (this.cutAfterChars !== undefined && this.receivedChars + piece.length >= this.cutAfterChars) {
      piece = piece.slice(0, this.cutAfterChars - this.receivedChars);
      this.receivedChars += piece.length;
      this.parser.feed(piece);
      this.cut();
      return;
    }
    this.receivedChars += piece.length;
    this.parser.feed(piece);
    if (this.queue.length > 0) {
      this.body.pause();
      this.wakeUp();
    }
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** A deterministic PRNG (mulberry32) for reproducible cut points. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns its last answer. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3_000, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
