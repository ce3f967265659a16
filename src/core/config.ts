/**
 * Connections, model provider and engine settings for the CLI and the server (DESIGN §5): environment variables
 * plus an optional `ceneca.config.json` whose strings may reference secrets as `${ENV_VAR}`.
 * Nothing here ever prints a secret: errors name variables and redact URLs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_EMBEDDINGS_MODEL } from './llm/embeddings';
import { defaultEngineSettings, type EngineSettings } from './pipeline/single';

const connectionBase = {
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'ids use letters, digits, _ . - (at most 64)'),
  name: z.string().optional(),
};

/**
 * The embedding model that turns a question into a vector for a Qdrant collection: an OpenAI-compatible
 * `/v1/embeddings` endpoint. It must be the model the collection was built with.
 */
const embeddingsSchema = z.object({
  baseURL: z.string().optional(),
  model: z.string().optional(),
  apiKey: z.string().optional(),
});
export type EmbeddingsConfig = z.infer<typeof embeddingsSchema>;

/** One entry of `connections`: each kind with the fields it needs (secrets as `${ENV_VAR}` references). */
export const connectionSchema = z.discriminatedUnion('kind', [
  z.object({ ...connectionBase, kind: z.literal('postgres'), url: z.string().min(1), statementTimeoutMs: z.number().int().positive().optional() }),
  z.object({ ...connectionBase, kind: z.literal('mongodb'), url: z.string().min(1), database: z.string().optional() }),
  z.object({ ...connectionBase, kind: z.literal('qdrant'), url: z.string().min(1), apiKey: z.string().optional(), embeddings: embeddingsSchema.optional() }),
  z.object({ ...connectionBase, kind: z.literal('slack'), token: z.string().min(1), slackApiUrl: z.string().optional() }),
]);
export type ConnectionConfig = z.infer<typeof connectionSchema>;

const providerSchema = z.object({
  provider: z.enum(['openai', 'anthropic']).optional(),
  model: z.string().optional(),
  baseURL: z.string().optional(),
});

const fileSchema = z.object({
  connections: z.array(connectionSchema).default([]),
  model: providerSchema.optional(),
  settings: z
    .object({
      maxRows: z.number().int().positive().optional(),
      analysis: z.boolean().optional(),
      analysisRows: z.number().int().nonnegative().optional(),
      sampleValues: z.boolean().optional(),
      schemaTables: z.number().int().positive().optional(),
      softCostLimit: z.number().positive().optional(),
      hardCostLimit: z.number().positive().optional(),
    })
    .optional(),
});

export interface ProviderConfig {
  provider: 'openai' | 'anthropic';
  apiKey: string;
  model: string;
  baseURL?: string;
}

export interface CenecaConfig {
  connections: ConnectionConfig[];
  provider?: ProviderConfig;
  /** Why no provider could be chosen (both keys set without CENECA_PROVIDER, …). */
  providerProblem?: string;
  settings: EngineSettings;
  /** The config file that was read, if any. */
  configFile?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_MODELS = { openai: 'gpt-4.1-mini', anthropic: 'claude-sonnet-5' } as const;

export const PROVIDER_VARIABLES = 'OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible local server), or ANTHROPIC_API_KEY; optionally CENECA_MODEL and CENECA_PROVIDER';

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { cwd?: string; configPath?: string } = {}): CenecaConfig {
  const file = readConfigFile(env, options);
  const connections = [...(file?.content.connections ?? [])];
  if (env.CENECA_PG_URL) connections.push({ id: 'postgres', kind: 'postgres', name: 'PostgreSQL (CENECA_PG_URL)', url: env.CENECA_PG_URL });
  if (env.CENECA_MONGODB_URL) connections.push({ id: 'mongodb', kind: 'mongodb', name: 'MongoDB (CENECA_MONGODB_URL)', url: env.CENECA_MONGODB_URL });
  if (env.CENECA_QDRANT_URL) {
    connections.push({ id: 'qdrant', kind: 'qdrant', name: 'Qdrant (CENECA_QDRANT_URL)', url: env.CENECA_QDRANT_URL, ...(env.CENECA_QDRANT_API_KEY ? { apiKey: env.CENECA_QDRANT_API_KEY } : {}) });
  }
  if (env.CENECA_SLACK_TOKEN) connections.push({ id: 'slack', kind: 'slack', name: 'Slack (CENECA_SLACK_TOKEN)', token: env.CENECA_SLACK_TOKEN });
  const duplicate = connections.find((c, i) => connections.findIndex((o) => o.id === c.id) !== i);
  if (duplicate) throw new ConfigError(`connection id "${duplicate.id}" is used twice`);
  const { provider, problem } = chooseProvider(env, file?.content.model);
  return {
    connections: connections.map((c) => (c.kind === 'qdrant' ? { ...c, embeddings: resolveEmbeddings(c.embeddings, env) } : c)),
    provider,
    providerProblem: problem,
    settings: { ...defaultEngineSettings, ...stripUndefined(file?.content.settings ?? {}) },
    configFile: file?.path,
  };
}

/**
 * A Qdrant connection's embedding settings with the defaults filled in: the connection's own values, then
 * CENECA_EMBEDDINGS_BASE_URL / CENECA_EMBEDDINGS_MODEL, then the OpenAI provider's OPENAI_BASE_URL / OPENAI_API_KEY.
 * No base URL means api.openai.com; a local server accepts any key, hence the placeholder. Empty values count as unset.
 */
export function resolveEmbeddings(given: EmbeddingsConfig | undefined, env: NodeJS.ProcessEnv): EmbeddingsConfig & { model: string; apiKey: string } {
  const baseURL = given?.baseURL || env.CENECA_EMBEDDINGS_BASE_URL || env.OPENAI_BASE_URL || undefined;
  return {
    ...(baseURL ? { baseURL } : {}),
    model: given?.model || env.CENECA_EMBEDDINGS_MODEL || DEFAULT_EMBEDDINGS_MODEL,
    apiKey: given?.apiKey || env.OPENAI_API_KEY || 'not-needed',
  };
}

function readConfigFile(env: NodeJS.ProcessEnv, options: { cwd?: string; configPath?: string }): { path: string; content: z.infer<typeof fileSchema> } | undefined {
  const explicit = options.configPath ?? env.CENECA_CONFIG;
  const path = resolve(options.cwd ?? process.cwd(), explicit ?? 'ceneca.config.json');
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError(`config file not found: ${path}`);
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = fileSchema.safeParse(expandEnvReferences(raw, env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { path, content: parsed.data };
}

/** Replaces `${NAME}` in every string with the environment variable's value; a missing variable is an error. */
export function expandEnvReferences(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined) throw new ConfigError(`the config refers to \${${name}}, but that environment variable is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandEnvReferences(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnvReferences(v, env)]));
  }
  return value;
}

function chooseProvider(env: NodeJS.ProcessEnv, fromFile: z.infer<typeof providerSchema> | undefined): { provider?: ProviderConfig; problem?: string } {
  const wanted = env.CENECA_PROVIDER ?? fromFile?.provider;
  if (wanted && wanted !== 'openai' && wanted !== 'anthropic') return { problem: `CENECA_PROVIDER must be "openai" or "anthropic", not "${wanted}"` };
  const openaiUsable = Boolean(env.OPENAI_API_KEY || env.OPENAI_BASE_URL || (fromFile?.provider === 'openai' && fromFile.baseURL));
  const anthropicUsable = Boolean(env.ANTHROPIC_API_KEY);
  let kind: 'openai' | 'anthropic' | undefined = wanted as 'openai' | 'anthropic' | undefined;
  if (!kind) {
    if (openaiUsable && anthropicUsable) return { problem: 'both OPENAI_API_KEY/OPENAI_BASE_URL and ANTHROPIC_API_KEY are set: choose one with CENECA_PROVIDER=openai or CENECA_PROVIDER=anthropic' };
    kind = openaiUsable ? 'openai' : anthropicUsable ? 'anthropic' : undefined;
  }
  if (!kind) return { problem: `no model provider is configured: set ${PROVIDER_VARIABLES}` };
  const model = env.CENECA_MODEL || fromFile?.model || DEFAULT_MODELS[kind];
  if (kind === 'openai') {
    if (!openaiUsable) return { problem: 'CENECA_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)' };
    // Local OpenAI-compatible servers (Ollama, LM Studio, vLLM) accept any key.
    return { provider: { provider: 'openai', apiKey: env.OPENAI_API_KEY || 'not-needed', model, baseURL: env.OPENAI_BASE_URL ?? fromFile?.baseURL } };
  }
  if (!anthropicUsable) return { problem: 'CENECA_PROVIDER=anthropic needs ANTHROPIC_API_KEY' };
  return { provider: { provider: 'anthropic', apiKey: env.ANTHROPIC_API_KEY!, model, baseURL: env.ANTHROPIC_BASE_URL ?? fromFile?.baseURL } };
}

/** A connection URL safe to show: the password is replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) parsed.searchParams.set(key, '****');
    }
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
