/**
 * The checks and parsing behind the Add/Edit Connection input. Pure: no vscode import, so it is unit-tested in
 * plain Node.
 */

/** The same rule as the `ceneca.connections` schema in package.json and `readSettings`. */
export const CONNECTION_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Why an id cannot be used, or undefined when it can. */
export function connectionIdProblem(id: string, takenIds: readonly string[]): string | undefined {
  if (!CONNECTION_ID_PATTERN.test(id)) return 'Use 1 to 64 letters, digits, "_", "." or "-".';
  if (takenIds.includes(id)) return `A connection with the id "${id}" already exists.`;
  return undefined;
}

/** Why a port cannot be used, or undefined when it can. */
export function portProblem(text: string): string | undefined {
  const port = Number(text.trim());
  return /^\d+$/.test(text.trim()) && port >= 1 && port <= 65535 ? undefined : 'A port is a whole number from 1 to 65535.';
}

/** What a `postgres://` URL says about a connection. */
export interface ParsedPostgresUrl {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** Goes to SecretStorage, never to settings. */
  password?: string;
  ssl: boolean;
  /** Query parameters a connection setting cannot hold (they are dropped). */
  ignoredParameters: string[];
}

const TLS_MODES = new Set(['require', 'verify-ca', 'verify-full']);

/** Splits a `postgres://` or `postgresql://` URL into the fields of a connection; a string says what is wrong. */
export function parsePostgresUrl(text: string): ParsedPostgresUrl | string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return 'Not a URL: expected postgres://user:password@host:5432/database';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return 'The URL must start with postgres:// or postgresql://';
  // Several hosts (`h1,h2`) parse as one odd host name; Ceneca connects to one host.
  if (url.hostname.includes(',')) return 'Only one host is supported.';
  let ssl = false;
  const ignoredParameters: string[] = [];
  for (const [key, value] of url.searchParams) {
    if (key === 'sslmode') ssl = TLS_MODES.has(value);
    else if (key === 'ssl') ssl = value === 'true' || value === '1';
    else ignoredParameters.push(key);
  }
  try {
    return {
      host: url.hostname || undefined,
      port: url.port ? Number(url.port) : undefined,
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined,
      user: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      ssl,
      ignoredParameters,
    };
  } catch {
    return 'The URL holds a malformed %-escape.';
  }
}

/** Replaces every occurrence of the given secrets in a message (e.g. a driver error) with `****`. */
export function redactSecrets(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let redacted = message;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) redacted = redacted.split(form).join('****');
  }
  // A connection URL with a password in it, whatever the password is.
  return redacted.replace(/(postgres(?:ql)?:\/\/[^:/?#@\s]*:)[^@\s]*@/gi, '$1****@');
}
