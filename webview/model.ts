/**
 * What a view knows about one session, built by applying its events in id order (pure: no DOM). Both views use
 * it: the results view keeps rows (`keepRows`), the chat view only counts them. Sections carry revision numbers
 * so the renderer redraws only what changed in a frame.
 */
import type { Cell, CenecaEvent, EventOf, Phase, QueryLanguage, ResultColumn, SourceKind, TokenUsage } from '../src/core/events';

export const STEP_ORDER = ['classify', 'schema', 'plan', 'generate', 'validate', 'execute', 'aggregate', 'analyze'] as const;
export type StepId = (typeof STEP_ORDER)[number];
/** The steps every question shows; `plan` and `aggregate` join when a cross-database question sends them. */
export const BASE_STEPS: readonly StepId[] = ['classify', 'schema', 'generate', 'validate', 'execute', 'analyze'];
export const STEP_LABELS: Record<StepId, string> = {
  classify: 'Classify',
  schema: 'Schema',
  plan: 'Plan',
  generate: 'Generate',
  validate: 'Validate',
  execute: 'Execute',
  aggregate: 'Aggregate',
  analyze: 'Analyze',
};

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export interface StepModel {
  id: StepId;
  status: StepStatus;
  detail: string;
  /** Recoverable errors met in this step (the pipeline went on). */
  notices: string[];
}

export interface ResultModel {
  id: string;
  source: string;
  operationId?: string;
  columns: ResultColumn[];
  /** Rows from offset 0, contiguous, as arrays of cells (the arrays the messages brought: no per-row objects). */
  rows: Cell[][];
  /** Rows the session has sent for this result (offset + batch length, highest seen). */
  received: number;
  complete: boolean;
  rowCount?: number;
  truncated?: boolean;
  elapsedMs?: number;
  /** Rows past `rows.length` were dropped from the saved state and could not be replayed: they cannot be shown. */
  lostRows: boolean;
  /** Bumped on every change, for the table to redraw. */
  version: number;
}

export interface QueryModel {
  key: string;
  source: string;
  operationId?: string;
  language: QueryLanguage;
  text: string;
  final: boolean;
  ok?: boolean;
  problems: string[];
}

export interface ErrorInfo {
  code: string;
  message: string;
  phase: Phase;
  recoverable: boolean;
  suggestion?: string;
}

export type NoticeKind = 'resume-gap' | 'session-gone' | 'rows-lost';
export interface Notice {
  kind: NoticeKind;
  text: string;
}

export type SessionState = 'running' | 'complete' | 'failed' | 'cancelled' | 'interrupted';

export interface SessionModel {
  session: string;
  question: string;
  startedAt: number;
  /** The id of the last event applied: everything up to it is in this model, nothing after it. */
  lastId: number;
  keepRows: boolean;
  state: SessionState;
  status: string;
  steps: StepModel[];
  sources: Array<{ id: string; kind: SourceKind; reason: string }>;
  schema: Array<{ source: string; tables: Array<{ name: string; kind: string; fields: string[]; score: number }> }>;
  operations: Array<{ id: string; source: string; goal: string; status: 'pending' | 'running' | 'done' }>;
  queries: QueryModel[];
  results: ResultModel[];
  analysis: string;
  analysisDone: boolean;
  progress?: { step: number; total: number; percentage: number; etaMs?: number; receivedAt: number };
  errors: ErrorInfo[];
  fatal?: ErrorInfo;
  usage: { query?: TokenUsage; analysis?: TokenUsage; total?: TokenUsage };
  elapsedMs?: number;
  endedAt?: number;
  totalRows?: number;
  notices: Notice[];
  rev: Record<Section, number>;
}

export type Section = 'head' | 'steps' | 'sources' | 'queries' | 'results' | 'analysis' | 'errors' | 'notices';

export function newSession(session: string, question: string, startedAt: number, keepRows: boolean): SessionModel {
  return {
    session,
    question,
    startedAt,
    lastId: 0,
    keepRows,
    state: 'running',
    status: '',
    steps: BASE_STEPS.map((id) => ({ id, status: 'pending', detail: '', notices: [] })),
    sources: [],
    schema: [],
    operations: [],
    queries: [],
    results: [],
    analysis: '',
    analysisDone: false,
    errors: [],
    usage: {},
    notices: [],
    rev: { head: 0, steps: 0, sources: 0, queries: 0, results: 0, analysis: 0, errors: 0, notices: 0 },
  };
}

export function touch(model: SessionModel, ...sections: Section[]): void {
  for (const section of sections) model.rev[section]++;
}

export function addNotice(model: SessionModel, notice: Notice): void {
  if (!model.notices.some((n) => n.kind === notice.kind)) model.notices.push(notice);
  touch(model, 'notices');
}

const PHASE_STEP: Partial<Record<Phase, StepId>> = {
  classify: 'classify',
  schema: 'schema',
  plan: 'plan',
  generate: 'generate',
  validate: 'validate',
  execute: 'execute',
  aggregate: 'aggregate',
  analyze: 'analyze',
};

export function stepOfPhase(phase: Phase): StepId | undefined {
  return PHASE_STEP[phase];
}

export function isRunning(model: SessionModel): boolean {
  return model.state === 'running';
}

/** Applies one event (the caller has checked the id sequence). */
export function applyEvent(model: SessionModel, event: CenecaEvent, now: number): void {
  if (event.progress) setProgress(model, event.progress, undefined, now);
  const regress = event.operationId === undefined;
  switch (event.type) {
    case 'status': {
      model.status = event.message;
      const step = stepOfPhase(event.phase);
      if (step) enterStep(model, step, 'running', event.message, regress);
      touch(model, 'head');
      break;
    }
    case 'progress':
      setProgress(model, event, event.etaMs, now);
      break;
    case 'classifying':
      model.status = event.message;
      enterStep(model, 'classify', 'running', event.message, regress);
      touch(model, 'head');
      break;
    case 'databases_selected':
      model.sources = event.databases.map((d) => ({ id: d.id, kind: d.kind, reason: d.reason }));
      enterStep(model, 'classify', 'done', event.databases.map((d) => d.id).join(', '), regress);
      touch(model, 'sources');
      break;
    case 'schema_loading':
      enterStep(model, 'schema', 'running', `${event.source}: loading ${Math.round(event.fraction * 100)}%`, regress);
      break;
    case 'schema_chunks': {
      const tables = event.chunks.map((c) => ({ name: c.name, kind: c.kind, fields: c.fields.map((f) => f.name), score: c.score }));
      const existing = model.schema.find((s) => s.source === event.source);
      if (existing) existing.tables = tables;
      else model.schema.push({ source: event.source, tables });
      const count = model.schema.reduce((n, s) => n + s.tables.length, 0);
      enterStep(model, 'schema', 'running', `${count} ${count === 1 ? 'table' : 'tables'} found`, regress);
      touch(model, 'sources');
      break;
    }
    case 'planning':
      model.status = event.step;
      enterStep(model, 'plan', 'running', event.step, regress);
      touch(model, 'head');
      break;
    case 'plan':
      model.operations = event.operations.map((op) => ({
        id: op.id,
        source: op.source,
        goal: op.goal,
        status: model.operations.find((o) => o.id === op.id)?.status ?? 'pending',
      }));
      enterStep(model, 'plan', event.final ? 'done' : 'running', `${event.operations.length} operations`, regress);
      touch(model, 'sources');
      break;
    case 'plan_validated':
      enterStep(model, 'plan', 'done', `${event.operationCount} operations`, regress);
      break;
    case 'operation_started':
    case 'operation_completed': {
      const op = model.operations.find((o) => o.id === event.operationId);
      if (op) op.status = event.type === 'operation_started' ? 'running' : 'done';
      touch(model, 'sources');
      break;
    }
    case 'partial_query': {
      const query = queryFor(model, event);
      query.text = event.text;
      query.language = event.language;
      query.final = false;
      query.ok = undefined;
      query.problems = [];
      enterStep(model, 'generate', 'running', 'writing the query', regress);
      touch(model, 'queries');
      break;
    }
    case 'query_complete': {
      const query = queryFor(model, event);
      query.text = event.query;
      query.language = event.language;
      query.final = true;
      if (event.usage) model.usage.query = addUsage(model.usage.query, event.usage);
      enterStep(model, 'generate', 'done', 'query ready', regress);
      touch(model, 'queries', 'head');
      break;
    }
    case 'query_validated': {
      const query = queryFor(model, event);
      query.ok = event.ok;
      query.problems = event.problems;
      enterStep(model, 'validate', event.ok ? 'done' : 'failed', event.ok ? 'read-only, allowed' : event.problems.join('; '), regress);
      touch(model, 'queries');
      break;
    }
    case 'execution_started':
      enterStep(model, 'execute', 'running', `running on ${event.source}`, regress);
      break;
    case 'partial_results':
      applyRows(model, event);
      enterStep(model, 'execute', 'running', `${rowsText(model)} so far`, regress && !model.steps.some((s) => s.id === 'aggregate' && s.status === 'running'));
      touch(model, 'results', 'head');
      break;
    case 'result_complete': {
      const result = resultFor(model, event.resultId, event.source, event.operationId);
      result.complete = true;
      result.rowCount = event.rowCount;
      result.truncated = event.truncated;
      result.elapsedMs = event.elapsedMs;
      result.received = Math.max(result.received, event.rowCount);
      result.version++;
      enterStep(model, 'execute', 'done', `${rowsText(model)} in ${Math.round(event.elapsedMs)} ms`, regress);
      touch(model, 'results', 'head');
      break;
    }
    case 'aggregating':
      model.status = event.step;
      enterStep(model, 'aggregate', 'running', event.rows !== undefined ? `${event.step} (${event.rows} rows)` : event.step, regress);
      touch(model, 'head');
      break;
    case 'analysis_chunk':
      model.analysis += event.text;
      enterStep(model, 'analyze', 'running', 'writing the analysis', regress);
      touch(model, 'analysis');
      break;
    case 'analysis_complete':
      if (event.text) model.analysis = event.text;
      model.analysisDone = true;
      if (event.usage) model.usage.analysis = addUsage(model.usage.analysis, event.usage);
      enterStep(model, 'analyze', 'done', 'analysis ready', regress);
      touch(model, 'analysis', 'head');
      break;
    case 'error':
      applyError(model, event);
      break;
    case 'complete': {
      const summary = event.summary;
      model.state = 'complete';
      model.elapsedMs = summary.elapsedMs;
      model.endedAt = event.ts;
      model.totalRows = summary.rowCount;
      if (summary.usage) model.usage.total = summary.usage;
      model.status = 'done';
      for (const step of model.steps) {
        if (step.status === 'running') step.status = 'done';
        else if (step.status === 'pending') step.status = 'skipped';
      }
      if (model.progress) model.progress = { ...model.progress, percentage: 100, etaMs: undefined };
      touch(model, 'head', 'steps');
      break;
    }
  }
}

function setProgress(model: SessionModel, p: { step: number; total: number; percentage: number }, etaMs: number | undefined, now: number): void {
  model.progress = { step: p.step, total: p.total, percentage: p.percentage, receivedAt: now, ...(etaMs !== undefined ? { etaMs } : {}) };
  touch(model, 'head');
}

function applyError(model: SessionModel, event: EventOf<'error'>): void {
  const info: ErrorInfo = {
    code: event.code,
    message: event.message,
    phase: event.phase,
    recoverable: event.recoverable,
    ...(event.suggestion !== undefined ? { suggestion: event.suggestion } : {}),
  };
  const stepId = stepOfPhase(event.phase);
  if (event.recoverable) {
    model.errors.push(info);
    if (stepId) {
      const step = model.steps[ensureStep(model, stepId)]!;
      step.notices.push(event.suggestion ? `${event.message} — ${event.suggestion}` : event.message);
    }
    touch(model, 'errors', 'steps');
    return;
  }
  model.fatal = info;
  model.state = event.code === 'cancelled' ? 'cancelled' : 'failed';
  model.endedAt = event.ts;
  model.elapsedMs = Math.max(0, event.ts - model.startedAt);
  model.status = event.code === 'cancelled' ? 'cancelled' : 'failed';
  const failed = stepId ?? model.steps.find((s) => s.status === 'running')?.id;
  for (const step of model.steps) {
    if (step.id === failed) {
      step.status = 'failed';
      step.detail = event.code === 'cancelled' ? 'cancelled' : event.message;
    } else if (step.status === 'running' || step.status === 'pending') {
      step.status = step.status === 'running' ? 'failed' : 'skipped';
    }
  }
  touch(model, 'errors', 'steps', 'head');
}

function ensureStep(model: SessionModel, id: StepId): number {
  const index = model.steps.findIndex((s) => s.id === id);
  if (index >= 0) return index;
  const order = STEP_ORDER.indexOf(id);
  let at = model.steps.findIndex((s) => STEP_ORDER.indexOf(s.id) > order);
  if (at < 0) at = model.steps.length;
  model.steps.splice(at, 0, { id, status: 'pending', detail: '', notices: [] });
  return at;
}

/**
 * Moves the step list: earlier steps that were running are done (never-run ones skipped); with `regress` (events
 * of a single pipeline, not of parallel cross-database operations) a step entered again — the self-correction
 * loop going back from validate to generate — returns the later steps to pending.
 */
function enterStep(model: SessionModel, id: StepId, status: StepStatus, detail: string | undefined, regress: boolean): void {
  const index = ensureStep(model, id);
  for (let i = 0; i < index; i++) {
    const step = model.steps[i]!;
    if (step.status === 'running') step.status = 'done';
    else if (step.status === 'pending') step.status = 'skipped';
  }
  if (regress) {
    for (let i = index + 1; i < model.steps.length; i++) {
      const step = model.steps[i]!;
      if (step.status !== 'pending') {
        step.status = 'pending';
        step.detail = '';
      }
    }
  }
  const step = model.steps[index]!;
  step.status = status;
  if (detail !== undefined) step.detail = detail;
  touch(model, 'steps');
}

function queryFor(model: SessionModel, event: { source: string; operationId?: string; language?: QueryLanguage }): QueryModel {
  const key = event.operationId ?? event.source;
  let query = model.queries.find((q) => q.key === key);
  if (!query) {
    query = {
      key,
      source: event.source,
      language: event.language ?? 'sql',
      text: '',
      final: false,
      problems: [],
      ...(event.operationId !== undefined ? { operationId: event.operationId } : {}),
    };
    model.queries.push(query);
  }
  return query;
}

export function resultFor(model: SessionModel, id: string, source: string, operationId?: string): ResultModel {
  let result = model.results.find((r) => r.id === id);
  if (!result) {
    result = { id, source, columns: [], rows: [], received: 0, complete: false, lostRows: false, version: 0, ...(operationId !== undefined ? { operationId } : {}) };
    model.results.push(result);
  }
  return result;
}

/** The hot path: appends a batch's row arrays as they are (no copy per row). */
function applyRows(model: SessionModel, event: EventOf<'partial_results'>): void {
  const result = resultFor(model, event.resultId, event.source, event.operationId);
  if (event.columns && event.columns.length >= result.columns.length) result.columns = event.columns;
  const batch = event.rows;
  const end = event.offset + batch.length;
  if (model.keepRows && !result.lostRows) {
    const rows = result.rows;
    if (event.offset === rows.length) {
      for (let i = 0; i < batch.length; i++) rows.push(batch[i]!);
    } else if (event.offset < rows.length) {
      // A batch over rows already held (it should not happen: ids are checked first): overwrite, never duplicate.
      for (let i = 0; i < batch.length; i++) rows[event.offset + i] = batch[i]!;
    } else {
      // Rows before this batch were not kept (saved state held only the first rows): do not show a gap as if contiguous.
      result.lostRows = true;
    }
  }
  result.received = Math.max(result.received, end);
  result.version++;
}

function rowsText(model: SessionModel): string {
  const total = model.results.reduce((n, r) => n + r.received, 0);
  return `${total.toLocaleString('en-US')} ${total === 1 ? 'row' : 'rows'}`;
}

function addUsage(a: TokenUsage | undefined, b: TokenUsage): TokenUsage {
  return { inputTokens: (a?.inputTokens ?? 0) + b.inputTokens, outputTokens: (a?.outputTokens ?? 0) + b.outputTokens };
}

/** Token usage to show: the summary's total when the session completed, else the parts seen so far. */
export function usageOf(model: SessionModel): TokenUsage | undefined {
  if (model.usage.total) return model.usage.total;
  const parts = [model.usage.query, model.usage.analysis].filter((u): u is TokenUsage => u !== undefined);
  return parts.length ? parts.reduce((a, b) => addUsage(a, b)) : undefined;
}
