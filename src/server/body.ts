/**
 * Request bodies: JSON only (415 otherwise), capped in size (413, and reading stops at the cap), parsed, and
 * validated with zod (400 naming the field). The schema is DESIGN §4's query body plus the queue priority.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { MAX_QUESTION_LENGTH } from '../core/pipeline/single';
import { badRequest, HttpError } from './http';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** The largest row cap a request may ask for (the VS Code setting's maximum). */
export const MAX_REQUEST_ROWS = 10_000_000;

const required = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`);

export const queryBodySchema = z.strictObject({
  question: z
    .string({ error: required('a string') })
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(MAX_QUESTION_LENGTH, { error: `must be at most ${MAX_QUESTION_LENGTH} characters` }),
  sources: z
    .array(z.string({ error: required('a source id (a string)') }).min(1, { error: 'must not be empty' }), { error: required('a list of source ids') })
    .min(1, { error: 'must name at least one source (or be left out)' })
    .max(64, { error: 'must name at most 64 sources' })
    .optional(),
  maxRows: z
    .number({ error: required('a number') })
    .int({ error: 'must be a whole number' })
    .positive({ error: 'must be positive' })
    .max(MAX_REQUEST_ROWS, { error: `must be at most ${MAX_REQUEST_ROWS}` })
    .optional(),
  analysis: z.boolean({ error: required('true or false') }).optional(),
  priority: z.enum(['interactive', 'background'], { error: 'must be "interactive" or "background"' }).optional(),
});

export type QueryBody = z.infer<typeof queryBodySchema>;

/** Validates a parsed body; a 400 names the first field that is wrong. */
export function parseQueryBody(value: unknown): QueryBody {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('the body must be a JSON object like {"question": "…"}');
  const result = queryBodySchema.safeParse(value);
  if (result.success) return result.data;
  throw badRequest(describeIssue(result.error.issues[0]));
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'the body is not a valid query request';
  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(queryBodySchema.shape).join(', ');
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (allowed: ${allowed})`;
  }
  const field = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.').replace(/\.\[/g, '[');
  return `${field || 'body'} ${issue.message}`;
}

/** Reads and parses a JSON body, refusing other content types, bodies over `maxBytes`, and malformed JSON. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  requireJson(req);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readUpTo(req, maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badRequest('the body is not valid UTF-8');
  }
  if (text.trim() === '') throw badRequest('the body is empty: send a JSON object like {"question": "…"}');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function requireJson(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return;
  const given = type ? `"${type}"` : 'no content type';
  throw new HttpError(415, 'unsupported_media_type', `the body must be JSON (Content-Type: application/json), not ${given}`);
}

function tooLarge(maxBytes: number): HttpError {
  // Connection: close — the rest of the upload is never read, so the connection cannot be reused.
  return new HttpError(413, 'payload_too_large', `the body is larger than ${maxBytes} bytes`, { Connection: 'close' });
}

/** Collects the body, stopping (without reading further) as soon as it passes `maxBytes`. */
function readUpTo(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (part: Buffer): void => {
      size += part.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      parts.push(part);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(parts, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(badRequest(`the body could not be read: ${error.message}`));
    };
    const onClose = (): void => {
      cleanup();
      reject(badRequest('the client closed the connection before the body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
