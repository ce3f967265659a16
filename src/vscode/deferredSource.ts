/**
 * A source built on first use. Sources are listed synchronously (views, pickers), but a MongoDB, Qdrant or Slack
 * source needs its secrets in hand when it is constructed, and SecretStorage answers asynchronously: this stands in
 * for it, reads the secrets when first asked to do something, and then passes every call on.
 */
import type { QueryLanguage, SourceKind } from '../core/events';
import type { CompletionRequest } from '../core/llm/provider';
import type { RankedTable, SchemaSnapshot } from '../core/schema/types';
import type { CostEstimate, DataSource, ExecuteOptions, GenerationInput, IntrospectOptions, QueryStreamingExtractor, QueryValidation, RowBatch } from '../core/sources/source';

const LANGUAGE_OF_KIND: Readonly<Record<SourceKind, QueryLanguage>> = { postgres: 'sql', mongodb: 'mongodb', qdrant: 'qdrant', slack: 'slack' };

export class DeferredSource implements DataSource {
  readonly language: QueryLanguage;
  private building?: Promise<DataSource>;
  private built?: DataSource;

  constructor(
    readonly id: string,
    readonly kind: SourceKind,
    readonly name: string,
    private readonly build: () => Promise<DataSource>,
  ) {
    this.language = LANGUAGE_OF_KIND[kind];
  }

  async introspect(options?: IntrospectOptions): Promise<SchemaSnapshot> {
    return (await this.source()).introspect(options);
  }

  // The pipeline calls these three only after introspect, which has built the source.
  searchSchema(snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[] {
    return this.ready().searchSchema(snapshot, question, limit);
  }

  generationPrompt(input: GenerationInput): CompletionRequest {
    return this.ready().generationPrompt(input);
  }

  createExtractor(): QueryStreamingExtractor {
    return this.ready().createExtractor();
  }

  async validate(query: string): Promise<QueryValidation> {
    return (await this.source()).validate(query);
  }

  /** No estimate when the real source makes none. */
  async estimateCost(query: string, signal: AbortSignal, params?: readonly unknown[]): Promise<CostEstimate | undefined> {
    const source = await this.source();
    return source.estimateCost ? source.estimateCost(query, signal, params) : undefined;
  }

  async *execute(query: string, options: ExecuteOptions): AsyncIterable<RowBatch> {
    yield* (await this.source()).execute(query, options);
  }

  async privilegeWarning(signal?: AbortSignal): Promise<string | undefined> {
    const source = await this.source();
    return source.privilegeWarning ? source.privilegeWarning(signal) : undefined;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await (await this.source()).ping(signal);
  }

  async close(): Promise<void> {
    const building = this.building;
    this.building = undefined;
    this.built = undefined;
    if (building) await (await building.catch(() => undefined))?.close();
  }

  private source(): Promise<DataSource> {
    if (!this.building) {
      const building = this.build().then((source) => {
        if (this.building === building) this.built = source;
        return source;
      });
      this.building = building;
      // A failed build (a secret missing, a malformed URL) is tried again next time, e.g. after Edit Connection.
      building.catch(() => {
        if (this.building === building) this.building = undefined;
      });
    }
    return this.building;
  }

  private ready(): DataSource {
    if (!this.built) throw new Error(`connection ${this.id}: the source is not open yet (its schema is read first)`);
    return this.built;
  }
}
