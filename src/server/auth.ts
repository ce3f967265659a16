/**
 * Bearer-token auth for the local API (DESIGN §4): one token per server, generated at start unless given.
 * The comparison is constant-time (over SHA-256 digests, so the lengths match too and leak nothing).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http';

/** 32 random bytes, base64url: 43 characters that are safe in a header and a shell. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenMatches(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header; undefined when the header is absent or another scheme. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** Throws 401 (with `WWW-Authenticate: Bearer`) unless the request carries the server's token. */
export function requireToken(req: IncomingMessage, token: string): void {
  const given = bearerToken(req);
  if (given !== undefined && tokenMatches(given, token)) return;
  const message = given === undefined ? 'missing bearer token: send Authorization: Bearer <token>' : 'invalid bearer token';
  const challenge = given === undefined ? 'Bearer realm="ceneca"' : 'Bearer realm="ceneca", error="invalid_token"';
  throw new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': challenge });
}
