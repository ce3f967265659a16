/**
 * The one event schema shared by the engine, the CLI, the HTTP server and the webview (DESIGN §3).
 * Types are inferred from the zod schemas so the runtime validator and the compile-time types cannot drift.
 * Validate at trust boundaries and in tests — never per row on the hot path.
 */
import { z } from 'zod';

export const EVENT_VERSION = 1 as const;

const progressSchema = z.object({
  step: z.number().int().nonnegative(),
  total: z.number().int().positive(),
  percentage: z.number().min(0).max(100),
});

/** Fields every event carries. `source` and `operationId` are optional tags on any event. */
const envelope = {
  v: z.literal(EVENT_VERSION),
  session: z.string().min(1),
  id: z.number().int().positive(),
  ts: z.number().int().nonnegative(),
  operationId: z.string().optional(),
  source: z.string().optional(),
  progress: progressSchema.optional(),
};

export const queryLanguageSchema = z.enum(['sql', 'mongodb', 'qdrant', 'slack']);
export type QueryLanguage = z.infer<typeof queryLanguageSchema>;

export const sourceKindSchema = z.enum(['postgres', 'mongodb', 'qdrant', 'slack']);
export type SourceKind = z.infer<typeof sourceKindSchema>;

export const phaseSchema = z.enum([
  'queued',
  'classify',
  'schema',
  'generate',
  'validate',
  'execute',
  'analyze',
  'plan',
  'aggregate',
  'session',
]);
export type Phase = z.infer<typeof phaseSchema>;

/** A cell as it travels in `partial_results`: JSON-safe scalars; dates, bigints and numerics arrive as strings. */
const cellSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type Cell = z.infer<typeof cellSchema>;

const columnSchema = z.object({ name: z.string(), type: z.string() });
export type ResultColumn = z.infer<typeof columnSchema>;

const schemaChunkSchema = z.object({
  name: z.string(),
  kind: z.enum(['table', 'view', 'collection']),
  fields: z.array(z.object({ name: z.string(), type: z.string(), note: z.string().optional() })),
  score: z.number().min(0).max(1),
});
export type SchemaChunk = z.infer<typeof schemaChunkSchema>;

const planOperationSchema = z.object({
  id: z.string(),
  source: z.string(),
  goal: z.string(),
  dependsOn: z.array(z.string()),
  uses: z.array(z.string()).optional(),
  /** The columns the operation's result will have (what later steps may use). */
  produces: z.array(z.string()).optional(),
});

const usageSchema = z.object({ inputTokens: z.number().int().nonnegative(), outputTokens: z.number().int().nonnegative() });
export type TokenUsage = z.infer<typeof usageSchema>;

export const eventSchema = z.discriminatedUnion('type', [
  z.object({ ...envelope, type: z.literal('status'), message: z.string(), phase: phaseSchema }),
  z.object({
    ...envelope,
    type: z.literal('progress'),
    step: z.number().int().nonnegative(),
    total: z.number().int().positive(),
    percentage: z.number().min(0).max(100),
    etaMs: z.number().nonnegative().optional(),
  }),
  z.object({ ...envelope, type: z.literal('classifying'), message: z.string() }),
  z.object({
    ...envelope,
    type: z.literal('databases_selected'),
    databases: z.array(z.object({ id: z.string(), kind: sourceKindSchema, reason: z.string() })).min(1),
  }),
  z.object({ ...envelope, type: z.literal('schema_loading'), source: z.string(), fraction: z.number().min(0).max(1) }),
  z.object({ ...envelope, type: z.literal('schema_chunks'), source: z.string(), chunks: z.array(schemaChunkSchema) }),
  z.object({ ...envelope, type: z.literal('planning'), step: z.string() }),
  z.object({ ...envelope, type: z.literal('plan'), operations: z.array(planOperationSchema), final: z.boolean() }),
  z.object({
    ...envelope,
    type: z.literal('plan_validated'),
    operationCount: z.number().int().nonnegative(),
    estimatedMs: z.number().nonnegative().optional(),
  }),
  z.object({
    ...envelope,
    type: z.literal('partial_query'),
    source: z.string(),
    language: queryLanguageSchema,
    delta: z.string(),
    text: z.string(),
  }),
  z.object({
    ...envelope,
    type: z.literal('query_complete'),
    source: z.string(),
    language: queryLanguageSchema,
    query: z.string().min(1),
    usage: usageSchema.optional(),
  }),
  z.object({
    ...envelope,
    type: z.literal('query_validated'),
    source: z.string(),
    ok: z.boolean(),
    problems: z.array(z.string()),
  }),
  z.object({ ...envelope, type: z.literal('execution_started'), source: z.string() }),
  z.object({
    ...envelope,
    type: z.literal('partial_results'),
    source: z.string(),
    resultId: z.string(),
    columns: z.array(columnSchema).optional(),
    rows: z.array(z.array(cellSchema)),
    offset: z.number().int().nonnegative(),
  }),
  z.object({
    ...envelope,
    type: z.literal('result_complete'),
    source: z.string(),
    resultId: z.string(),
    rowCount: z.number().int().nonnegative(),
    truncated: z.boolean(),
    elapsedMs: z.number().nonnegative(),
  }),
  z.object({ ...envelope, type: z.literal('operation_started'), operationId: z.string() }),
  z.object({ ...envelope, type: z.literal('operation_completed'), operationId: z.string() }),
  z.object({ ...envelope, type: z.literal('aggregating'), step: z.string(), rows: z.number().int().nonnegative().optional() }),
  z.object({ ...envelope, type: z.literal('analysis_chunk'), text: z.string() }),
  z.object({ ...envelope, type: z.literal('analysis_complete'), text: z.string(), usage: usageSchema.optional() }),
  z.object({
    ...envelope,
    type: z.literal('error'),
    code: z.string().min(1),
    message: z.string().min(1),
    phase: phaseSchema,
    recoverable: z.boolean(),
    suggestion: z.string().optional(),
  }),
  z.object({
    ...envelope,
    type: z.literal('complete'),
    summary: z
      .object({
        sources: z.array(z.string()),
        rowCount: z.number().int().nonnegative(),
        elapsedMs: z.number().nonnegative(),
        truncated: z.boolean().optional(),
        query: z.string().optional(),
        usage: usageSchema.optional(),
      })
      .passthrough(),
  }),
]);

export type CenecaEvent = z.infer<typeof eventSchema>;
export type EventType = CenecaEvent['type'];
export type EventOf<T extends EventType> = Extract<CenecaEvent, { type: T }>;

type EnvelopeKey = 'v' | 'session' | 'id' | 'ts';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What the engine hands to a session log: an event without the envelope the log stamps on it. */
export type EventPayload = DistributiveOmit<CenecaEvent, EnvelopeKey>;

export type ErrorCode =
  | 'cancelled'
  | 'timeout'
  | 'idle_timeout'
  | 'invalid_question'
  | 'no_source'
  | 'plan_invalid'
  | 'operation_failed'
  | 'combine_failed'
  | 'source_unavailable'
  | 'schema_failed'
  | 'llm_failed'
  | 'llm_no_query'
  | 'validation_failed'
  | 'cost_refused'
  | 'execution_failed'
  | 'statement_timeout'
  | 'analysis_failed'
  | 'internal';

export function isTerminal(event: Pick<CenecaEvent, 'type'> & { recoverable?: boolean }): boolean {
  return event.type === 'complete' || (event.type === 'error' && event.recoverable === false);
}

export type EventValidation = { ok: true; event: CenecaEvent } | { ok: false; message: string };

/** Runtime validation for events crossing a trust boundary (webview messages, HTTP bodies, recorded streams). */
export function validateEvent(value: unknown): EventValidation {
  const result = eventSchema.safeParse(value);
  if (result.success) return { ok: true, event: result.data };
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  return { ok: false, message: `invalid event${where}: ${issue?.message ?? 'unknown problem'}` };
}
