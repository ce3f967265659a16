/**
 * Owns the engine inside the extension host: sources from `ceneca.connections` (+ passwords from SecretStorage, or
 * the embedded demo database when none is configured) and the model from `ceneca.llm.*` (+ keys from
 * SecretStorage, or the editor's own models). Rebuilt when a setting or a secret changes.
 */
import * as vscode from 'vscode';
import { DEFAULT_MODELS } from '../core/config';
import { Engine } from '../core/engine';
import { AnthropicProvider } from '../core/llm/anthropic';
import { OpenAIProvider } from '../core/llm/openai';
import type { LlmProvider } from '../core/llm/provider';
import { createDemoSource, stopDemoDatabase } from '../core/sources/embedded-demo';
import { PostgresSource } from '../core/sources/postgres';
import type { DataSource } from '../core/sources/source';
import { EditorLmProvider, selectEditorModel, type LmChatModel, type LmRuntime } from './lmProvider';
import type { Secrets } from './secrets';
import { readSettings, type CenecaSettings, type ConnectionSetting } from './settings';

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
      secrets.onDidChange((e) => this.invalidate(e.key.startsWith('ceneca.connection.'))),
    );
  }

  get settings(): CenecaSettings {
    return readSettings();
  }

  /** The configured sources (built once; the demo database starts only when first used). */
  getSources(): DataSource[] {
    if (!this.sources) {
      const { connections, queryTimeoutMs } = this.settings;
      this.sources = connections.length > 0 ? connections.map((c) => this.postgresSource(c, queryTimeoutMs)) : [createDemoSource()];
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

  private postgresSource(connection: ConnectionSetting, statementTimeoutMs: number): PostgresSource {
    return new PostgresSource({
      id: connection.id,
      name: connection.name ?? connection.id,
      statementTimeoutMs,
      connection: async () => connectionUrl(connection, await this.secrets.password(connection.id)),
    });
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

export function connectionUrl(connection: ConnectionSetting, password: string | undefined): string {
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
