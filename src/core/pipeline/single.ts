/**
 * The single-database pipeline (DESIGN §2, steps 1–7): classify → schema → generate (streamed) → validate →
 * execute (streamed rows) → analyse (streamed), with one self-correction round for a query the validator or
 * the database rejects. The session writes the terminal event from what this returns or throws.
 */
import type { Cell, Phase, ResultColumn, TokenUsage } from '../events';
import { streamCompletion } from '../llm/complete';
import { analyzePrompt } from '../llm/prompts/analyze';
import { correctionPrompt } from '../llm/prompts/nl2sql';
import { LlmError, type ChatMessage, type CompletionRequest, type LlmProvider } from '../llm/provider';
import { PipelineError, type CompleteSummary, type Session } from '../session/session';
import { sessionScope, type RunScope } from './scope';
import type { RankedTable } from '../schema/types';
import { QueryExecutionError, SourceFailureError, StatementTimeoutError, type DataSource, type RowBatch } from '../sources/source';
import type { BindResult, BoundRun, QueryBinding } from './binding';
import { buildCatalogue, classificationPrompt, lexicalChoice, readClassification, type SourceChoice } from './classify';

export interface EngineSettings {
  /** Row cap for one result. */
  maxRows: number;
  analysis: boolean;
  /** How many result rows the analysis prompt may see (the user's choice of what reaches the model; 0 = none). */
  analysisRows: number;
  /** Whether the most common values of low-cardinality columns go into the generation prompt with the schema. */
  sampleValues: boolean;
  /** Tables retrieved per question. */
  schemaTables: number;
  /** EXPLAIN cost above which the user is warned, and above which the query is refused. */
  softCostLimit: number;
  hardCostLimit: number;
}

export const defaultEngineSettings: EngineSettings = {
  maxRows: 1000,
  analysis: true,
  analysisRows: 50,
  sampleValues: true,
  schemaTables: 8,
  softCostLimit: 1e6,
  hardCostLimit: 1e9,
};

export interface QuestionRequest {
  question: string;
  /** Restrict to these source ids. */
  sources?: string[];
  maxRows?: number;
  analysis?: boolean;
  /** Earlier turns, for a follow-up question. */
  history?: ChatMessage[];
  /** Answer with a cross-database plan even when classification picks one source (`ceneca ask --cross`). */
  cross?: boolean;
}

export interface EngineContext {
  sources: readonly DataSource[];
  llm: LlmProvider;
  settings: EngineSettings;
}

export const MAX_QUESTION_LENGTH = 4000;
/** Row batches the slowest live subscriber may fall behind before the cursor pauses. */
const MAX_SUBSCRIBER_LAG = 8;
/** How often a long result reports its progress and ETA while rows stream. */
const ROW_PROGRESS_INTERVAL_MS = 500;
const STEPS: Phase[] = ['classify', 'schema', 'generate', 'validate', 'execute', 'analyze'];

/** The single-source answer, once classification chose one source. */
export async function answerFromSource(run: QuestionRun, context: EngineContext, request: QuestionRequest, question: string, source: DataSource, started: number): Promise<CompleteSummary> {
  const tables = await run.loadSchema(source, question);
  const result = await run.generateAndExecute(source, question, tables);
  if (request.analysis ?? context.settings.analysis) await run.analyse(question, result);
  return {
    sources: [source.id],
    rowCount: result.rowCount,
    elapsedMs: Date.now() - started,
    truncated: result.truncated,
    query: result.query,
    ...(run.usage ? { usage: run.usage } : {}),
  };
}

/** Only the classification step: which sources the question needs, and why (`ceneca ask --classify-only`, `POST /classify`). */
export async function classifyQuestion(session: Session, context: EngineContext, request: QuestionRequest): Promise<CompleteSummary> {
  const started = Date.now();
  const run = new QuestionRun(sessionScope(session), context, request);
  const choices = await run.chooseSources(checkQuestion(request.question));
  return { sources: choices.map((c) => c.source.id), rowCount: 0, elapsedMs: Date.now() - started };
}

export interface UserQueryRequest {
  /** SQL (or a source's query language) written by the user, not the model. */
  query: string;
  /** The source to run it on; required when several are configured. */
  source?: string;
  maxRows?: number;
  analysis?: boolean;
}

/**
 * Runs a query the user wrote: the same read-only validation, cost guard and streamed execution as a generated
 * one, but no model call to write it and no self-correction (the user's query is theirs to fix).
 */
export async function runUserQuery(session: Session, context: EngineContext, request: UserQueryRequest): Promise<CompleteSummary> {
  const started = Date.now();
  const query = request.query.trim();
  const run = new QuestionRun(sessionScope(session), context, { question: query, sources: request.source ? [request.source] : undefined, maxRows: request.maxRows, analysis: request.analysis });
  if (!query) throw new PipelineError('invalid_question', 'the query is empty', 'validate', 'select a SQL statement, or put the cursor inside one');
  const source = run.sourceForUserQuery();
  session.emit({ type: 'query_complete', source: source.id, language: source.language, query });
  const outcome = await run.validateAndExecute(source, query);
  if (!outcome.ok) throw new PipelineError(outcome.code, outcome.problem, outcome.phase, 'fix the query and run it again');
  if (request.analysis ?? false) await run.analyse(`What does the result of this query show?\n${query}`, outcome.result);
  return { sources: [source.id], rowCount: outcome.result.rowCount, elapsedMs: Date.now() - started, truncated: outcome.result.truncated, query: outcome.result.query, ...(run.usage ? { usage: run.usage } : {}) };
}

export function checkQuestion(raw: unknown): string {
  const question = typeof raw === 'string' ? raw.trim() : '';
  if (!question) {
    throw new PipelineError('invalid_question', 'the question is empty', 'classify', 'type a question about your data, e.g. "top 10 customers by revenue"');
  }
  if (question.length > MAX_QUESTION_LENGTH) {
    throw new PipelineError(
      'invalid_question',
      `the question is ${question.length} characters long; the limit is ${MAX_QUESTION_LENGTH}`,
      'classify',
      'shorten the question; put long context in a follow-up',
    );
  }
  return question;
}

export interface ExecutedResult {
  query: string;
  columns: ResultColumn[];
  /** The first rows, kept for the analysis prompt. */
  sample: Cell[][];
  /** Every row, when the run was asked to keep them (an operation of a plan, for the combine step). */
  rows?: Cell[][];
  rowCount: number;
  truncated: boolean;
}

/** What an operation of a cross-database plan adds to a run: upstream values, and keeping the rows. */
export interface OperationExtras {
  binding: QueryBinding;
  keepRows: boolean;
  /** A row cap of its own. */
  maxRows: number;
}

/** A validated query, ready to run (with its bound parameters, or the `$each` value it stands for). */
type ValidRun = BoundRun & { query: string };

type Attempt = { ok: true; result: ExecutedResult } | { ok: false; phase: Phase; code: 'validation_failed' | 'execution_failed'; problem: string };

/** One question's (or one plan operation's) run through the pipeline's steps, writing its events to a scope. */
export class QuestionRun {
  usage?: TokenUsage;
  /** The planner's row estimate for the query about to run, when the source gave one. */
  private estimatedRows?: number;
  private resultCounter = 0;
  private extras?: OperationExtras;

  constructor(
    private readonly scope: RunScope,
    private readonly context: EngineContext,
    private readonly request: QuestionRequest,
  ) {}

  private get signal(): AbortSignal {
    return this.scope.signal;
  }

  private enter(phase: Phase): void {
    this.scope.phase = phase;
    if (!this.scope.reportsProgress) return;
    const step = STEPS.indexOf(phase) + 1;
    this.scope.emit({ type: 'progress', step, total: STEPS.length, percentage: Math.round(((step - 1) / STEPS.length) * 100) });
  }

  /** Classifying → databases_selected: the sources the question needs, each with the reason. */
  async chooseSources(question: string): Promise<SourceChoice[]> {
    this.scope.emit({ type: 'classifying', message: 'choosing the data source for the question' });
    this.enter('classify');
    const candidates = this.candidateSources();
    let choices: SourceChoice[];
    if (candidates.length === 1) {
      const reason = this.request.sources?.length ? 'chosen by the request' : 'the only configured source';
      choices = [{ source: candidates[0]!, reason }];
    } else {
      choices = await this.classifyWithModel(question, candidates);
    }
    this.scope.emit({ type: 'databases_selected', databases: choices.map(({ source, reason }) => ({ id: source.id, kind: source.kind, reason })) });
    return choices;
  }

  sourceForUserQuery(): DataSource {
    this.enter('classify');
    const candidates = this.candidateSources();
    if (candidates.length > 1) {
      throw new PipelineError('no_source', 'several sources are configured: say which one runs the query', 'classify', `choose one of: ${candidates.map((s) => s.id).join(', ')}`);
    }
    const source = candidates[0]!;
    this.scope.emit({ type: 'databases_selected', databases: [{ id: source.id, kind: source.kind, reason: 'chosen by the user' }] });
    return source;
  }

  private candidateSources(): readonly DataSource[] {
    const { sources } = this.context;
    if (sources.length === 0) {
      throw new PipelineError('no_source', 'no data source is configured', 'classify', 'add a connection (CENECA_PG_URL or ceneca.config.json)');
    }
    const wanted = this.request.sources;
    if (!wanted?.length) return sources;
    const unknown = wanted.filter((id) => !sources.some((s) => s.id === id));
    if (unknown.length > 0) {
      throw new PipelineError('no_source', `unknown source id(s): ${unknown.join(', ')}`, 'classify', `configured sources: ${sources.map((s) => s.id).join(', ')}`);
    }
    return sources.filter((s) => wanted.includes(s.id));
  }

  /** The model picks from a lexically pre-ranked catalogue; an unreadable answer is asked for once more. */
  private async classifyWithModel(question: string, candidates: readonly DataSource[]): Promise<SourceChoice[]> {
    const catalogue = await buildCatalogue(question, candidates, this.signal);
    let prompt = classificationPrompt(question, catalogue);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const reply = await this.complete(prompt, 'classify');
      const picks = readClassification(reply.text, catalogue);
      if (picks.length > 0) return picks;
      if (attempt === 1) {
        this.scope.emit({ type: 'status', phase: 'classify', message: 'the model did not name a configured source; asking again' });
        prompt = {
          ...prompt,
          messages: [
            ...prompt.messages,
            { role: 'assistant', content: reply.text || '(an empty reply)' },
            { role: 'user', content: `That reply did not name any of the listed source ids (${catalogue.map((e) => e.source.id).join(', ')}). Reply with the JSON only.` },
          ],
        };
      }
    }
    const fallback = lexicalChoice(catalogue);
    const configured = candidates.map((s) => s.id).join(', ');
    if (!fallback) {
      throw new PipelineError('llm_failed', 'the model twice failed to name a configured source for this question', 'classify', `name the data in the question, or choose a source with --source (${configured})`);
    }
    this.scope.emit({
      type: 'error',
      code: 'llm_failed',
      message: `the model twice failed to name a configured source; using ${fallback.source.id}, whose schema matches the question best`,
      phase: 'classify',
      recoverable: true,
      suggestion: `choose a source with --source if this is the wrong one (${configured})`,
    });
    return [fallback];
  }

  async loadSchema(source: DataSource, question: string): Promise<RankedTable[]> {
    this.enter('schema');
    let lastFraction = -1;
    const onProgress = (fraction: number): void => {
      const rounded = Math.round(Math.min(1, Math.max(0, fraction)) * 100) / 100;
      if (rounded <= lastFraction) return;
      lastFraction = rounded;
      this.scope.emit({ type: 'schema_loading', source: source.id, fraction: rounded });
    };
    let snapshot;
    try {
      snapshot = await source.introspect({ signal: this.signal, onProgress });
    } catch (error) {
      if (this.signal.aborted) throw error;
      throw new PipelineError('source_unavailable', errorText(error), 'schema', `check the connection settings of "${source.id}" and that the database is reachable`);
    }
    onProgress(1);
    await this.warnAboutPrivileges(source);
    const ranked = source.searchSchema(snapshot, question, this.context.settings.schemaTables);
    this.scope.emit({
      type: 'schema_chunks',
      source: source.id,
      chunks: ranked.map(({ table, score, relevantColumns }) => ({
        name: table.qualifiedName,
        kind: table.kind,
        fields: relevantColumns.map((c) => ({ name: c.name, type: c.type, ...(c.comment ? { note: c.comment } : {}) })),
        score: Math.min(1, Math.max(0, score)),
      })),
    });
    return ranked;
  }

  /** Says once per question when the connection's role could do more than read (a failed check is not an error). */
  private async warnAboutPrivileges(source: DataSource): Promise<void> {
    const warning = await source.privilegeWarning?.(this.signal).catch(() => undefined);
    if (warning) this.scope.emit({ type: 'status', phase: 'schema', message: `warning: ${warning}` });
  }

  async generateAndExecute(source: DataSource, question: string, tables: RankedTable[], extras?: OperationExtras): Promise<ExecutedResult> {
    this.extras = extras;
    const maxRows = this.rowCap();
    let prompt = source.generationPrompt({ question, tables, maxRows, includeSampleValues: this.context.settings.sampleValues, history: this.request.history });
    if (extras && !extras.binding.empty) prompt = appendToLastMessage(prompt, extras.binding.promptSection());
    for (let attempt = 1; ; attempt++) {
      const { reply, query } = await this.generate(source, prompt);
      const outcome = await this.validateAndExecute(source, query);
      if (outcome.ok) return outcome.result;
      if (attempt >= 2) {
        throw new PipelineError(outcome.code, `the corrected query failed too: ${outcome.problem}`, outcome.phase, 'rephrase the question, or name the tables and columns you mean');
      }
      this.scope.emit({ type: 'error', code: outcome.code, message: outcome.problem, phase: outcome.phase, recoverable: true });
      this.scope.emit({ type: 'status', phase: 'generate', message: 'asking the model to correct the query' });
      prompt = correctionPrompt(prompt, reply, outcome.problem);
    }
  }

  /** The row cap of this run: an operation's own, the request's, or the settings'. */
  rowCap(): number {
    if (this.extras) return this.extras.maxRows;
    const requested = this.request.maxRows;
    return requested !== undefined && Number.isInteger(requested) && requested > 0 ? requested : this.context.settings.maxRows;
  }

  private async generate(source: DataSource, prompt: CompletionRequest): Promise<{ reply: string; query: string }> {
    this.enter('generate');
    const extractor = source.createExtractor();
    let shown = '';
    const reply = await this.complete(prompt, 'generate', (delta) => {
      const fresh = extractor.push(delta);
      if (!fresh) return;
      shown += fresh;
      this.scope.emit({ type: 'partial_query', source: source.id, language: source.language, delta: fresh, text: shown });
    });
    const query = extractor.finish();
    if (!query) {
      const said = reply.text.trim().slice(0, 300) || '(an empty reply)';
      throw new PipelineError('llm_no_query', `the model's reply contained no query: ${said}`, 'generate', 'rephrase the question so it asks for data from the database');
    }
    this.scope.emit({ type: 'query_complete', source: source.id, language: source.language, query, ...(reply.usage ? { usage: reply.usage } : {}) });
    return { reply: reply.text, query };
  }

  async validateAndExecute(source: DataSource, generated: string): Promise<Attempt> {
    this.enter('validate');
    const bound: BindResult = this.extras ? await this.extras.binding.bind(generated) : { ok: true, runs: [{ query: generated }], notes: [] };
    if (!bound.ok) {
      this.scope.emit({ type: 'query_validated', source: source.id, ok: false, problems: [bound.problem] });
      return { ok: false, phase: 'validate', code: 'validation_failed', problem: bound.problem };
    }
    const runs: ValidRun[] = [];
    const problems: string[] = [];
    for (const run of bound.runs) {
      const validation = await this.checked(() => source.validate(run.query));
      if (!validation.ok || !validation.query) {
        problems.push(...(validation.problems.length > 0 ? validation.problems : ['the query is not allowed']));
        break;
      }
      runs.push({ ...run, query: validation.query });
    }
    this.scope.emit({ type: 'query_validated', source: source.id, ok: problems.length === 0, problems });
    if (problems.length > 0) return { ok: false, phase: 'validate', code: 'validation_failed', problem: problems.join('; ') };
    for (const note of bound.notes) this.scope.emit({ type: 'status', phase: 'validate', message: note });
    try {
      for (const run of runs) await this.checkCost(source, run.query, run.params);
      return { ok: true, result: await this.execute(source, runs) };
    } catch (error) {
      if (error instanceof QueryExecutionError && error.correctable && !this.signal.aborted) {
        return { ok: false, phase: 'execute', code: 'execution_failed', problem: `the database rejected the query: ${error.message}` };
      }
      throw this.executionFailure(error);
    }
  }

  /** A source that cannot check a query (its catalog is unreachable) ends the question with the source's own words. */
  private async checked<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof SourceFailureError && !this.signal.aborted) throw new PipelineError(error.code, error.message, 'validate', error.suggestion);
      throw error;
    }
  }

  private async checkCost(source: DataSource, query: string, params?: readonly unknown[]): Promise<void> {
    if (!source.estimateCost) return;
    const { softCostLimit, hardCostLimit } = this.context.settings;
    const estimate = await source.estimateCost(query, this.signal, params);
    if (!estimate) return;
    this.estimatedRows = estimate.estimatedRows;
    const described = `estimated cost ${Math.round(estimate.cost).toLocaleString('en-US')} (about ${Math.round(estimate.estimatedRows).toLocaleString('en-US')} rows)`;
    if (estimate.cost > hardCostLimit) {
      throw new PipelineError('cost_refused', `the query looks too expensive to run: ${described}, above the limit of ${hardCostLimit.toLocaleString('en-US')}`, 'validate', 'narrow the question (a date range, a filter, a LIMIT), or raise the hard cost limit in the settings');
    }
    if (estimate.cost > softCostLimit) {
      this.scope.emit({ type: 'status', phase: 'validate', message: `this query may be slow: ${described}` });
    }
  }

  private async execute(source: DataSource, runs: readonly ValidRun[]): Promise<ExecutedResult> {
    this.enter('execute');
    const started = Date.now();
    const cap = this.rowCap();
    const resultId = `${this.scope.operationId ?? source.id}:${++this.resultCounter}`;
    const sampleLimit = this.context.settings.analysisRows;
    const kept: Cell[][] | undefined = this.extras?.keepRows ? [] : undefined;
    this.scope.emit({ type: 'execution_started', source: source.id });
    let columns: ResultColumn[] = [];
    const sample: Cell[][] = [];
    let rowCount = 0;
    let truncated = false;
    let lastProgressAt = started;
    const onStatus = (message: string): void => {
      this.scope.emit({ type: 'status', phase: 'execute', message });
    };
    // Several runs (one per `$each` value) share one result: their columns are merged and the value is a column.
    const merger = runs.length === 1 && !runs[0]!.input ? undefined : new ColumnMerger();
    for (const run of runs) {
      if (truncated) break;
      merger?.startRun(run.input);
      // One row past the cap tells whether the result was cut.
      for await (const raw of source.execute(run.query, { maxRows: cap + 1 - rowCount, signal: this.signal, onStatus, ...(run.params ? { params: run.params } : {}) })) {
        const batch = merger ? merger.shape(raw) : raw;
        let rows = batch.rows;
        if (rowCount + rows.length > cap) {
          truncated = true;
          rows = rows.slice(0, cap - rowCount);
        }
        if (batch.columns) columns = batch.columns;
        if (sample.length < sampleLimit) sample.push(...rows.slice(0, sampleLimit - sample.length));
        if (kept) for (const row of rows) kept.push(row);
        if (rows.length > 0 || batch.columns) {
          this.scope.emit({ type: 'partial_results', source: source.id, resultId, ...(batch.columns ? { columns: batch.columns } : {}), rows, offset: rowCount });
        }
        rowCount += rows.length;
        if (Date.now() - lastProgressAt >= ROW_PROGRESS_INTERVAL_MS) {
          lastProgressAt = Date.now();
          this.reportRowProgress(rowCount, cap, started);
        }
        // Backpressure: the cursor reads on only when the slowest reader has caught up.
        await this.scope.waitForRoom(MAX_SUBSCRIBER_LAG, this.signal);
        if (truncated) break;
      }
    }
    const query = runs.length === 1 ? runs[0]!.query : runs.map((r) => r.query).join('\n');
    this.scope.emit({ type: 'result_complete', source: source.id, resultId, rowCount, truncated, elapsedMs: Date.now() - started });
    return { query, columns, sample, ...(kept ? { rows: kept } : {}), rowCount, truncated };
  }

  /** Progress through the execute step, with an ETA from the planner's row estimate (capped by the row cap). */
  private reportRowProgress(rowCount: number, cap: number, started: number): void {
    if (!this.scope.reportsProgress) return;
    const expected = Math.min(cap, this.estimatedRows ?? 0);
    if (expected <= 0) return;
    const fraction = Math.min(0.99, rowCount / expected);
    const elapsed = Date.now() - started;
    const step = STEPS.indexOf('execute') + 1;
    this.scope.emit({
      type: 'progress',
      step,
      total: STEPS.length,
      percentage: Math.round(((step - 1 + fraction) / STEPS.length) * 100),
      ...(fraction > 0 ? { etaMs: Math.round((elapsed * (1 - fraction)) / fraction) } : {}),
    });
  }

  private executionFailure(error: unknown): unknown {
    if (this.signal.aborted || error instanceof PipelineError) return error;
    if (error instanceof StatementTimeoutError) {
      return new PipelineError('statement_timeout', error.message, 'execute', 'add filters or a date range to the question, or raise the statement timeout in the settings');
    }
    if (error instanceof SourceFailureError) return new PipelineError(error.code, error.message, 'execute', error.suggestion);
    if (error instanceof QueryExecutionError) return new PipelineError('execution_failed', `the database rejected the query: ${error.message}`, 'execute');
    return new PipelineError('source_unavailable', errorText(error), 'execute', 'check that the database is reachable');
  }

  async analyse(question: string, result: ExecutedResult): Promise<void> {
    await this.streamAnalysis(
      analyzePrompt({
        question,
        query: result.query,
        columns: result.columns.map((c) => c.name),
        rows: result.sample,
        rowCount: result.rowCount,
        truncated: result.truncated,
      }),
    );
  }

  /** Streams an analysis; a failed one is a recoverable error (the rows are already delivered). */
  async streamAnalysis(prompt: CompletionRequest): Promise<void> {
    this.enter('analyze');
    try {
      const reply = await this.complete(prompt, 'analyze', (delta) => this.scope.emit({ type: 'analysis_chunk', text: delta }));
      this.scope.emit({ type: 'analysis_complete', text: reply.text, ...(reply.usage ? { usage: reply.usage } : {}) });
    } catch (error) {
      if (this.signal.aborted) throw error;
      this.scope.emit({ type: 'error', code: 'analysis_failed', message: errorText(error), phase: 'analyze', recoverable: true, suggestion: 'the result above is complete; ask again for an analysis' });
    }
  }

  /** Every model call of the pipeline goes through here: streaming, retries before the first token, usage. */
  async complete(prompt: CompletionRequest, phase: Phase, onText?: (delta: string) => void): Promise<{ text: string; usage?: TokenUsage }> {
    try {
      const result = await streamCompletion(this.context.llm, prompt, this.signal, {
        onText,
        onRetry: (attempt, delayMs, error) =>
          this.scope.emit({ type: 'status', phase, message: `the model is unavailable (${error.message}); retry ${attempt} in ${Math.round(delayMs / 100) / 10} s` }),
      });
      if (result.usage) this.addUsage(result.usage);
      return result;
    } catch (error) {
      if (this.signal.aborted) throw error;
      if (phase === 'analyze') throw error;
      const message = error instanceof LlmError ? error.message : errorText(error);
      throw new PipelineError('llm_failed', message, phase, `check the model settings (${this.context.llm.name}, model ${this.context.llm.model}) and that the model server is reachable`);
    }
  }

  private addUsage(usage: TokenUsage): void {
    this.usage = { inputTokens: (this.usage?.inputTokens ?? 0) + usage.inputTokens, outputTokens: (this.usage?.outputTokens ?? 0) + usage.outputTokens };
  }
}

function appendToLastMessage(prompt: CompletionRequest, text: string): CompletionRequest {
  const messages = [...prompt.messages];
  const last = messages[messages.length - 1];
  if (last && last.role === 'user') messages[messages.length - 1] = { ...last, content: `${last.content}\n\n${text}` };
  else messages.push({ role: 'user', content: text });
  return { ...prompt, messages };
}

/**
 * The columns of several runs as one result: each run's columns map onto the merged list (new names are appended,
 * as DESIGN §3 allows a growing column list), and the `$each` value a run stands for is a column of its own.
 */
class ColumnMerger {
  private merged: ResultColumn[] = [];
  private mapping: number[] = [];
  private inputIndex = -1;
  private input?: { column: string; value: Cell };

  startRun(input: { column: string; value: Cell } | undefined): void {
    this.input = input;
    this.mapping = [];
  }

  shape(batch: RowBatch): RowBatch {
    let grew = false;
    if (batch.columns) {
      this.mapping = batch.columns.map((column) => {
        const at = this.merged.findIndex((c) => c.name === column.name);
        if (at >= 0) return at;
        this.merged.push(column);
        grew = true;
        return this.merged.length - 1;
      });
      if (this.input && this.inputIndex < 0) {
        const taken = this.merged.some((c) => c.name === this.input!.column);
        this.merged.push({ name: taken ? `input_${this.input.column}` : this.input.column, type: typeof this.input.value === 'number' ? 'number' : 'text' });
        this.inputIndex = this.merged.length - 1;
        grew = true;
      }
    }
    const width = this.merged.length;
    const rows = batch.rows.map((row) => {
      const shaped: Cell[] = new Array<Cell>(width).fill(null);
      row.forEach((cell, i) => {
        const at = this.mapping[i];
        if (at !== undefined) shaped[at] = cell;
      });
      if (this.input && this.inputIndex >= 0) shaped[this.inputIndex] = this.input.value;
      return shaped;
    });
    return grew ? { columns: [...this.merged], rows } : { rows };
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
