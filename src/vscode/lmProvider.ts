/**
 * The editor's own language models (`vscode.lm`) as an engine LlmProvider: no key needed where the user has them.
 * The vscode runtime is injected (see `vscodeLmRuntime` in engineHost.ts), so this adapter runs — and is tested —
 * in plain Node against a test double of the same API shape.
 */
import { LlmError, type CompletionChunk, type CompletionRequest, type LlmProvider } from '../core/llm/provider';

export interface LmChatModel {
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  readonly family: string;
  sendRequest(messages: unknown[], options: { justification?: string }, token: unknown): Thenable<{ text: AsyncIterable<string> }>;
}

export interface LmSelector {
  vendor?: string;
  family?: string;
  id?: string;
}

/** The slice of the vscode API the adapter needs. */
export interface LmRuntime {
  selectChatModels(selector?: LmSelector): Thenable<readonly LmChatModel[]>;
  userMessage(text: string): unknown;
  assistantMessage(text: string): unknown;
  createCancellation(): { token: unknown; cancel(): void; dispose(): void };
  /** The `code` of a vscode.LanguageModelError, when the error is one. */
  errorCode(error: unknown): string | undefined;
}

/** Picks the model: by id or family when the setting names one, else the first the editor offers. */
export async function selectEditorModel(runtime: LmRuntime, wanted: string): Promise<LmChatModel | undefined> {
  if (wanted) {
    const byId = await runtime.selectChatModels({ id: wanted });
    if (byId[0]) return byId[0];
    const byFamily = await runtime.selectChatModels({ family: wanted });
    return byFamily[0];
  }
  return (await runtime.selectChatModels())[0];
}

export class EditorLmProvider implements LlmProvider {
  readonly name = 'vscode.lm';

  constructor(
    private readonly runtime: LmRuntime,
    private readonly chatModel: LmChatModel,
  ) {}

  get model(): string {
    return `${this.chatModel.vendor}/${this.chatModel.family || this.chatModel.id}`;
  }

  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk> {
    // vscode.lm has no system role: the instructions lead the first user message.
    const messages = request.messages.map((m, i) => {
      const text = i === 0 && m.role === 'user' ? `${request.system}\n\n${m.content}` : m.content;
      return m.role === 'user' ? this.runtime.userMessage(text) : this.runtime.assistantMessage(text);
    });
    const cancellation = this.runtime.createCancellation();
    const onAbort = (): void => cancellation.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.chatModel.sendRequest(messages, { justification: 'Ceneca writes a database query and an analysis for your question.' }, cancellation.token);
      for await (const text of response.text) {
        if (signal.aborted) break;
        if (text) yield { kind: 'text', text };
      }
      if (signal.aborted) throw signal.reason;
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw this.toLlmError(error);
    } finally {
      signal.removeEventListener('abort', onAbort);
      cancellation.dispose();
    }
  }

  private toLlmError(error: unknown): LlmError {
    const code = this.runtime.errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'NoPermissions') return new LlmError(`the editor's language model needs your permission: ${message}`, 403, false);
    if (code === 'Blocked') return new LlmError(`the editor's language model is rate-limited or blocked: ${message}`, 429, false);
    if (code === 'NotFound') return new LlmError(`the editor's language model ${this.model} is not available: ${message}`, 404, false);
    return new LlmError(`the editor's language model failed: ${message}`, undefined, true);
  }
}
