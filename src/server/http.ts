/**
 * Small helpers every route shares: the JSON error shape `{code, message, suggestion?}` and one way to answer
 * with JSON. A handler throws HttpError; the server turns it into the response.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface ProblemBody {
  code: string;
  message: string;
  suggestion?: string;
  [detail: string]: unknown;
}

/** A request the server refuses: becomes `status` with a JSON `ProblemBody`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: OutgoingHttpHeaders = {},
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): ProblemBody {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'bad_request', message);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

export function sendProblem(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, error.body(), error.headers);
}

/** The path and query of a request, parsed against a placeholder origin (only the path and query matter). */
export function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://ceneca.invalid');
}
