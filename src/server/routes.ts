/**
 * The API's routes (DESIGN §4) and their handlers. Sessions are read, described and cancelled only through the
 * SessionStore, so a session started on another instance sharing the store is served the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../core/engine';
import { isTerminal, type CenecaEvent } from '../core/events';
import type { QuestionRequest } from '../core/pipeline/single';
import { ResumeGapError } from '../core/session/log';
import type { SessionManager } from '../core/session/manager';
import type { SessionStore } from '../core/session/store';
import { QueryAnswerBuilder, errorSummary, statusForError, type ClassifyAnswer } from './answers';
import { parseQueryBody, readJsonBody, type QueryBody } from './body';
import { badRequest, HttpError, sendJson } from './http';
import type { ServerMetrics } from './metrics';
import { acceptsGzip, pipeEvents, SseResponse } from './sse';
import type { SubscriberTracker } from './subscribers';

export const SESSION_HEADER = 'X-Ceneca-Session';

/** What every handler may use. */
export interface ApiContext {
  engine: Engine;
  manager: SessionManager;
  store: SessionStore;
  metrics: ServerMetrics;
  subscribers: SubscriberTracker;
  maxBodyBytes: number;
  heartbeatMs: number;
  retryMs: number;
  version: string;
  /** When the server started listening (epoch ms). */
  startedAt: number;
}

export interface RouteCall {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The path's captured parts (a session id). */
  params: string[];
  context: ApiContext;
}

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Answers without a token (only /health). */
  public?: boolean;
  handle(call: RouteCall): Promise<void>;
}

const SESSION_ID = '([^/]+)';

export const ROUTES: readonly Route[] = [
  { method: 'POST', pattern: /^\/query\/stream$/, handle: queryStream },
  { method: 'POST', pattern: /^\/cross-database-query\/stream$/, handle: crossDatabaseStream },
  { method: 'POST', pattern: /^\/classify$/, handle: classify },
  { method: 'POST', pattern: /^\/query$/, handle: queryWhole },
  { method: 'GET', pattern: new RegExp(`^/sessions/${SESSION_ID}/events$`), handle: sessionEvents },
  { method: 'POST', pattern: new RegExp(`^/sessions/${SESSION_ID}/cancel$`), handle: cancelSession },
  { method: 'GET', pattern: new RegExp(`^/sessions/${SESSION_ID}$`), handle: describeSession },
  { method: 'GET', pattern: /^\/health$/, public: true, handle: health },
  { method: 'GET', pattern: /^\/metrics$/, handle: metrics },
];

export type RouteMatch = { route: Route; params: string[] } | { allow: string[] } | undefined;

/** The route for a method and path; `{allow}` when the path exists under other methods only (a 405). */
export function matchRoute(method: string, pathname: string): RouteMatch {
  const allow: string[] = [];
  for (const route of ROUTES) {
    const found = route.pattern.exec(pathname);
    if (!found) continue;
    if (route.method === method) {
      return { route, params: found.slice(1).map(decodePathPart) };
    }
    allow.push(route.method);
  }
  return allow.length > 0 ? { allow: [...new Set(allow)] } : undefined;
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badRequest(`malformed path segment "${part}"`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Starting sessions

async function readQuestion(call: RouteCall): Promise<{ request: QuestionRequest; body: QueryBody }> {
  const body = parseQueryBody(await readJsonBody(call.req, call.context.maxBodyBytes));
  checkSources(body.sources, call.context.engine);
  const request: QuestionRequest = {
    question: body.question,
    ...(body.sources ? { sources: body.sources } : {}),
    ...(body.maxRows !== undefined ? { maxRows: body.maxRows } : {}),
    ...(body.analysis !== undefined ? { analysis: body.analysis } : {}),
  };
  return { request, body };
}

/** An unknown source id is the request's mistake: refused before any session exists. */
function checkSources(ids: string[] | undefined, engine: Engine): void {
  if (!ids) return;
  const configured = engine.context.sources.map((s) => s.id);
  const unknown = ids.filter((id) => !configured.includes(id));
  if (unknown.length === 0) return;
  throw badRequest(`sources: unknown source id${unknown.length > 1 ? 's' : ''} ${unknown.map((id) => JSON.stringify(id)).join(', ')} (configured: ${configured.join(', ') || 'none'})`);
}

async function queryStream(call: RouteCall): Promise<void> {
  const { request, body } = await readQuestion(call);
  const { session } = call.context.engine.ask(request, { priority: body.priority });
  await streamSession(call, session.id, 0, { [SESSION_HEADER]: session.id });
}

/** A plan across the sources, even when classification would pick one (`POST /query/stream` plans on its own when it picks several). */
async function crossDatabaseStream(call: RouteCall): Promise<void> {
  const { request, body } = await readQuestion(call);
  const { session } = call.context.engine.askCross(request, { priority: body.priority });
  await streamSession(call, session.id, 0, { [SESSION_HEADER]: session.id });
}

async function classify(call: RouteCall): Promise<void> {
  const { request, body } = await readQuestion(call);
  const { session } = call.context.engine.classify(request, { priority: body.priority });
  let sources: ClassifyAnswer['sources'] = [];
  const terminal = await collectSession(call, session.id, (event) => {
    if (event.type === 'databases_selected') sources = event.databases;
  });
  if (!terminal) return; // the client left
  const headers = { [SESSION_HEADER]: session.id };
  if (terminal.type === 'error') {
    sendJson(call.res, statusForError(terminal.code), { ...errorSummary(terminal), session: session.id }, headers);
    return;
  }
  const answer: ClassifyAnswer = { session: session.id, sources };
  sendJson(call.res, 200, answer, headers);
}

async function queryWhole(call: RouteCall): Promise<void> {
  const { request, body } = await readQuestion(call);
  const { session } = call.context.engine.ask(request, { priority: body.priority });
  const builder = new QueryAnswerBuilder(session.id);
  const terminal = await collectSession(call, session.id, (event) => builder.apply(event));
  if (!terminal) return;
  const answer = builder.result();
  const status = answer.error ? statusForError(answer.error.code) : 200;
  sendJson(call.res, status, answer, { [SESSION_HEADER]: session.id });
}

// ---------------------------------------------------------------------------------------------------------------
// Reading sessions

/** Opens a subscription through the store, mapping its refusals to HTTP: 404, 410 resume_gap, 400. */
async function openEvents(context: ApiContext, id: string, afterId: number, signal: AbortSignal): Promise<AsyncIterableIterator<CenecaEvent>> {
  let events: AsyncIterableIterator<CenecaEvent> | undefined;
  try {
    events = await context.store.read(id, afterId, signal);
  } catch (error) {
    if (isResumeGap(error)) {
      throw new HttpError(410, 'resume_gap', error.message, {}, { firstId: error.firstId, suggestion: `read what is still held (GET /sessions/${id}/events?after=${error.firstId - 1}), or ask again` });
    }
    if (error instanceof RangeError) throw badRequest(error.message);
    throw error;
  }
  if (!events) throw unknownSession(id);
  return events;
}

/** A ResumeGapError, also one a shared store rebuilt from another instance's answer (same code and firstId). */
function isResumeGap(error: unknown): error is Error & { firstId: number } {
  if (error instanceof ResumeGapError) return true;
  const candidate = error as { code?: unknown; firstId?: unknown } | null;
  return error instanceof Error && candidate?.code === 'resume_gap' && typeof candidate.firstId === 'number';
}

function unknownSession(id: string): HttpError {
  return new HttpError(404, 'not_found', `no session ${JSON.stringify(id)} (it never existed, or its retention window has passed)`);
}

/** Streams a session's events after `afterId` as SSE, counting this client as a subscriber while it reads. */
async function streamSession(call: RouteCall, id: string, afterId: number, headers: Record<string, string> = {}): Promise<void> {
  const { context } = call;
  const controller = new AbortController();
  const events = await openEvents(context, id, afterId, controller.signal);
  const subscription = context.subscribers.add(id, afterId);
  let sessionEnded = false;
  try {
    const sse = new SseResponse(call.res, { heartbeatMs: context.heartbeatMs, retryMs: context.retryMs, gzip: acceptsGzip(call.req), headers });
    sse.onClientGone(() => controller.abort());
    sse.open();
    const outcome = await pipeEvents(events, sse, (event, bytes) => {
      subscription.lastSentId = event.id;
      context.metrics.recordSent(event, bytes);
    });
    sessionEnded = outcome.terminal;
  } finally {
    context.subscribers.remove(subscription, sessionEnded);
  }
}

/**
 * Reads a session to its terminal event for a whole-body answer. Resolves undefined when the client left first
 * (nothing is sent then; the session runs on unless the orphan rule cancels it).
 */
async function collectSession(call: RouteCall, id: string, onEvent: (event: CenecaEvent) => void): Promise<CenecaEvent | undefined> {
  const { context, res } = call;
  const controller = new AbortController();
  const events = await openEvents(context, id, 0, controller.signal);
  // Before the answer is written, a 'close' means the client has gone.
  const onClose = (): void => controller.abort();
  res.once('close', onClose);
  if (res.destroyed) onClose();
  const subscription = context.subscribers.add(id, 0);
  let terminal: CenecaEvent | undefined;
  try {
    for await (const event of events) {
      onEvent(event);
      subscription.lastSentId = event.id;
      if (isTerminal(event)) terminal = event;
    }
  } finally {
    res.off('close', onClose);
    context.subscribers.remove(subscription, terminal !== undefined);
  }
  return controller.signal.aborted ? undefined : terminal;
}

/** Where a reader resumes: `Last-Event-ID` (what EventSource sends on reconnect) wins over `?after=`. */
function resumePoint(call: RouteCall): number {
  const header = call.req.headers['last-event-id'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  const [raw, name] = fromHeader !== undefined && fromHeader.trim() !== '' ? [fromHeader.trim(), 'Last-Event-ID'] : [call.url.searchParams.get('after'), 'after'];
  if (raw === null || raw === '') return 0;
  if (!/^\d{1,15}$/.test(raw)) throw badRequest(`${name} must be an event id (a whole number ≥ 0), not ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function sessionEvents(call: RouteCall): Promise<void> {
  const id = call.params[0]!;
  const afterId = resumePoint(call);
  const description = await call.context.store.describe(id);
  if (!description) throw unknownSession(id);
  // Nothing more will ever come: 204 tells an EventSource to stop reconnecting.
  if (description.state === 'finished' && afterId === description.lastEventId) {
    call.res.writeHead(204, { 'Cache-Control': 'no-store' });
    call.res.end();
    return;
  }
  await streamSession(call, id, afterId);
}

async function describeSession(call: RouteCall): Promise<void> {
  const id = call.params[0]!;
  const description = await call.context.store.describe(id);
  if (!description) throw unknownSession(id);
  sendJson(call.res, 200, description);
}

async function cancelSession(call: RouteCall): Promise<void> {
  const id = call.params[0]!;
  const description = await call.context.store.describe(id);
  if (!description) throw unknownSession(id);
  const ended = (): HttpError => new HttpError(409, 'already_ended', `session ${id} has already ended`, {}, { terminal: description.terminal?.type });
  if (description.state === 'finished') throw ended();
  if (!(await call.context.store.cancel(id, 'cancelled through the API'))) throw ended();
  // Accepted: the terminal `error{code:"cancelled"}` follows on the session's stream.
  sendJson(call.res, 202, { session: id, cancelled: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Operations

async function health(call: RouteCall): Promise<void> {
  const { context } = call;
  sendJson(call.res, 200, {
    status: 'ok',
    version: context.version,
    sessions: { ...context.manager.stats(), maxRunning: context.manager.maxRunning },
    subscribers: context.subscribers.count,
    uptimeSeconds: Math.round((Date.now() - context.startedAt) / 1000),
  });
}

async function metrics(call: RouteCall): Promise<void> {
  const text = await call.context.metrics.text();
  call.res.writeHead(200, { 'Content-Type': call.context.metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  call.res.end(text);
}
