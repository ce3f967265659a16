/**
 * The local HTTP API (DESIGN §4) on Node's `http` module: loopback by default, a bearer token on every route
 * but /health, CORS only for configured origins, JSON errors everywhere. The engine, its session manager and the
 * session store belong to the caller, which closes them; `close()` here stops serving.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../core/engine';
import type { SessionManager } from '../core/session/manager';
import type { SessionStore } from '../core/session/store';
import { version as packageVersion } from '../../package.json';
import { requireToken } from './auth';
import { DEFAULT_MAX_BODY_BYTES } from './body';
import { HttpError, requestUrl, sendProblem } from './http';
import { ServerMetrics } from './metrics';
import { matchRoute, SESSION_HEADER, type ApiContext } from './routes';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_RETRY_MS } from './sse';
import { SubscriberTracker } from './subscribers';

export const DEFAULT_HOST = '127.0.0.1';

export interface CorsOptions {
  /** Exact origins (`https://app.example.com`) allowed to call the API from a browser. */
  allowedOrigins: string[];
}

export interface ApiServerOptions {
  /** An engine built with `manager`, so every session it starts is tracked by `store`. */
  engine: Engine;
  manager: SessionManager;
  store: SessionStore;
  token: string;
  /** Default 127.0.0.1; anything else is announced with a warning. */
  host?: string;
  /** Default 0: a free port (see `port` on the result). */
  port?: number;
  maxBodyBytes?: number;
  /** Off unless given. */
  cors?: CorsOptions;
  /** Cancel a session this long after its last reader left before its end. Default: never. */
  orphanCancelMs?: number;
  heartbeatMs?: number;
  retryMs?: number;
  /** How long `close()` lets open streams finish before cutting them (ms). Default 2000. */
  closeGraceMs?: number;
  /** Warnings (a non-loopback bind) and unexpected failures; default: stderr. */
  log?: (line: string) => void;
}

export interface ApiServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  host: string;
  port: number;
  metrics: ServerMetrics;
  close(): Promise<void>;
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const host = options.host ?? DEFAULT_HOST;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!options.token) throw new Error('createApiServer: a token is required');
  if (!isLoopback(host)) log(`warning: the Ceneca API is listening on ${host}, not only on this machine; anyone who can reach it and has the token can query your databases`);

  const subscribers = new SubscriberTracker({ orphanCancelMs: options.orphanCancelMs, cancel: (id) => options.store.cancel(id, 'cancelled: every reader left') });
  const metrics = new ServerMetrics(options.manager, subscribers);
  const context: ApiContext = {
    engine: options.engine,
    manager: options.manager,
    store: options.store,
    metrics,
    subscribers,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
    version: packageVersion,
    startedAt: Date.now(),
  };
  const allowedOrigins = new Set(options.cors?.allowedOrigins ?? []);

  const server = createServer((req, res) => {
    handle(req, res, context, options.token, allowedOrigins).catch((error: unknown) => fail(res, error, log));
  });
  // A request Node could not parse: answer 400 when the socket still takes it.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    metrics,
    close: async () => {
      subscribers.close();
      metrics.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Streams end by themselves once their sessions end (the caller cancels them), leaving idle keep-alive
      // connections behind: close those as they appear, and cut whatever is still open after the grace period.
      const sweep = setInterval(() => server.closeIdleConnections(), 25);
      const cut = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? 2_000);
      server.closeIdleConnections();
      await closed;
      clearInterval(sweep);
      clearTimeout(cut);
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, context: ApiContext, token: string, allowedOrigins: ReadonlySet<string>): Promise<void> {
  req.on('error', () => undefined);
  if (applyCors(req, res, allowedOrigins)) return;
  const url = requestUrl(req);
  const match = matchRoute(req.method ?? 'GET', url.pathname);
  if (!match) throw new HttpError(404, 'not_found', `no route ${req.method} ${url.pathname}`);
  if ('allow' in match) {
    throw new HttpError(405, 'method_not_allowed', `${url.pathname} answers ${match.allow.join(', ')}, not ${req.method}`, { Allow: match.allow.join(', ') });
  }
  if (!match.route.public) requireToken(req, token);
  await match.route.handle({ req, res, url, params: match.params, context });
}

/**
 * CORS for configured origins only: their requests get Access-Control-Allow-Origin, their preflights an answer.
 * Returns true when the request was a preflight and has been answered.
 */
function applyCors(req: IncomingMessage, res: ServerResponse, allowedOrigins: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (allowedOrigins.size === 0 || origin === undefined) return false;
  const allowed = allowedOrigins.has(origin);
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  if (allowed) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', SESSION_HEADER);
  }
  if (!preflight) return false;
  if (!allowed) throw new HttpError(403, 'origin_not_allowed', `origin ${origin} is not allowed to call this API`);
  res.writeHead(204, {
    'Access-Control-Allow-Methods': 'GET, POST',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Last-Event-ID',
    'Access-Control-Max-Age': '600',
  });
  res.end();
  return true;
}

function fail(res: ServerResponse, error: unknown, log: (line: string) => void): void {
  if (!(error instanceof HttpError)) log(`ceneca api: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  if (res.headersSent) {
    // Mid-stream there is no status left to send: cut the response so the client sees it end abnormally.
    res.destroy();
    return;
  }
  sendProblem(res, error instanceof HttpError ? error : new HttpError(500, 'internal', 'the server failed to answer this request'));
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
