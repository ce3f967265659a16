/**
 * The one place a model reply is streamed: retries with backoff on retriable failures before the first token,
 * and after the first token turns any failure into an LlmError that names how far the reply got.
 */
import type { TokenUsage } from '../events';
import { LlmError, type CompletionRequest, type LlmProvider } from './provider';

export interface StreamHooks {
  onText?: (delta: string, textSoFar: string) => void;
  /** Told before each retry, so the caller can emit a `status`. */
  onRetry?: (attempt: number, delayMs: number, error: LlmError) => void;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 20_000 };

export interface CompletionResult {
  text: string;
  usage?: TokenUsage;
}

export async function streamCompletion(
  provider: LlmProvider,
  request: CompletionRequest,
  signal: AbortSignal,
  hooks: StreamHooks = {},
  policy: RetryPolicy = defaultRetryPolicy,
): Promise<CompletionResult> {
  for (let attempt = 1; ; attempt++) {
    let text = '';
    let usage: TokenUsage | undefined;
    try {
      for await (const chunk of provider.stream(request, signal)) {
        if (chunk.kind === 'usage') {
          usage = chunk.usage;
          continue;
        }
        text += chunk.text;
        hooks.onText?.(chunk.text, text);
      }
      // Both SDKs end the iteration quietly when the signal aborts: a cut-off reply must not pass as complete.
      if (signal.aborted) throw signal.reason;
      return { text, usage };
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      if (!(error instanceof LlmError)) throw error;
      if (text.length > 0) {
        throw new LlmError(`the model's reply broke off after ${text.length} characters: ${error.message}`, error.status, false);
      }
      if (!error.retriable || attempt >= policy.maxAttempts) throw error;
      const wait = Math.min(policy.maxDelayMs, error.retryAfterMs ?? policy.baseDelayMs * 2 ** (attempt - 1));
      hooks.onRetry?.(attempt, wait, error);
      await sleep(wait, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
