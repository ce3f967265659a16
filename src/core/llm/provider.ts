/** One interface for every model the engine streams from (OpenAI-compatible, Anthropic, and later the editor's own). */
import type { TokenUsage } from '../events';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  system: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
}

export type CompletionChunk = { kind: 'text'; text: string } | { kind: 'usage'; usage: TokenUsage };

export interface LlmProvider {
  /** e.g. `openai`, `anthropic`. */
  readonly name: string;
  readonly model: string;
  /** Streams the reply. Throws LlmError for provider failures; stops promptly when `signal` aborts. */
  stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk>;
}

/** A provider failure in one shape, whichever SDK raised it. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Worth another attempt (429, 5xx, a dropped connection) — only ever retried before the first token. */
    readonly retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

interface SdkErrorShape {
  status?: unknown;
  message?: unknown;
  headers?: unknown;
  name?: unknown;
}

/** Maps an SDK error (openai or @anthropic-ai/sdk: same shape) to LlmError; rethrows aborts untouched. */
export function toLlmError(error: unknown, provider: string, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? error;
  if (error instanceof LlmError) return error;
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const status = typeof shape.status === 'number' ? shape.status : undefined;
  const raw = typeof shape.message === 'string' ? shape.message : String(error);
  const retriable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
  const message = status ? `${provider} answered ${status}: ${raw}` : `${provider} connection failed: ${raw}`;
  return new LlmError(message, status, retriable, retryAfterMs(shape.headers));
}

function retryAfterMs(headers: unknown): number | undefined {
  const get = (name: string): string | null | undefined => {
    if (headers && typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
    if (headers && typeof headers === 'object') {
      const value = (headers as Record<string, unknown>)[name];
      return typeof value === 'string' ? value : undefined;
    }
    return undefined;
  };
  const ms = get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const seconds = get('retry-after');
  if (!seconds) return undefined;
  if (Number.isFinite(Number(seconds))) return Number(seconds) * 1000;
  const date = Date.parse(seconds);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
