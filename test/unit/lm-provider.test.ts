import assert from 'node:assert/strict';
import { streamCompletion } from '../../src/core/llm/complete';
import { LlmError, type CompletionChunk, type CompletionRequest } from '../../src/core/llm/provider';
import { EditorLmProvider, selectEditorModel, type LmChatModel, type LmRuntime, type LmSelector } from '../../src/vscode/lmProvider';

// ---------------------------------------------------------------------------------------------------------------
// A test double of the slice of `vscode.lm` the adapter uses, behaving as the editor's does: messages are opaque
// objects built by the runtime, a cancelled token ends the response stream, and failures are LanguageModelErrors
// with a `code`.

interface DoubleMessage {
  role: 'user' | 'assistant';
  text: string;
}

/** Stands in for vscode.CancellationToken. */
class DoubleToken {
  isCancellationRequested = false;
  private readonly listeners: Array<() => void> = [];

  onCancellationRequested(listener: () => void): void {
    this.listeners.push(listener);
  }

  fire(): void {
    this.isCancellationRequested = true;
    for (const listener of this.listeners) listener();
  }
}

/** Stands in for vscode.LanguageModelError. */
class DoubleLanguageModelError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Reply =
  | { kind: 'chunks'; chunks: string[]; delayMs?: number; failAfter?: Error }
  | { kind: 'refuse'; error: Error }
  /** Streams chunks until cancelled, like a long reply; ends quietly or throws on cancel, as `onCancel` says. */
  | { kind: 'endless'; onCancel: 'end' | 'throw' };

interface RecordedRequest {
  messages: DoubleMessage[];
  options: { justification?: string };
  token: DoubleToken;
}

class DoubleChatModel implements LmChatModel {
  readonly requests: RecordedRequest[] = [];
  readonly name: string;
  private readonly replies: Reply[];

  constructor(
    readonly id: string,
    readonly family: string,
    replies: Reply[] = [],
    readonly vendor = 'copilot',
  ) {
    this.name = `${family} (${id})`;
    this.replies = [...replies];
  }

  async sendRequest(messages: unknown[], options: { justification?: string }, token: unknown): Promise<{ text: AsyncIterable<string> }> {
    assert.ok(token instanceof DoubleToken, 'the token comes from the runtime');
    this.requests.push({ messages: messages as DoubleMessage[], options, token });
    const reply = this.replies.shift() ?? { kind: 'chunks', chunks: [] };
    if (reply.kind === 'refuse') throw reply.error;
    return { text: replyText(reply, token) };
  }
}

async function* replyText(reply: Exclude<Reply, { kind: 'refuse' }>, token: DoubleToken): AsyncIterable<string> {
  if (reply.kind === 'chunks') {
    for (const chunk of reply.chunks) {
      if (token.isCancellationRequested) return;
      if (reply.delayMs) await sleep(reply.delayMs);
      yield chunk;
    }
    if (reply.failAfter) throw reply.failAfter;
    return;
  }
  for (let i = 0; ; i++) {
    if (token.isCancellationRequested) {
      if (reply.onCancel === 'throw') throw new Error('Canceled');
      return;
    }
    yield `token${i} `;
    await sleep(2);
  }
}

class DoubleLmRuntime implements LmRuntime {
  readonly selectors: Array<LmSelector | undefined> = [];
  readonly cancellations: Array<{ token: DoubleToken; disposed: boolean }> = [];

  constructor(private readonly models: LmChatModel[]) {}

  async selectChatModels(selector?: LmSelector): Promise<readonly LmChatModel[]> {
    this.selectors.push(selector);
    return this.models.filter(
      (m) => (!selector?.id || m.id === selector.id) && (!selector?.family || m.family === selector.family) && (!selector?.vendor || m.vendor === selector.vendor),
    );
  }

  userMessage(text: string): DoubleMessage {
    return { role: 'user', text };
  }

  assistantMessage(text: string): DoubleMessage {
    return { role: 'assistant', text };
  }

  createCancellation(): { token: DoubleToken; cancel(): void; dispose(): void } {
    const entry = { token: new DoubleToken(), disposed: false };
    this.cancellations.push(entry);
    return { token: entry.token, cancel: () => entry.token.fire(), dispose: () => void (entry.disposed = true) };
  }

  errorCode(error: unknown): string | undefined {
    return error instanceof DoubleLanguageModelError ? error.code : undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const request: CompletionRequest = {
  system: 'You write PostgreSQL.',
  messages: [
    { role: 'user', content: 'Question: top customers' },
    { role: 'assistant', content: 'SELECT name FROM customers' },
    { role: 'user', content: 'only the top 3' },
  ],
};

async function collect(stream: AsyncIterable<CompletionChunk>): Promise<CompletionChunk[]> {
  const chunks: CompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

function setup(replies: Reply[]): { runtime: DoubleLmRuntime; model: DoubleChatModel; provider: EditorLmProvider } {
  const model = new DoubleChatModel('gpt-4.1', 'gpt-4.1', replies);
  const runtime = new DoubleLmRuntime([model]);
  return { runtime, model, provider: new EditorLmProvider(runtime, model) };
}

describe('vscode.lm adapter against a test double of the VS Code language-model API', () => {
  it('folds the system prompt into the first user message and maps user and assistant turns', async () => {
    const { model, provider } = setup([{ kind: 'chunks', chunks: ['ok'] }]);
    await collect(provider.stream(request, new AbortController().signal));
    assert.equal(model.requests.length, 1);
    assert.deepEqual(model.requests[0]!.messages, [
      { role: 'user', text: 'You write PostgreSQL.\n\nQuestion: top customers' },
      { role: 'assistant', text: 'SELECT name FROM customers' },
      { role: 'user', text: 'only the top 3' },
    ]);
    assert.ok(model.requests[0]!.options.justification, 'the consent prompt says why Ceneca asks');
    assert.equal(provider.name, 'vscode.lm');
    assert.equal(provider.model, 'copilot/gpt-4.1');
  });

  it('streams the text chunks in order (empty chunks skipped), and releases the cancellation source', async () => {
    const { runtime, provider } = setup([{ kind: 'chunks', chunks: ['SELECT ', '', 'name', ' FROM customers'], delayMs: 1 }]);
    const chunks = await collect(provider.stream(request, new AbortController().signal));
    assert.deepEqual(chunks, [
      { kind: 'text', text: 'SELECT ' },
      { kind: 'text', text: 'name' },
      { kind: 'text', text: ' FROM customers' },
    ]);
    assert.equal(runtime.cancellations.length, 1);
    assert.equal(runtime.cancellations[0]!.disposed, true);
  });

  for (const onCancel of ['end', 'throw'] as const) {
    it(`cancels the token when the AbortSignal aborts, and ends with the abort reason (the editor's stream ${onCancel === 'end' ? 'ends quietly' : 'throws'})`, async () => {
      const { runtime, provider } = setup([{ kind: 'endless', onCancel }]);
      const controller = new AbortController();
      const reason = new Error('cancelled by the user');
      const received: string[] = [];
      const consuming = (async () => {
        for await (const chunk of provider.stream(request, controller.signal)) {
          if (chunk.kind === 'text') received.push(chunk.text);
          if (received.length === 3) controller.abort(reason);
        }
      })();
      assert.equal(await rejection(consuming), reason, 'the iteration ends with the abort reason itself');
      assert.equal(received.length, 3, 'nothing is yielded after the abort');
      assert.equal(runtime.cancellations[0]!.token.isCancellationRequested, true, 'the editor request is cancelled');
      assert.equal(runtime.cancellations[0]!.disposed, true);
    });
  }

  it('maps NoPermissions, Blocked and NotFound to non-retriable LlmErrors, and other failures to retriable ones', async () => {
    const cases: Array<{ error: Error; status: number | undefined; retriable: boolean }> = [
      { error: new DoubleLanguageModelError('NoPermissions', 'the user declined'), status: 403, retriable: false },
      { error: new DoubleLanguageModelError('Blocked', 'quota exceeded'), status: 429, retriable: false },
      { error: new DoubleLanguageModelError('NotFound', 'no such model'), status: 404, retriable: false },
      { error: new DoubleLanguageModelError('Unknown', 'server hiccup'), status: undefined, retriable: true },
      { error: new Error('socket hang up'), status: undefined, retriable: true },
    ];
    for (const c of cases) {
      const { provider } = setup([{ kind: 'refuse', error: c.error }]);
      const error = await rejection(collect(provider.stream(request, new AbortController().signal)));
      assert.ok(error instanceof LlmError, `${c.error.message}: an LlmError`);
      assert.equal(error.retriable, c.retriable, `${c.error.message}: retriable`);
      assert.equal(error.status, c.status, `${c.error.message}: status`);
      assert.ok(error.message.includes(c.error.message), error.message);
    }
  });

  it('maps a failure in the middle of the stream too', async () => {
    const { provider } = setup([{ kind: 'chunks', chunks: ['SELECT'], failAfter: new DoubleLanguageModelError('Blocked', 'rate limited') }]);
    const received: CompletionChunk[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of provider.stream(request, new AbortController().signal)) received.push(chunk);
      })(),
    );
    assert.deepEqual(received, [{ kind: 'text', text: 'SELECT' }]);
    assert.ok(error instanceof LlmError && !error.retriable && error.status === 429);
  });

  describe('selectEditorModel', () => {
    const models = [new DoubleChatModel('copilot-gpt-4o', 'gpt-4o'), new DoubleChatModel('claude-sonnet-4', 'claude-sonnet'), new DoubleChatModel('o3-mini', 'o3')];

    it('picks by id first', async () => {
      const runtime = new DoubleLmRuntime(models);
      assert.equal((await selectEditorModel(runtime, 'claude-sonnet-4'))?.id, 'claude-sonnet-4');
      assert.deepEqual(runtime.selectors, [{ id: 'claude-sonnet-4' }]);
    });

    it('then by family', async () => {
      const runtime = new DoubleLmRuntime(models);
      assert.equal((await selectEditorModel(runtime, 'o3'))?.id, 'o3-mini');
      assert.deepEqual(runtime.selectors, [{ id: 'o3' }, { family: 'o3' }]);
    });

    it('then, with no model named, the first the editor offers', async () => {
      const runtime = new DoubleLmRuntime(models);
      assert.equal((await selectEditorModel(runtime, ''))?.id, 'copilot-gpt-4o');
      assert.deepEqual(runtime.selectors, [undefined]);
    });

    it('gives none when the named model is not offered (the engine host then explains, rather than using another)', async () => {
      const runtime = new DoubleLmRuntime(models);
      assert.equal(await selectEditorModel(runtime, 'no-such-model'), undefined);
      assert.equal(await selectEditorModel(new DoubleLmRuntime([]), ''), undefined);
    });
  });

  describe("through the engine's streamCompletion", () => {
    const fastRetries = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

    it('streams a whole reply end to end, telling each delta as it arrives', async () => {
      const { provider } = setup([{ kind: 'chunks', chunks: ['```sql\n', 'SELECT name ', 'FROM customers', '\n```'], delayMs: 1 }]);
      const seen: Array<[string, string]> = [];
      const result = await streamCompletion(provider, request, new AbortController().signal, { onText: (delta, soFar) => seen.push([delta, soFar]) }, fastRetries);
      assert.equal(result.text, '```sql\nSELECT name FROM customers\n```');
      assert.deepEqual(
        seen.map(([delta]) => delta),
        ['```sql\n', 'SELECT name ', 'FROM customers', '\n```'],
      );
      assert.equal(seen.at(-1)![1], result.text);
    });

    it('retries a retriable failure before the first token, and not a non-retriable one', async () => {
      const retried = setup([
        { kind: 'refuse', error: new Error('connection reset') },
        { kind: 'chunks', chunks: ['SELECT 1'] },
      ]);
      const retries: number[] = [];
      const result = await streamCompletion(retried.provider, request, new AbortController().signal, { onRetry: (attempt) => retries.push(attempt) }, fastRetries);
      assert.equal(result.text, 'SELECT 1');
      assert.deepEqual(retries, [1]);
      assert.equal(retried.model.requests.length, 2);

      const refused = setup([{ kind: 'refuse', error: new DoubleLanguageModelError('NoPermissions', 'declined') }]);
      const error = await rejection(streamCompletion(refused.provider, request, new AbortController().signal, {}, fastRetries));
      assert.ok(error instanceof LlmError && error.status === 403);
      assert.equal(refused.model.requests.length, 1, 'asking again would only ask the user again');
    });

    it('stops on abort with the abort reason, never passing a cut-off reply as complete', async () => {
      const { runtime, provider } = setup([{ kind: 'endless', onCancel: 'end' }]);
      const controller = new AbortController();
      const reason = new Error('session cancelled');
      let deltas = 0;
      const error = await rejection(
        streamCompletion(provider, request, controller.signal, {
          onText: () => {
            if (++deltas === 5) controller.abort(reason);
          },
        }),
      );
      assert.equal(error, reason);
      assert.equal(runtime.cancellations[0]!.token.isCancellationRequested, true);
    });
  });
});
