/**
 * Decorators that add up the time spent inside model calls and database calls, so the bench can subtract them
 * from a question's wall time and see what the engine itself costs. Only time spent waiting on the wrapped call
 * counts — not the time the engine spends on a chunk or a batch once it has it.
 */
import { performance } from 'node:perf_hooks';
import type { CompletionChunk, CompletionRequest, LlmProvider } from '../src/core/llm/provider';
import type { SchemaSnapshot, RankedTable } from '../src/core/schema/types';
import type { CostEstimate, DataSource, ExecuteOptions, GenerationInput, IntrospectOptions, QueryValidation, RowBatch } from '../src/core/sources/source';

export class Stopwatch {
  totalMs = 0;

  async time<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.totalMs += performance.now() - started;
    }
  }

  /** Re-yields an async iterable, counting only the time spent waiting for each next item. */
  async *iterate<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = items[Symbol.asyncIterator]();
    try {
      for (;;) {
        const started = performance.now();
        const step = await iterator.next();
        this.totalMs += performance.now() - started;
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
}

export function timedProvider(inner: LlmProvider, watch: Stopwatch): LlmProvider {
  return {
    name: inner.name,
    model: inner.model,
    stream: (request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk> => watch.iterate(inner.stream(request, signal)),
  };
}

/** Times every call that reaches the database; validation and prompt building are engine work and stay untimed. */
export function timedSource(inner: DataSource, watch: Stopwatch): DataSource {
  return {
    id: inner.id,
    kind: inner.kind,
    name: inner.name,
    language: inner.language,
    introspect: (options?: IntrospectOptions): Promise<SchemaSnapshot> => watch.time(() => inner.introspect(options)),
    searchSchema: (snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[] => inner.searchSchema(snapshot, question, limit),
    generationPrompt: (input: GenerationInput) => inner.generationPrompt(input),
    createExtractor: () => inner.createExtractor(),
    validate: (query: string): Promise<QueryValidation> => inner.validate(query),
    estimateCost: inner.estimateCost
      ? (query: string, signal: AbortSignal, params?: readonly unknown[]): Promise<CostEstimate | undefined> => watch.time(() => inner.estimateCost!(query, signal, params))
      : undefined,
    execute: (query: string, options: ExecuteOptions): AsyncIterable<RowBatch> => watch.iterate(inner.execute(query, options)),
    ping: (signal?: AbortSignal): Promise<void> => watch.time(() => inner.ping(signal)),
    close: (): Promise<void> => inner.close(),
  };
}
