/**
 * Recorded-style event streams in the engine's real shapes (src/core/events.ts), for the webview tests and the
 * bench: session → classifying → databases_selected → schema_loading → schema_chunks → partial_query × n →
 * query_complete → query_validated → execution_started → partial_results × n (columns first; a later batch may
 * add a column) → result_complete → analysis_chunk × n → analysis_complete → complete — or a fatal error.
 * Every stream is checked with findContractProblems before it is returned.
 */
import { findContractProblems } from '../../src/core/contract';
import type { Cell, CenecaEvent, EventPayload, ResultColumn } from '../../src/core/events';
import type { HostMessage } from '../../src/vscode/protocol';

export const DEFAULT_SQL = "SELECT o.id, c.name, o.total, o.shipped_at\nFROM orders o\nJOIN customers c ON c.id = o.customer_id\nWHERE o.total > 10.5 AND c.country = 'NL' -- big orders\nORDER BY o.total DESC\nLIMIT 100000";

export const DEFAULT_COLUMNS: ResultColumn[] = [
  { name: 'id', type: 'int4' },
  { name: 'name', type: 'text' },
  { name: 'total', type: 'numeric' },
  { name: 'shipped_at', type: 'timestamptz' },
];

export function defaultRow(i: number): Cell[] {
  return [i, `name ${i}`, Math.round(i * 150) / 100, i % 7 === 0 ? null : `2024-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z`];
}

export interface StreamOptions {
  session?: string;
  question?: string;
  source?: string;
  startTs?: number;
  sql?: string;
  sqlPieces?: number;
  columns?: ResultColumn[];
  rows?: number;
  batchSize?: number;
  row?: (i: number) => Cell[];
  /** From this row offset (a batch boundary) on, batches carry one more column and rows one more cell. */
  extraColumnAt?: number;
  extraColumn?: ResultColumn;
  truncated?: boolean;
  analysis?: string;
  analysisPieces?: number;
  /** Ends the stream with this fatal error instead of running past `at`. */
  fatal?: { at: 'generate' | 'execute'; code: string; message: string; suggestion?: string };
  /** The first generated query fails validation; the pipeline corrects it once. */
  selfCorrect?: boolean;
  usage?: boolean;
}

/** Splits `text` into `pieces` parts of near-equal size (keeps every character). */
export function splitText(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

export function makeStream(options: StreamOptions = {}): CenecaEvent[] {
  const session = options.session ?? 'sess-1';
  const source = options.source ?? 'shop';
  const sql = options.sql ?? DEFAULT_SQL;
  const rows = options.rows ?? 50;
  const batchSize = options.batchSize ?? 500;
  const row = options.row ?? defaultRow;
  const columns = options.columns ?? DEFAULT_COLUMNS;
  const extra = options.extraColumn ?? { name: 'region', type: 'text' };
  const analysis = options.analysis ?? 'The **biggest** orders come from a handful of customers:\n\n- one\n- two\n\n| customer | total |\n|---|---|\n| A | 10 |\n';
  const usage = options.usage ?? true;
  let ts = options.startTs ?? 1_700_000_000_000;
  const events: CenecaEvent[] = [];
  const emit = (payload: EventPayload): void => {
    ts += 3;
    events.push({ v: 1, session, id: events.length + 1, ts, ...payload } as CenecaEvent);
  };
  const progress = (step: number, etaMs?: number): void =>
    emit({ type: 'progress', step, total: 6, percentage: Math.round(((step - 1) / 6) * 100), ...(etaMs !== undefined ? { etaMs } : {}) });
  const generate = (query: string): void => {
    let text = '';
    for (const delta of splitText(query, options.sqlPieces ?? 6)) {
      text += delta;
      emit({ type: 'partial_query', source, language: 'sql', delta, text });
    }
    emit({ type: 'query_complete', source, language: 'sql', query, ...(usage ? { usage: { inputTokens: 1200, outputTokens: 80 } } : {}) });
  };

  emit({ type: 'classifying', message: 'choosing the data source for the question' });
  progress(1, 4000);
  emit({ type: 'databases_selected', databases: [{ id: source, kind: 'postgres', reason: 'the only configured source' }] });
  progress(2, 3500);
  for (const fraction of [0, 0.5, 1]) emit({ type: 'schema_loading', source, fraction });
  emit({
    type: 'schema_chunks',
    source,
    chunks: [
      { name: 'public.orders', kind: 'table', fields: [{ name: 'id', type: 'int4' }, { name: 'total', type: 'numeric' }], score: 0.92 },
      { name: 'public.customers', kind: 'table', fields: [{ name: 'id', type: 'int4' }, { name: 'name', type: 'text' }], score: 0.81 },
    ],
  });
  progress(3, 3000);
  if (options.selfCorrect) {
    generate('SELECT pg_terminate_backend(1)');
    progress(4, 2500);
    emit({ type: 'query_validated', source, ok: false, problems: ['calls pg_terminate_backend, which has side effects'] });
    emit({ type: 'error', code: 'validation_failed', message: 'calls pg_terminate_backend, which has side effects', phase: 'validate', recoverable: true });
    emit({ type: 'status', phase: 'generate', message: 'asking the model to correct the query' });
    progress(3, 2500);
  }
  if (options.fatal?.at === 'generate') {
    emit({ type: 'error', code: options.fatal.code, message: options.fatal.message, phase: 'generate', recoverable: false, ...(options.fatal.suggestion ? { suggestion: options.fatal.suggestion } : {}) });
    return checked(events);
  }
  generate(sql);
  progress(4, 2000);
  emit({ type: 'query_validated', source, ok: true, problems: [] });
  progress(5, 1500);
  emit({ type: 'execution_started', source });
  if (options.fatal?.at === 'execute') {
    emit({ type: 'error', code: options.fatal.code, message: options.fatal.message, phase: 'execute', recoverable: false, ...(options.fatal.suggestion ? { suggestion: options.fatal.suggestion } : {}) });
    return checked(events);
  }
  const resultId = `${session}-r1`;
  const extraAt = options.extraColumnAt;
  for (let offset = 0; offset < rows || offset === 0; offset += batchSize) {
    const count = Math.min(batchSize, rows - offset);
    const wide = extraAt !== undefined && offset >= extraAt;
    const batch: Cell[][] = new Array(count);
    for (let i = 0; i < count; i++) {
      const cells = row(offset + i);
      batch[i] = wide ? [...cells, `region ${offset + i}`] : cells;
    }
    const announce = offset === 0 || (extraAt !== undefined && offset === extraAt);
    emit({ type: 'partial_results', source, resultId, rows: batch, offset, ...(announce ? { columns: wide ? [...columns, extra] : columns } : {}) });
    if (rows === 0) break;
  }
  emit({ type: 'result_complete', source, resultId, rowCount: rows, truncated: options.truncated ?? false, elapsedMs: 420 });
  progress(6, 800);
  let text = '';
  for (const piece of splitText(analysis, options.analysisPieces ?? 5)) {
    text += piece;
    emit({ type: 'analysis_chunk', text: piece });
  }
  emit({ type: 'analysis_complete', text, ...(usage ? { usage: { inputTokens: 900, outputTokens: 150 } } : {}) });
  emit({
    type: 'complete',
    summary: { sources: [source], rowCount: rows, elapsedMs: 1234, truncated: options.truncated ?? false, query: sql, ...(usage ? { usage: { inputTokens: 2100, outputTokens: 230 } } : {}) },
  });
  return checked(events);
}

function checked(events: CenecaEvent[]): CenecaEvent[] {
  const problems = findContractProblems(events);
  if (problems.length) throw new Error(`the generated stream breaks the contract:\n  ${problems.slice(0, 10).join('\n  ')}`);
  return events;
}

/** Host `events` messages of at most `perMessage` events each, as the host coalesces them. */
export function eventMessages(events: readonly CenecaEvent[], perMessage = 10): HostMessage[] {
  const messages: HostMessage[] = [];
  for (let i = 0; i < events.length; i += perMessage) {
    const slice = events.slice(i, i + perMessage);
    messages.push({ kind: 'events', session: slice[0]!.session, events: slice });
  }
  return messages;
}

export function sessionMessage(events: readonly CenecaEvent[], question = 'Which orders were the biggest?'): HostMessage {
  return { kind: 'session', session: events[0]!.session, question, startedAt: events[0]!.ts - 5 };
}

/** Index of the first event of `type` (throws when absent, so a test cannot silently slice nothing). */
export function indexOfType(events: readonly CenecaEvent[], type: CenecaEvent['type'], from = 0): number {
  const index = events.findIndex((e, i) => i >= from && e.type === type);
  if (index < 0) throw new Error(`no ${type} event in the stream`);
  return index;
}
