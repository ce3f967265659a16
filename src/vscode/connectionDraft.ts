/**
 * What the Add/Edit Connection form edits, and what it turns into: the setting (never a secret) and the changes to
 * the connection's secrets in SecretStorage. Pure: no vscode import, so it is unit-tested in plain Node.
 */
import { parseMongoUrl } from './connectionForm';
import { DEFAULT_EMBEDDINGS_MODEL, SECRETS_OF_KIND, type ConnectionKind, type ConnectionSecret, type ConnectionSetting } from './connectionSettings';

/** One secret field of the form. `keep`: leave the stored one (editing); `set`: store `value`; `remove`: delete. */
export interface SecretDraft {
  value: string;
  change: 'keep' | 'set' | 'remove';
}

/** What to do with one secret in SecretStorage. */
export type SecretChange = 'keep' | 'remove' | { set: string };
export type SecretChanges = Partial<Record<ConnectionSecret, SecretChange>>;

/** Every field of every kind, as the form's text; only the kind's own fields reach the setting. */
export interface ConnectionDraft {
  kind: ConnectionKind;
  /** PostgreSQL: the fields come from a pasted postgres:// URL. */
  fromUrl: boolean;
  id: string;
  name: string;
  /** PostgreSQL */
  host: string;
  port: string;
  user: string;
  ssl: boolean;
  /** PostgreSQL and MongoDB */
  database: string;
  /** MongoDB (without its password) and Qdrant */
  url: string;
  /** Qdrant */
  embeddingsBaseUrl: string;
  embeddingsModel: string;
  /** Slack */
  apiUrl: string;
  secrets: Record<ConnectionSecret, SecretDraft>;
}

/** A new connection's draft, or one prefilled from the setting being edited (its secrets kept unless changed). */
export function draftOf(initial?: ConnectionSetting): ConnectionDraft {
  const secret = (): SecretDraft => ({ value: '', change: initial ? 'keep' : 'set' });
  const draft: ConnectionDraft = {
    kind: initial?.kind ?? 'postgres',
    fromUrl: false,
    id: initial?.id ?? '',
    name: initial?.name ?? '',
    host: 'localhost',
    port: '5432',
    user: '',
    ssl: false,
    database: '',
    url: '',
    embeddingsBaseUrl: '',
    embeddingsModel: DEFAULT_EMBEDDINGS_MODEL,
    apiUrl: '',
    secrets: { password: secret(), apiKey: secret(), embeddingsApiKey: secret(), token: secret() },
  };
  switch (initial?.kind) {
    case 'postgres':
      draft.host = initial.host ?? 'localhost';
      draft.port = String(initial.port ?? 5432);
      draft.database = initial.database ?? '';
      draft.user = initial.user ?? '';
      draft.ssl = initial.ssl ?? false;
      break;
    case 'mongodb':
      draft.url = initial.url;
      draft.database = initial.database ?? '';
      break;
    case 'qdrant':
      draft.url = initial.url;
      draft.embeddingsBaseUrl = initial.embeddings?.baseUrl ?? '';
      draft.embeddingsModel = initial.embeddings?.model ?? DEFAULT_EMBEDDINGS_MODEL;
      break;
    case 'slack':
      draft.apiUrl = initial.apiUrl ?? '';
      break;
  }
  return draft;
}

/** The setting the draft describes. Only fields with a value are written, so settings.json stays short. */
export function settingOfDraft(draft: ConnectionDraft): ConnectionSetting {
  const base = { id: draft.id.trim(), ...(draft.name.trim() ? { name: draft.name.trim() } : {}) };
  const database = draft.database.trim() ? { database: draft.database.trim() } : {};
  switch (draft.kind) {
    case 'postgres':
      return {
        ...base,
        kind: 'postgres',
        host: draft.host.trim() || 'localhost',
        port: Number(draft.port) || 5432,
        ...database,
        ...(draft.user.trim() ? { user: draft.user.trim() } : {}),
        ssl: draft.ssl,
      };
    case 'mongodb': {
      // The form has taken the password out already; this makes sure no path puts one in settings.
      const parsed = parseMongoUrl(draft.url);
      return { ...base, kind: 'mongodb', url: typeof parsed === 'string' ? draft.url.trim() : parsed.url, ...database };
    }
    case 'qdrant': {
      const baseUrl = draft.embeddingsBaseUrl.trim() ? { baseUrl: draft.embeddingsBaseUrl.trim() } : {};
      return { ...base, kind: 'qdrant', url: draft.url.trim(), embeddings: { ...baseUrl, model: draft.embeddingsModel.trim() || DEFAULT_EMBEDDINGS_MODEL } };
    }
    case 'slack':
      return { ...base, kind: 'slack', ...(draft.apiUrl.trim() ? { apiUrl: draft.apiUrl.trim() } : {}) };
  }
}

/** What saving the draft does to each secret of its kind. An empty value set means no secret: it is deleted. */
export function secretChangesOf(draft: ConnectionDraft): SecretChanges {
  const changes: SecretChanges = {};
  for (const name of SECRETS_OF_KIND[draft.kind]) {
    const secret = draft.secrets[name];
    changes[name] = secret.change === 'set' ? (secret.value ? { set: secret.value } : 'remove') : secret.change;
  }
  // A MongoDB URL without a user name has no use for a password.
  if (draft.kind === 'mongodb' && !mongoUrlHasUser(draft.url)) changes.password = 'remove';
  return changes;
}

/** Whether the MongoDB URL names a user, i.e. whether the form asks for a password. */
export function mongoUrlHasUser(url: string): boolean {
  const parsed = parseMongoUrl(url);
  return typeof parsed !== 'string' && parsed.user !== undefined;
}
