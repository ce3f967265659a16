/**
 * The `ceneca.connections` setting: one entry per source, with the fields of its kind and never a secret
 * (passwords, tokens and API keys live in SecretStorage, see secrets.ts). Pure: no vscode import, so the parsing is
 * unit-tested in plain Node.
 */
import { CONNECTION_ID_PATTERN, isHttpUrl, parseMongoUrl } from './connectionForm';

export type ConnectionKind = 'postgres' | 'mongodb' | 'qdrant' | 'slack';
export const CONNECTION_KINDS: readonly ConnectionKind[] = ['postgres', 'mongodb', 'qdrant', 'slack'];

/** The embedding model a Qdrant connection uses when the setting names none. */
import { DEFAULT_EMBEDDINGS_MODEL } from '../core/llm/embeddings';
export { DEFAULT_EMBEDDINGS_MODEL };

interface ConnectionBase {
  id: string;
  name?: string;
}

export interface PostgresConnectionSetting extends ConnectionBase {
  kind: 'postgres';
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  ssl?: boolean;
}

export interface MongoConnectionSetting extends ConnectionBase {
  kind: 'mongodb';
  /** A mongodb:// or mongodb+srv:// URL without its password. */
  url: string;
  /** Overrides the database named in the URL. */
  database?: string;
}

export interface QdrantConnectionSetting extends ConnectionBase {
  kind: 'qdrant';
  url: string;
  /** The OpenAI-compatible embeddings endpoint the collections were built with; no base URL means OpenAI's. */
  embeddings?: { baseUrl?: string; model?: string };
}

export interface SlackConnectionSetting extends ConnectionBase {
  kind: 'slack';
  /** The Web API base URL of a Slack-compatible server; Slack's own when absent. */
  apiUrl?: string;
}

/** A connection as stored in `ceneca.connections`: everything but its secrets. */
export type ConnectionSetting = PostgresConnectionSetting | MongoConnectionSetting | QdrantConnectionSetting | SlackConnectionSetting;

/** The secrets a connection may have in SecretStorage. */
export type ConnectionSecret = 'password' | 'apiKey' | 'embeddingsApiKey' | 'token';
export const CONNECTION_SECRETS: readonly ConnectionSecret[] = ['password', 'apiKey', 'embeddingsApiKey', 'token'];

export const SECRETS_OF_KIND: Readonly<Record<ConnectionKind, readonly ConnectionSecret[]>> = {
  postgres: ['password'],
  mongodb: ['password'],
  qdrant: ['apiKey', 'embeddingsApiKey'],
  slack: ['token'],
};

/** Fields people put in settings by mistake: ignored, and said so, since secrets belong in SecretStorage. */
const SECRET_FIELDS = ['password', 'token', 'apiKey', 'apikey', 'api_key', 'secret'];

export interface ParsedConnections {
  connections: ConnectionSetting[];
  /** What was skipped or ignored and why, one sentence each (for the log). */
  problems: string[];
}

/**
 * Keeps the well-formed entries of every kind; a malformed one is skipped (with a problem saying why) rather than
 * breaking every question. Unknown fields are dropped.
 */
export function parseConnections(raw: unknown): ParsedConnections {
  const connections: ConnectionSetting[] = [];
  const problems: string[] = [];
  if (!Array.isArray(raw)) return { connections, problems: raw === undefined || raw === null ? [] : ['ceneca.connections: not a list; ignored.'] };
  raw.forEach((entry, index) => {
    const where = `ceneca.connections[${index}]${entryId(entry)}`;
    const parsed = parseConnection(entry);
    if (typeof parsed === 'string') {
      problems.push(`${where}: skipped: ${parsed}`);
      return;
    }
    // Ids name sources everywhere: the first one wins.
    if (connections.some((c) => c.id === parsed.id)) {
      problems.push(`${where}: skipped: an earlier connection has the id "${parsed.id}".`);
      return;
    }
    for (const field of SECRET_FIELDS) {
      if (field in (entry as object)) problems.push(`${where}: "${field}" is ignored: secrets live in SecretStorage (use Ceneca: Edit Connection…).`);
    }
    connections.push(parsed);
  });
  return { connections, problems };
}

/** One entry of the setting, or why it cannot be used. */
export function parseConnection(entry: unknown): ConnectionSetting | string {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return 'not an object.';
  const c = entry as Record<string, unknown>;
  if (typeof c.id !== 'string' || !CONNECTION_ID_PATTERN.test(c.id)) return 'the id must be 1 to 64 letters, digits, "_", "." or "-".';
  const base: ConnectionBase = { id: c.id, ...optionalString(c, 'name') };
  switch (c.kind) {
    case 'postgres':
      return {
        ...base,
        kind: 'postgres',
        ...optionalString(c, 'host'),
        ...(typeof c.port === 'number' ? { port: c.port } : {}),
        ...optionalString(c, 'database'),
        ...optionalString(c, 'user'),
        ssl: c.ssl === true,
      };
    case 'mongodb': {
      if (typeof c.url !== 'string') return 'a MongoDB connection needs a "url".';
      const url = parseMongoUrl(c.url);
      if (typeof url === 'string') return url;
      if (url.password !== undefined) return 'its URL holds a password: remove it from the URL and set it with Ceneca: Edit Connection… (it is kept in SecretStorage).';
      return { ...base, kind: 'mongodb', url: c.url.trim(), ...optionalString(c, 'database') };
    }
    case 'qdrant': {
      if (typeof c.url !== 'string' || !isHttpUrl(c.url)) return 'a Qdrant connection needs an http:// or https:// "url".';
      if (hasUrlPassword(c.url)) return 'its URL holds a password: use an API key instead (Ceneca: Edit Connection…).';
      const embeddings = c.embeddings && typeof c.embeddings === 'object' ? (c.embeddings as Record<string, unknown>) : undefined;
      if (embeddings && typeof embeddings.baseUrl === 'string' && embeddings.baseUrl.trim() && !isHttpUrl(embeddings.baseUrl)) {
        return 'embeddings.baseUrl must be an http:// or https:// URL.';
      }
      const embeddingsField = embeddings ? { embeddings: { ...optionalString(embeddings, 'baseUrl'), ...optionalString(embeddings, 'model') } } : {};
      return { ...base, kind: 'qdrant', url: c.url.trim(), ...embeddingsField };
    }
    case 'slack': {
      // The token is sent to this URL: anything but a plain http(s) URL is refused.
      if (c.apiUrl !== undefined && (typeof c.apiUrl !== 'string' || (c.apiUrl.trim() !== '' && !isHttpUrl(c.apiUrl)))) return 'apiUrl must be an http:// or https:// URL.';
      return { ...base, kind: 'slack', ...optionalString(c, 'apiUrl') };
    }
    default:
      return `unknown kind ${JSON.stringify(c.kind)} (expected ${CONNECTION_KINDS.join(', ')}).`;
  }
}

/**
 * The setting's raw list with one connection added (no `id`), replaced or removed (`next` undefined). Entries this
 * version skips stay as they are: saving one connection never deletes another the user wrote by hand.
 */
export function replaceConnection(raw: unknown, id: string | undefined, next: ConnectionSetting | undefined): unknown[] {
  const list: unknown[] = Array.isArray(raw) ? [...raw] : [];
  // The entry that parseConnections took for this id: the first well-formed one.
  const index = id === undefined ? -1 : list.findIndex((entry) => {
    const parsed = parseConnection(entry);
    return typeof parsed !== 'string' && parsed.id === id;
  });
  if (index < 0) return next ? [...list, next] : list;
  if (next) list[index] = next;
  else list.splice(index, 1);
  return list;
}

/** One line saying where a connection points (no secret: settings hold none). */
export function describeConnection(connection: ConnectionSetting): string {
  switch (connection.kind) {
    case 'postgres': {
      const where = `${connection.host ?? 'localhost'}:${connection.port ?? 5432}/${connection.database ?? 'postgres'}`;
      return connection.user ? `${connection.user}@${where}` : where;
    }
    case 'mongodb':
      return connection.database ? `${connection.url} (database ${connection.database})` : connection.url;
    case 'qdrant':
      return `${connection.url} · ${connection.embeddings?.model ?? DEFAULT_EMBEDDINGS_MODEL}`;
    case 'slack':
      return connection.apiUrl ? `Slack at ${connection.apiUrl}` : 'Slack';
  }
}

/** The field when it is a string with something in it; an empty one counts as absent. */
function optionalString<K extends string>(c: Record<string, unknown>, key: K): Partial<Record<K, string>> {
  const value = c[key];
  return typeof value === 'string' && value.trim() ? ({ [key]: value.trim() } as Partial<Record<K, string>>) : {};
}

function entryId(entry: unknown): string {
  const id = entry && typeof entry === 'object' ? (entry as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length <= 64 ? ` ("${id}")` : '';
}

function hasUrlPassword(text: string): boolean {
  try {
    return new URL(text.trim()).password !== '';
  } catch {
    return false;
  }
}
