/**
 * The one interface every data source implements (DESIGN §1). A source never calls the model: it introspects,
 * supplies its prompt and schema text, extracts and validates the model's query, and executes it as a stream of
 * row batches. The pipeline does everything else.
 */
import type { Cell, QueryLanguage, ResultColumn, SourceKind } from '../events';
import type { CompletionRequest, ChatMessage } from '../llm/provider';
import type { RankedTable, SchemaSnapshot } from '../schema/types';

export interface QueryValidation {
  ok: boolean;
  problems: string[];
  /** The query to run, normalised (e.g. trailing semicolons removed). */
  query?: string;
}

export interface CostEstimate {
  /** The database's own cost units. */
  cost: number;
  estimatedRows: number;
}

export interface RowBatch {
  /** Present on the first batch and whenever the column list grows. */
  columns?: ResultColumn[];
  rows: Cell[][];
}

export interface ExecuteOptions {
  maxRows: number;
  signal: AbortSignal;
  /** Tells the user why the stream is waiting (a rate limit, a retry); becomes a `status` event. */
  onStatus?: (message: string) => void;
  /** Values bound to the query's parameters ($1 … for SQL), e.g. the values an upstream operation produced. */
  params?: readonly unknown[];
}

export interface QueryStreamingExtractor {
  /** Feeds a delta of the model's reply; returns the newly visible query text. */
  push(delta: string): string;
  /** The final query when the reply is complete; undefined when it holds none. */
  finish(): string | undefined;
}

export interface IntrospectOptions {
  refresh?: boolean;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface GenerationInput {
  question: string;
  tables: RankedTable[];
  maxRows: number;
  /** Whether sample values may reach the model (the user's choice). */
  includeSampleValues: boolean;
  /** Earlier turns, for a follow-up question. */
  history?: ChatMessage[];
}

export interface DataSource {
  readonly id: string;
  readonly kind: SourceKind;
  readonly name: string;
  readonly language: QueryLanguage;
  /** Cached after the first call; `refresh` reloads. */
  introspect(options?: IntrospectOptions): Promise<SchemaSnapshot>;
  /** Ranks tables for a question (best first). */
  searchSchema(snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[];
  /** The query-generation prompt for this source's language. */
  generationPrompt(input: GenerationInput): CompletionRequest;
  createExtractor(): QueryStreamingExtractor;
  validate(query: string): Promise<QueryValidation>;
  /** Optional cost estimate before running (EXPLAIN for SQL). */
  estimateCost?(query: string, signal: AbortSignal, params?: readonly unknown[]): Promise<CostEstimate | undefined>;
  /** Streams the result; cancelling `signal` stops the statement on the server and closes the cursor. */
  execute(query: string, options: ExecuteOptions): AsyncIterable<RowBatch>;
  /** Checks the connection works (for "Test Connection"). */
  ping(signal?: AbortSignal): Promise<void>;
  /**
   * Why the connection's role is more powerful than a read-only question needs (a superuser, write grants), or
   * undefined when it is not; checked once per connection, shown by Test Connection and before a question.
   */
  privilegeWarning?(signal?: AbortSignal): Promise<string | undefined>;
  close(): Promise<void>;
}

/** A database error worth one self-correction round (wrong column, bad syntax the parser let through, …). */
export class QueryExecutionError extends Error {
  constructor(
    message: string,
    /** The database's own error code (SQLSTATE for Postgres). */
    readonly dbCode: string | undefined,
    readonly correctable: boolean,
  ) {
    super(message);
    this.name = 'QueryExecutionError';
  }
}

/** The statement ran past its time limit on the server. */
export class StatementTimeoutError extends Error {
  constructor(readonly limitMs: number) {
    super(`the query ran longer than the statement timeout (${limitMs} ms) and was stopped by the database`);
    this.name = 'StatementTimeoutError';
  }
}

/**
 * A failure the source can explain better than the pipeline (the embedding model for a vector search is down, or
 * builds vectors of the wrong size): ends the question with this code, message and suggestion, uncorrected.
 */
export class SourceFailureError extends Error {
  constructor(
    readonly code: 'source_unavailable' | 'execution_failed',
    message: string,
    readonly suggestion: string,
  ) {
    super(message);
    this.name = 'SourceFailureError';
  }
}
