/**
 * Owns the engine inside the extension host: sources from `ceneca.connections` (+ passwords, tokens and API keys
 * from SecretStorage, or the embedded demo database when none is configured) and the model from `ceneca.llm.*`
 * (+ keys from SecretStorage, or the editor's own models). Rebuilt when a setting or a secret changes.
 */
import * as vscode from 'vscode';
import { DEFAULT_MODELS } from '../core/config';
import { Engine } from '../core/engine';
import { AnthropicProvider } from '../core/llm/anthropic';
import { OpenAIProvider } from '../core/llm/openai';
import type { LlmProvider } from '../core/llm/provider';
import { createDemoSource, stopDemoDatabase } from '../core/sources/embedded-demo';
import { MongoSource } from '../core/sources/mongodb';
import { PostgresSource } from '../core/sources/postgres';
import { QdrantSource } from '../core/sources/qdrant';
import { SlackSource } from '../core/sources/slack';
import type { DataSource } from '../core/sources/source';
import { mongoUrlWithPassword, parseMongoUrl } from './connectionForm';
import {
  DEFAULT_EMBEDDINGS_MODEL,
  type ConnectionSetting,
  type MongoConnectionSetting,
  type PostgresConnectionSetting,
  type QdrantConnectionSetting,
  type SlackConnectionSetting,
} from './connectionSettings';
import { DeferredSource } from './deferredSource';
import { EditorLmProvider, selectEditorModel, type LmChatModel, type LmRuntime } from './lmProvider';
import { apiKeyStorageKey, CONNECTION_SECRET_PREFIX, type Secrets } from './secrets';
import { readSettings, type CenecaSettings } from './settings';

/** The model is not set up: the message says what to do, the actions are command ids to offer. */
export class ModelSetupNeeded extends Error {
  constructor(
    message: string,
    readonly actions: Array<{ title: string; command: string }>,
  ) {
    super(message);
    this.name = 'ModelSetupNeeded';
  }
}

export class EngineHost implements vscode.Disposable {
  private sources?: DataSource[];
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Fires when sources or the model may have changed (views refresh). */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly secrets: Secrets,
    private readonly log: vscode.LogOutputChannel,
    private readonly lm: LmRuntime = vscodeLmRuntime(),
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ceneca')) this.invalidate(e.affectsConfiguration('ceneca.connections') || e.affectsConfiguration('ceneca.queryTimeoutSeconds'));
      }),
      secrets.onDidChange((e) => this.invalidate(e.key.startsWith(CONNECTION_SECRET_PREFIX) || (e.key === apiKeyStorageKey('openai') && this.usesOpenAiKey()))),
    );
  }

  get settings(): CenecaSettings {
    return readSettings();
  }

  /** The configured sources (built once; the demo database starts only when first used). */
  getSources(): DataSource[] {
    if (!this.sources) {
      const { connections, connectionProblems, queryTimeoutMs } = this.settings;
      for (const problem of connectionProblems) this.log.warn(problem);
      this.sources = connections.length > 0 ? connections.map((c) => this.source(c, queryTimeoutMs)) : [createDemoSource()];
      this.log.info(`sources: ${this.sources.map((s) => `${s.id} (${s.kind})`).join(', ')}`);
    }
    return this.sources;
  }

  /** An engine for one question: current sources, settings and model. */
  async engine(): Promise<Engine> {
    const settings = this.settings;
    const llm = await this.model(settings);
    return new Engine({ sources: this.getSources(), llm, settings: settings.engine });
  }

  /** The model provider the settings ask for; throws ModelSetupNeeded with a way forward when it is not set up. */
  async model(settings: CenecaSettings = this.settings): Promise<LlmProvider> {
    const { provider, model, baseUrl } = settings.llm;
    if (provider === 'vscode' || provider === 'auto') {
      const editorModel = await this.editorModel(model).catch(() => undefined);
      if (editorModel) return new EditorLmProvider(this.lm, editorModel);
      if (provider === 'vscode') {
        throw new ModelSetupNeeded(`No language model of the editor is available${model ? ` matching "${model}"` : ''}.`, [{ title: 'Choose Model…', command: 'ceneca.chooseModel' }]);
      }
    }
    const openaiKey = await this.secrets.apiKey('openai');
    const anthropicKey = await this.secrets.apiKey('anthropic');
    if (provider === 'openai' || (provider === 'auto' && (openaiKey || (baseUrl && !anthropicKey)))) {
      if (!openaiKey && !baseUrl) throw this.keyNeeded('OpenAI');
      // Local OpenAI-compatible servers (Ollama, LM Studio, vLLM) take any key.
      return new OpenAIProvider({ apiKey: openaiKey ?? 'not-needed', baseURL: baseUrl || undefined, model: model || DEFAULT_MODELS.openai });
    }
    if (provider === 'anthropic' || (provider === 'auto' && anthropicKey)) {
      if (!anthropicKey) throw this.keyNeeded('Anthropic');
      return new AnthropicProvider({ apiKey: anthropicKey, baseURL: baseUrl || undefined, model: model || DEFAULT_MODELS.anthropic });
    }
    throw new ModelSetupNeeded('Ceneca needs a language model: the editor offers none, and no OpenAI or Anthropic key is set.', [
      { title: 'Set API Key…', command: 'ceneca.setApiKey' },
      { title: 'Choose Model…', command: 'ceneca.chooseModel' },
    ]);
  }

  /** The editor's models, for `Ceneca: Choose Model…`. */
  editorModels(): Thenable<readonly LmChatModel[]> {
    return this.lm.selectChatModels();
  }

  private editorModel(wanted: string): Promise<LmChatModel | undefined> {
    return selectEditorModel(this.lm, wanted);
  }

  private keyNeeded(provider: string): ModelSetupNeeded {
    return new ModelSetupNeeded(`No ${provider} API key is set.`, [{ title: 'Set API Key…', command: 'ceneca.setApiKey' }]);
  }

  private source(connection: ConnectionSetting, queryTimeoutMs: number): DataSource {
    switch (connection.kind) {
      case 'postgres':
        return this.postgresSource(connection, queryTimeoutMs);
      case 'mongodb':
        return this.deferred(connection, () => this.mongoSource(connection, queryTimeoutMs));
      case 'qdrant':
        return this.deferred(connection, () => this.qdrantSource(connection, queryTimeoutMs));
      case 'slack':
        return this.deferred(connection, () => this.slackSource(connection));
    }
  }

  private deferred(connection: ConnectionSetting, build: () => Promise<DataSource>): DataSource {
    return new DeferredSource(connection.id, connection.kind, connection.name ?? connection.id, build);
  }

  private postgresSource(connection: PostgresConnectionSetting, statementTimeoutMs: number): PostgresSource {
    return new PostgresSource({
      id: connection.id,
      name: connection.name ?? connection.id,
      statementTimeoutMs,
      connection: async () => connectionUrl(connection, await this.secrets.connectionSecret(connection.id, 'password')),
    });
  }

  private async mongoSource(connection: MongoConnectionSetting, maxTimeMs: number): Promise<MongoSource> {
    const password = await this.secrets.connectionSecret(connection.id, 'password');
    const parsed = parseMongoUrl(connection.url);
    return new MongoSource({
      id: connection.id,
      name: connection.name ?? connection.id,
      url: mongoUrlWithPassword(connection.url, password),
      // Read here too: the source's own reading of the URL cannot handle a list of hosts.
      database: connection.database ?? (typeof parsed === 'string' ? undefined : parsed.database),
      maxTimeMs,
    });
  }

  private async qdrantSource(connection: QdrantConnectionSetting, timeoutMs: number): Promise<QdrantSource> {
    const [apiKey, embeddingsKey, openaiKey] = await Promise.all([
      this.secrets.connectionSecret(connection.id, 'apiKey'),
      this.secrets.connectionSecret(connection.id, 'embeddingsApiKey'),
      this.secrets.apiKey('openai'),
    ]);
    return new QdrantSource({
      id: connection.id,
      name: connection.name ?? connection.id,
      url: connection.url,
      apiKey: apiKey || undefined,
      embeddings: {
        baseURL: connection.embeddings?.baseUrl || undefined,
        model: connection.embeddings?.model || DEFAULT_EMBEDDINGS_MODEL,
        // Without a key of its own, the one stored for OpenAI; a local server takes any key.
        apiKey: embeddingsKey || openaiKey || 'not-needed',
      },
      timeoutMs,
    });
  }

  private async slackSource(connection: SlackConnectionSetting): Promise<SlackSource> {
    const token = await this.secrets.connectionSecret(connection.id, 'token');
    if (!token) throw new Error(`no Slack token is saved for "${connection.id}": set one with Ceneca: Edit Connection…`);
    return new SlackSource({ id: connection.id, name: connection.name ?? connection.id, token, slackApiUrl: connection.apiUrl });
  }

  /** Whether a source falls back on the OpenAI key (a Qdrant connection's embeddings without a key of their own). */
  private usesOpenAiKey(): boolean {
    return this.settings.connections.some((c) => c.kind === 'qdrant');
  }

  /** Drops cached sources when their configuration changed; listeners refresh either way. */
  invalidate(sourcesChanged = true): void {
    if (sourcesChanged && this.sources) {
      const old = this.sources;
      this.sources = undefined;
      void Promise.all(old.map((s) => s.close().catch(() => undefined)));
    }
    this.changed.fire();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
    const sources = this.sources ?? [];
    this.sources = undefined;
    void Promise.all(sources.map((s) => s.close().catch(() => undefined))).then(() => stopDemoDatabase());
  }
}

export function connectionUrl(connection: PostgresConnectionSetting, password: string | undefined): string {
  const url = new URL('postgres://localhost');
  url.hostname = connection.host || 'localhost';
  url.port = String(connection.port ?? 5432);
  url.pathname = `/${encodeURIComponent(connection.database ?? 'postgres')}`;
  if (connection.user) url.username = encodeURIComponent(connection.user);
  if (password) url.password = encodeURIComponent(password);
  if (connection.ssl) url.searchParams.set('sslmode', 'require');
  return url.toString();
}

/** The real vscode.lm behind the adapter's injectable runtime. */
export function vscodeLmRuntime(): LmRuntime {
  return {
    selectChatModels: (selector) => vscode.lm.selectChatModels(selector),
    userMessage: (text) => vscode.LanguageModelChatMessage.User(text),
    assistantMessage: (text) => vscode.LanguageModelChatMessage.Assistant(text),
    createCancellation: () => {
      const source = new vscode.CancellationTokenSource();
      return { token: source.token, cancel: () => source.cancel(), dispose: () => source.dispose() };
    },
    errorCode: (error) => (error instanceof vscode.LanguageModelError ? error.code : undefined),
  };
}
