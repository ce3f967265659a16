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

/** What a `mongodb://` or `mongodb+srv://` URL says about a connection. */
export interface ParsedMongoUrl {
  /** The URL with its password taken out: what the setting keeps. */
  url: string;
  srv: boolean;
  /** `host` or `host:port`, as written. */
  hosts: string[];
  user?: string;
  /** Goes to SecretStorage, never to settings. */
  password?: string;
  database?: string;
}

/** A MongoDB URL cut at its parts, each still %-encoded as written. */
interface MongoUrlParts {
  scheme: 'mongodb' | 'mongodb+srv';
  userinfo?: string;
  hosts: string;
  /** From the `/` after the hosts (empty when none). */
  path: string;
  /** From the `?` (empty when none). */
  query: string;
}

/** Query parameters that carry a secret of their own (tlsCertificateKeyFilePassword, an AWS session token …). */
const SECRET_PARAMETER = /pass|secret|token/i;
const SECRET_VALUE = /AWS_SESSION_TOKEN/i;

/**
 * Splits a MongoDB URL and takes its password out; a string says what is wrong. The WHATWG URL parser cannot read
 * these (several `host:port` pairs), so the URL is cut by hand: hosts end at the first `/` or `?` after the `@`.
 */
export function parseMongoUrl(text: string): ParsedMongoUrl | string {
  const parts = splitMongoUrl(text);
  if (typeof parts === 'string') return parts;
  const hosts = parts.hosts.split(',');
  if (hosts.some((host) => !validHost(host))) return 'The host list is malformed (expected host:port,host:port; %-encode @ : / ? # in the user name and password).';
  const srv = parts.scheme === 'mongodb+srv';
  if (srv && (hosts.length !== 1 || /:\d+$/.test(hosts[0]!))) return 'A mongodb+srv:// URL names one host, without a port.';
  for (const [key, value] of new URLSearchParams(parts.query)) {
    if (SECRET_PARAMETER.test(key) || SECRET_VALUE.test(value)) return `The parameter ${key} holds a secret, which would end up in settings: leave it out.`;
  }
  let user: string | undefined;
  let password: string | undefined;
  let database: string | undefined;
  try {
    if (parts.userinfo !== undefined) {
      const colon = parts.userinfo.indexOf(':');
      user = decodeURIComponent(colon < 0 ? parts.userinfo : parts.userinfo.slice(0, colon)) || undefined;
      password = colon < 0 ? undefined : decodeURIComponent(parts.userinfo.slice(colon + 1)) || undefined;
    }
    database = decodeURIComponent(parts.path.replace(/^\//, '')) || undefined;
  } catch {
    return 'The URL holds a malformed %-escape.';
  }
  if (password !== undefined && user === undefined) return 'The URL has a password but no user name.';
  return { url: joinMongoUrl(parts, user, undefined), srv, hosts, user, password, database };
}

/** The URL the driver gets: the setting's URL with the password from SecretStorage put back in. */
export function mongoUrlWithPassword(url: string, password: string | undefined): string {
  const parts = splitMongoUrl(url);
  if (typeof parts === 'string' || !password || parts.userinfo === undefined) return url;
  let user: string;
  try {
    user = decodeURIComponent(parts.userinfo.split(':')[0]!);
  } catch {
    return url;
  }
  return user ? joinMongoUrl(parts, user, password) : url;
}

function splitMongoUrl(text: string): MongoUrlParts | string {
  const match = /^(mongodb(?:\+srv)?):\/\/(.*)$/is.exec(text.trim());
  if (!match) return 'The URL must start with mongodb:// or mongodb+srv://';
  const scheme = match[1]!.toLowerCase() as MongoUrlParts['scheme'];
  const rest = match[2]!;
  // The hosts end at the first `/` or `?`; the user info is everything before the authority's last `@` (so an
  // unencoded `@` in a password is still read, while an unencoded `/` or `?` shows up as a malformed host list).
  const authorityEnd = rest.search(/[/?]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const afterHosts = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hosts = authority.slice(at + 1);
  const queryStart = afterHosts.indexOf('?');
  if (!hosts) return 'The URL names no host (expected mongodb://user@host:27017/database).';
  return {
    scheme,
    userinfo,
    hosts,
    path: queryStart < 0 ? afterHosts : afterHosts.slice(0, queryStart),
    query: queryStart < 0 ? '' : afterHosts.slice(queryStart),
  };
}

function joinMongoUrl(parts: MongoUrlParts, user: string | undefined, password: string | undefined): string {
  const userinfo = user ? `${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@` : '';
  return `${parts.scheme}://${userinfo}${parts.hosts}${parts.path}${parts.query}`;
}

/** `host`, `host:port` or `[ipv6]:port`. */
function validHost(host: string): boolean {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._%-]+)(?::(\d{1,5}))?$/.exec(host);
  return match !== null && (match[2] === undefined || (Number(match[2]) >= 1 && Number(match[2]) <= 65535));
}

/** An http:// or https:// URL with a host. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text.trim());
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** Why a URL field cannot be used, or undefined when it can. Empty is fine when the field is optional. */
export function httpUrlProblem(text: string, options: { optional: boolean }): string | undefined {
  if (!text.trim()) return options.optional ? undefined : 'A URL is needed, e.g. http://localhost:6333';
  if (!isHttpUrl(text)) return 'Expected an http:// or https:// URL.';
  if (new URL(text.trim()).password) return 'No password in the URL, please: the next steps ask for the key, which is kept in SecretStorage.';
  return undefined;
}

/** Bot (xoxb-) and user (xoxp-) tokens, also in their rotating form (xoxe.xoxb-…). */
const SLACK_TOKEN = /^(?:xoxe\.)?xox[bp]-[A-Za-z0-9-]+$/;

/** Why a Slack token cannot be used, or undefined when it has the right shape. */
export function slackTokenProblem(text: string): string | undefined {
  const token = text.trim();
  if (!token) return 'A Slack token is needed: a bot token (xoxb-…) or a user token (xoxp-…).';
  if (SLACK_TOKEN.test(token)) return undefined;
  if (/^xapp-/i.test(token)) return 'An app-level token (xapp-…) cannot read messages: use a bot token (xoxb-…) or a user token (xoxp-…).';
  if (/^(?:xoxe\.)?xox[a-z]-/i.test(token) && !/^(?:xoxe\.)?xox[bp]-/.test(token)) return 'Use a bot token (xoxb-…) or a user token (xoxp-…); this is another kind of Slack token.';
  return 'A Slack token starts with xoxb- (bot) or xoxp- (user) and holds only letters, digits and "-".';
}

/** An id made from a name (database, host) that is valid and not taken, or empty when none fits. */
export function suggestedId(from: string, takenIds: readonly string[]): string {
  const base = from.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60);
  if (!base) return '';
  for (let n = 1; n < 100; n++) {
    const id = n === 1 ? base : `${base}_${n}`;
    if (!connectionIdProblem(id, takenIds)) return id;
  }
  return '';
}

/**
 * Replaces every occurrence of the given secrets in a message (e.g. a driver error) with `****`, and blanks any
 * password in a database URL and any Slack token, whatever they are.
 */
export function redactSecrets(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let redacted = message;
  // Longest first: a secret that contains another is blanked whole.
  for (const secret of [...secrets].filter((s): s is string => Boolean(s)).sort((a, b) => b.length - a.length)) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) redacted = redacted.split(form).join('****');
  }
  return redacted
    .replace(/((?:postgres(?:ql)?|mongodb(?:\+srv)?):\/\/[^:/?#@\s]*:)[^@\s]*@/gi, '$1****@')
    .replace(/\b((?:xoxe\.)?xox[a-z]-)[A-Za-z0-9-]+/gi, '$1****');
}
