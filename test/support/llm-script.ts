/**
 * Scripts for the loopback LLM stand-ins (OpenAI chat completions, Anthropic messages): the script types, the
 * matching logic, and the HTTP plumbing both stand-ins share (socket tracking, SSE framing, disconnect-aware writes).
 * Only Node's `http` module is used; the real SDKs talk to these servers over 127.0.0.1.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type StandInFailure =
  /** Answer with this HTTP error (JSON error body in the provider's format, `retry-after` header when given) instead of a stream. */
  | { kind: 'http'; status: number; retryAfterSeconds?: number; message?: string }
  /** Send this many content chunks, then destroy the socket (no terminator). */
  | { kind: 'drop'; afterChunks: number }
  /** Send this many content chunks, then the provider's in-stream error event, and end the response. */
  | { kind: 'stream-error'; afterChunks: number; message?: string };

export interface ScriptedReply {
  /** Tested against the request's whole text (system + all messages concatenated). Absent: matches any request. */
  match?: string | RegExp;
  /** The reply text. Split into chunks by `chunks` when given, else by `chunkSize` characters (default 8; never split a UTF-16 surrogate pair when splitting by characters). */
  text: string;
  /** Exact chunk boundaries; joined they must equal `text` (throws at construction if not). */
  chunks?: string[];
  /**
   * Split the text's raw UTF-8 bytes into pieces of this many bytes, each a separate socket write inside the SSE data
   * line, so a multi-byte character can be split across TCP writes (the SDK must reassemble). Given alone, the whole
   * text is one content chunk; combined with `chunks`/`chunkSize`, every content chunk's text is dribbled this way.
   */
  byteSplit?: number;
  chunkSize?: number;
  /** Delay before each content chunk (ms). */
  chunkDelayMs?: number;
  /** Delay before the response headers (ms). */
  firstByteDelayMs?: number;
  failure?: StandInFailure;
  /** How many requests this reply may serve; default 1; Infinity = forever. */
  times?: number;
  /** Reported token counts; estimated (≈ 4 characters a token) when absent. */
  usage?: { inputTokens: number; outputTokens: number };
}

export interface RecordedRequest {
  /** The request target as received, e.g. `/v1/chat/completions` (query string included). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; the raw string when it is not JSON. */
  body: unknown;
  /** System prompt + every message's text, joined with newlines: what `match` is tested against. */
  text: string;
}

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
}

export const DEFAULT_CHUNK_SIZE = 8;
export const NO_MATCH_MESSAGE = 'stand-in: no scripted reply matches';

/** A validated reply with its content chunks worked out. */
export interface PreparedReply {
  readonly reply: ScriptedReply;
  readonly chunks: readonly string[];
}

/** Splits by UTF-16 code units, `size` at a time, moving a boundary that would split a surrogate pair one unit on. */
export function splitByCharacters(text: string, size: number): string[] {
  assertPositiveInteger(size, 'chunkSize');
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1)) && isLowSurrogate(text.charCodeAt(end))) end++;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

/** Splits a UTF-8 buffer into pieces of `size` bytes (the last may be shorter), with no regard for character boundaries. */
export function splitBytes(bytes: Buffer, size: number): Buffer[] {
  assertPositiveInteger(size, 'byteSplit');
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.subarray(offset, offset + size));
  return pieces;
}

/** Validates a reply (throws a descriptive error when it is inconsistent) and works out its content chunks. */
export function prepareReply(reply: ScriptedReply): PreparedReply {
  const where = `scripted reply ${describeMatch(reply.match)}`;
  if (typeof reply.text !== 'string') throw new TypeError(`${where}: text must be a string`);
  let chunks: string[];
  if (reply.chunks) {
    const joined = reply.chunks.join('');
    if (joined !== reply.text) {
      throw new Error(`${where}: chunks joined (${JSON.stringify(joined)}) do not equal text (${JSON.stringify(reply.text)})`);
    }
    chunks = [...reply.chunks];
  } else if (reply.chunkSize !== undefined || reply.byteSplit === undefined) {
    chunks = splitByCharacters(reply.text, reply.chunkSize ?? DEFAULT_CHUNK_SIZE);
  } else {
    chunks = reply.text ? [reply.text] : [];
  }
  if (reply.byteSplit !== undefined) assertPositiveInteger(reply.byteSplit, `${where}: byteSplit`);
  assertDelay(reply.chunkDelayMs, `${where}: chunkDelayMs`);
  assertDelay(reply.firstByteDelayMs, `${where}: firstByteDelayMs`);
  if (reply.times !== undefined && reply.times !== Infinity) assertPositiveInteger(reply.times, `${where}: times`);
  if (reply.usage) {
    for (const [key, value] of Object.entries(reply.usage)) {
      if (!Number.isInteger(value) || value < 0) throw new RangeError(`${where}: usage.${key} must be a non-negative integer`);
    }
  }
  const failure = reply.failure;
  if (failure?.kind === 'http') {
    if (!Number.isInteger(failure.status) || failure.status < 400 || failure.status > 599) {
      throw new RangeError(`${where}: failure.status must be an HTTP error status (400-599), got ${failure.status}`);
    }
    if (failure.retryAfterSeconds !== undefined && !(failure.retryAfterSeconds >= 0)) {
      throw new RangeError(`${where}: failure.retryAfterSeconds must be >= 0`);
    }
  } else if (failure) {
    if (!Number.isInteger(failure.afterChunks) || failure.afterChunks < 0 || failure.afterChunks > chunks.length) {
      throw new RangeError(`${where}: failure.afterChunks must be an integer from 0 to ${chunks.length} (the reply's chunk count), got ${failure.afterChunks}`);
    }
  }
  return { reply, chunks };
}

/** Token counts for a reply: the scripted ones, else an estimate of about four characters a token. */
export function usageFor(reply: ScriptedReply, requestText: string): TokenCounts {
  return reply.usage ?? { inputTokens: Math.max(1, Math.ceil(requestText.length / 4)), outputTokens: Math.ceil(reply.text.length / 4) };
}

/** The ordered script: each request takes the first reply that still has uses left and matches. */
export class ReplyScript {
  private readonly entries: { prepared: PreparedReply; usesLeft: number }[] = [];

  constructor(replies: readonly ScriptedReply[] = []) {
    this.push(...replies);
  }

  /** Appends replies (validated now, so a bad script fails where it is written). */
  push(...replies: ScriptedReply[]): void {
    for (const reply of replies) this.entries.push({ prepared: prepareReply(reply), usesLeft: reply.times ?? 1 });
  }

  /** Takes (and uses up once) the first reply matching `requestText`; undefined when none does. */
  take(requestText: string): PreparedReply | undefined {
    for (const entry of this.entries) {
      if (entry.usesLeft <= 0 || !matches(entry.prepared.reply.match, requestText)) continue;
      entry.usesLeft--;
      return entry.prepared;
    }
    return undefined;
  }

  /** Replies with uses left (Infinity-times replies count once). */
  get pending(): number {
    return this.entries.filter((entry) => entry.usesLeft > 0).length;
  }
}

export function matches(match: string | RegExp | undefined, text: string): boolean {
  if (match === undefined) return true;
  if (typeof match === 'string') return text.includes(match);
  match.lastIndex = 0; // a /g or /y pattern is stateful; every request starts afresh
  return match.test(text);
}

export function noMatchMessage(requestText: string): string {
  return `${NO_MATCH_MESSAGE}; the request text starts ${JSON.stringify(requestText.slice(0, 200))}`;
}

// ---------------------------------------------------------------------------------------------------------------
// SSE framing

/** Stands in for the reply text inside a frame whose text is written byte piece by byte piece. */
const TEXT_SLOT = '\u0000stand-in-text-slot\u0000';

/**
 * One SSE frame (`event:` line when named, one `data:` line, blank line) as the buffers to write, each a separate
 * socket write. With `text` and `byteSplit`, `build(TEXT_SLOT)`'s serialised slot is replaced by the JSON-escaped text
 * written `byteSplit` bytes at a time; otherwise the frame is one buffer built from `build(text)`.
 */
export function sseFrame(options: { event?: string; build: (text: string) => unknown; text?: string; byteSplit?: number }): Buffer[] {
  const head = options.event === undefined ? 'data: ' : `event: ${options.event}\ndata: `;
  const text = options.text ?? '';
  if (options.byteSplit === undefined || options.text === undefined) {
    return [Buffer.from(`${head}${JSON.stringify(options.build(text))}\n\n`, 'utf8')];
  }
  const serialised = JSON.stringify(options.build(TEXT_SLOT));
  const slot = JSON.stringify(TEXT_SLOT);
  const at = serialised.indexOf(slot);
  if (at < 0 || serialised.indexOf(slot, at + 1) >= 0) throw new Error('stand-in: the frame must hold the text exactly once');
  const before = `${head}${serialised.slice(0, at)}"`;
  const after = `"${serialised.slice(at + slot.length)}\n\n`;
  const escaped = Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8');
  return [Buffer.from(before, 'utf8'), ...splitBytes(escaped, options.byteSplit), Buffer.from(after, 'utf8')];
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP plumbing

/** One response, aware of the client going away: no write happens after close, and sleeps end early on close. */
export class ResponseChannel {
  private isClosed = false;
  private readonly closeWaiters = new Set<() => void>();

  constructor(readonly res: http.ServerResponse) {
    res.on('error', () => undefined); // a write racing a disconnect; `closed` already stops the writer
    res.on('close', () => {
      this.isClosed = true;
      for (const wake of [...this.closeWaiters]) wake();
      this.closeWaiters.clear();
    });
  }

  /** True once the connection closed (client gone, socket dropped) or the response finished. */
  get closed(): boolean {
    return this.isClosed || this.res.destroyed;
  }

  /** Calls `listener` once the connection has closed (at once if it already has). */
  onClose(listener: () => void): void {
    if (this.isClosed) listener();
    else this.res.once('close', listener);
  }

  /** Waits `ms`; resolves false at once if the response closes meanwhile. */
  sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.closeWaiters.delete(wake);
        resolve(!this.closed);
      }, ms);
      this.closeWaiters.add(wake);
    });
  }

  /** Sends status and headers now (SSE clients should see the response before the first event). */
  head(status: number, headers: http.OutgoingHttpHeaders): boolean {
    if (this.closed) return false;
    this.res.writeHead(status, headers);
    this.res.flushHeaders();
    return true;
  }

  /**
   * Writes each buffer as its own socket write, waiting for each to reach the socket (and for the event loop to
   * turn) before the next, so the pieces are not coalesced. Resolves false, writing nothing more, once closed.
   */
  async write(pieces: readonly Buffer[]): Promise<boolean> {
    for (let i = 0; i < pieces.length; i++) {
      if (!(await this.writeOne(pieces[i]))) return false;
      if (i < pieces.length - 1) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return !this.closed;
  }

  /** Ends the response normally. */
  end(): void {
    if (!this.closed) this.res.end();
  }

  /** Sends a whole JSON response. */
  json(status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
    if (this.closed) return;
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    const reason = http.STATUS_CODES[status] ?? (status === 529 ? 'Overloaded' : 'Error');
    this.res.writeHead(status, reason, { 'content-type': 'application/json', 'content-length': payload.length, ...headers });
    this.res.end(payload);
  }

  /** Destroys the socket without finishing the response: what a dropped connection looks like to the client. */
  drop(): void {
    if (this.res.socket) this.res.socket.destroy();
    else this.res.destroy();
  }

  private writeOne(piece: Buffer): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        this.closeWaiters.delete(settle);
        resolve(!this.closed);
      };
      this.closeWaiters.add(settle);
      this.res.write(piece, () => settle());
    });
  }
}

/** A provider's frames for one stream; each frame is the buffers to write as separate socket writes. */
export interface StreamFrames {
  /** Before the first content chunk (OpenAI: the role chunk; Anthropic: message_start, content_block_start, ping). */
  opening: Buffer[][];
  /** One content chunk. */
  delta: (text: string) => Buffer[];
  /** After the last content chunk, ending the stream normally. */
  closing: () => Buffer[][];
  /** The provider's in-stream error event. */
  streamError: (message: string | undefined) => Buffer[];
}

export interface IncomingCall {
  /** Path without the query string. */
  pathname: string;
  method: string;
  /** Parsed JSON body (the raw string when it is not JSON). */
  body: unknown;
  bodyIsJson: boolean;
  record: RecordedRequest;
  channel: ResponseChannel;
}

/** What both stand-ins share: lifecycle, socket tracking, request recording, the script, and the streaming loop. */
export abstract class StandInServer {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  protected readonly script: ReplyScript;
  private server: http.Server | undefined;
  private port: number | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<object>();
  private readonly writers = new Set<Promise<void>>();

  constructor(script: ScriptedReply[] = []) {
    this.script = new ReplyScript(script);
  }

  /** The base URL to give the SDK's `baseURL` option. */
  abstract get baseURL(): string;

  /** Adds replies to the end of the script. */
  push(...replies: ScriptedReply[]): void {
    this.script.push(...replies);
  }

  /**
   * Streaming responses still open, including those waiting out `firstByteDelayMs`. A stream counts until its
   * connection has closed AND its writer has returned, so 0 also proves no writer is still running.
   */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    if (this.port === undefined) throw new Error('stand-in: call start() first');
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1, on a free port. */
  async start(): Promise<void> {
    if (this.server) throw new Error('stand-in: already started');
    const server = http.createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        // A bug in the stand-in: answer 500 rather than leave the client hanging.
        const channel = new ResponseChannel(res);
        if (!res.headersSent) channel.json(500, { error: { message: `stand-in failure: ${String(error)}` } });
        else channel.drop();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_error, socket) => socket.destroy());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and destroys every open socket, so no test waits on a stream. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Waiting for each socket's 'close' means every response has seen its own 'close' (so activeStreams is 0).
    const socketsClosed = [...this.sockets].map((socket) => new Promise<void>((resolve) => {
      if (socket.destroyed && !this.sockets.has(socket)) return resolve();
      socket.once('close', () => resolve());
      socket.destroy();
    }));
    server.closeAllConnections();
    await Promise.all([closed, ...socketsClosed]);
    await Promise.allSettled([...this.writers]); // each wakes on its socket's close and returns
    this.server = undefined;
  }

  /** The request's text for matching: system + every message, joined with newlines. */
  protected abstract requestText(body: unknown): string;

  /** Answers one recorded request. */
  protected abstract handle(call: IncomingCall): Promise<void>;

  /** Runs a streaming response's writer, counted in `activeStreams` until the connection closed and the writer returned. */
  protected async asStream(channel: ResponseChannel, writer: () => Promise<void>): Promise<void> {
    const token = {};
    let closed = false;
    let returned = false;
    const settle = (): void => {
      if (closed && returned) this.streams.delete(token);
    };
    this.streams.add(token);
    channel.onClose(() => {
      closed = true;
      settle();
    });
    const running = writer().finally(() => {
      returned = true;
      settle();
      this.writers.delete(running);
    });
    this.writers.add(running);
    await running;
  }

  /**
   * The streaming loop both providers share: opening frames, one delta frame per content chunk (after
   * `chunkDelayMs`), then the closing frames, or the scripted drop / in-stream error after `afterChunks` chunks.
   * Returns as soon as the client goes away.
   */
  protected async runStream(
    channel: ResponseChannel,
    prepared: PreparedReply,
    frames: StreamFrames,
  ): Promise<void> {
    const { reply, chunks } = prepared;
    const failure = reply.failure?.kind === 'drop' || reply.failure?.kind === 'stream-error' ? reply.failure : undefined;
    const count = failure ? failure.afterChunks : chunks.length;
    for (const frame of frames.opening) if (!(await channel.write(frame))) return;
    for (let i = 0; i < count; i++) {
      if (reply.chunkDelayMs && !(await channel.sleep(reply.chunkDelayMs))) return;
      if (!(await channel.write(frames.delta(chunks[i])))) return;
    }
    if (failure?.kind === 'drop') {
      channel.drop();
      return;
    }
    const tail = failure?.kind === 'stream-error' ? [frames.streamError(failure.message)] : frames.closing();
    for (const frame of tail) if (!(await channel.write(frame))) return;
    channel.end();
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on('error', () => undefined);
    const channel = new ResponseChannel(res);
    const raw = await readBody(req);
    if (raw === undefined) return; // the client went away while sending
    let body: unknown = raw;
    let bodyIsJson = false;
    try {
      body = JSON.parse(raw);
      bodyIsJson = true;
    } catch {
      // recorded as the raw string; the handler answers 400
    }
    const record: RecordedRequest = {
      path: req.url ?? '/',
      headers: { ...req.headers },
      body,
      text: bodyIsJson ? this.requestText(body) : '',
    };
    this.requests.push(record);
    const pathname = new URL(req.url ?? '/', 'http://stand-in').pathname;
    await this.handle({ pathname, method: req.method ?? 'GET', body, bodyIsJson, record, channel });
  }
}

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', () => resolve(undefined));
    req.on('close', () => resolve(undefined)); // no-op after 'end'; otherwise the client went away mid-body
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers shared by the stand-ins

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `prefix` + `length` random characters from [A-Za-z0-9]. */
export function randomId(prefix: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = prefix;
  for (let i = 0; i < length; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  return id;
}

function describeMatch(match: string | RegExp | undefined): string {
  return match === undefined ? '(matching anything)' : `matching ${typeof match === 'string' ? JSON.stringify(match) : String(match)}`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function assertPositiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
}

function assertDelay(value: number | undefined, what: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new RangeError(`${what} must be a finite number >= 0, got ${value}`);
}
