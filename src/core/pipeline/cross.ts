/**
 * Cross-database questions (DESIGN §2 "Cross-database"): the model writes a plan — operations on single sources,
 * with dependencies — streamed as it grows and checked before anything runs; independent operations run in
 * parallel, each a full single-source run (schema, generated query, validation, streamed rows) whose events carry
 * its `operationId`; an operation that needs upstream values gets them bound as parameters, never pasted into its
 * query. The results become tables of an embedded DuckDB, and a combine query the model writes (validated like any
 * query) joins them; its rows stream as their own result. The analysis sees the plan, each step and the answer.
 */
import type { Cell, EventPayload, ResultColumn, TokenUsage } from '../events';
import { CombineEngine } from '../combine/duckdb';
import { FencedQueryExtractor, SQL_FENCE_TAGS, extractJson, parsePartialJson } from '../llm/extract';
import { crossAnalyzePrompt } from '../llm/prompts/analyze';
import { correctionPrompt } from '../llm/prompts/nl2sql';
import { combinePrompt, planCorrectionPrompt, planPrompt, type PlannedSource } from '../llm/prompts/plan';
import type { CompletionRequest } from '../llm/provider';
import { formatSchemaForPrompt } from '../schema/format';
import type { RankedTable } from '../schema/types';
import { PipelineError, type CompleteSummary, type Session } from '../session/session';
import type { DataSource } from '../sources/source';
import { distinctValues, QueryBinding } from './binding';
import type { SourceChoice } from './classify';
import { checkPlan, operationsSoFar, parseUse, type Plan, type PlannedOperation } from './plan';
import { operationScope } from './scope';
import { QuestionRun, type EngineContext, type ExecutedResult, type QuestionRequest } from './single';

/** Operations running at once within one plan. */
const MAX_PARALLEL_OPERATIONS = 4;
/** Rows one operation may pass to the combine step. */
const OPERATION_ROW_CAP = 100_000;
/** Row batches the slowest reader may fall behind before the combine result pauses. */
const MAX_SUBSCRIBER_LAG = 8;
const SAMPLE_ROWS_PER_TABLE = 3;
const TOTAL_STEPS = 6;
const COMBINE = 'combine';

/** One operation that failed, and why; the plan stops on the first. */
class OperationFailure extends Error {
  constructor(
    readonly operation: PlannedOperation,
    override readonly cause: unknown,
  ) {
    super(`operation "${operation.id}" (${operation.source}) failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

export async function answerAcrossSources(session: Session, context: EngineContext, request: QuestionRequest, lead: QuestionRun, question: string, choices: readonly SourceChoice[]): Promise<CompleteSummary> {
  const started = Date.now();
  const cross = new CrossRun(session, context, lead, question);
  const sources = choices.map((c) => c.source);
  const schemas = await cross.loadSchemas(sources);
  const plan = await cross.makePlan(sources, schemas);
  const results = await cross.executePlan(plan, sources);
  const combined = await cross.combine(plan, results);
  if (request.analysis ?? context.settings.analysis) await cross.analyse(plan, results, combined);
  const usage = cross.usage();
  return {
    sources: [...new Set(plan.operations.map((op) => op.source))],
    rowCount: combined.rowCount,
    elapsedMs: Date.now() - started,
    truncated: combined.truncated,
    query: combined.query,
    operations: plan.operations.length,
    ...(usage ? { usage } : {}),
  };
}

class CrossRun {
  private readonly runs: QuestionRun[] = [];

  constructor(
    private readonly session: Session,
    private readonly context: EngineContext,
    private readonly lead: QuestionRun,
    private readonly question: string,
  ) {
    this.runs.push(lead);
  }

  private emit(payload: EventPayload): void {
    this.session.emit(payload);
  }

  private progress(step: number): void {
    this.emit({ type: 'progress', step, total: TOTAL_STEPS, percentage: Math.round(((step - 1) / TOTAL_STEPS) * 100) });
  }

  async loadSchemas(sources: readonly DataSource[]): Promise<Map<string, RankedTable[]>> {
    const schemas = new Map<string, RankedTable[]>();
    for (const source of sources) schemas.set(source.id, await this.lead.loadSchema(source, this.question));
    return schemas;
  }

  /** Streams the plan as it grows, checks it, and asks once more if it is not usable. */
  async makePlan(sources: readonly DataSource[], schemas: ReadonlyMap<string, RankedTable[]>): Promise<Plan> {
    this.session.phase = 'plan';
    this.progress(3);
    this.emit({ type: 'planning', step: 'writing a plan across the sources' });
    const described: PlannedSource[] = sources.map((s) => ({ id: s.id, kind: s.kind, name: s.name, schemaText: formatSchemaForPrompt(schemas.get(s.id) ?? [], { sampleValues: this.context.settings.sampleValues }) }));
    let prompt = planPrompt(this.question, described);
    const ids = sources.map((s) => s.id);
    for (let attempt = 1; ; attempt++) {
      const reply = await this.streamPlan(prompt);
      const check = checkPlan(extractJson(reply), ids);
      if (check.ok) {
        this.emit({ type: 'plan', operations: check.plan.operations.map(planEventOperation), final: true });
        this.emit({ type: 'plan_validated', operationCount: check.plan.operations.length });
        return check.plan;
      }
      if (attempt >= 2) {
        throw new PipelineError('plan_invalid', `the corrected plan is not usable either: ${check.problems.join('; ')}`, 'plan', 'rephrase the question, or ask about one source at a time');
      }
      this.emit({ type: 'error', code: 'plan_invalid', message: check.problems.join('; '), phase: 'plan', recoverable: true });
      this.emit({ type: 'status', phase: 'plan', message: 'asking the model to correct the plan' });
      prompt = planCorrectionPrompt(prompt, reply, check.problems);
    }
  }

  /** The model's reply; `plan` events (final: false) whenever another operation has become visible. */
  private async streamPlan(prompt: CompletionRequest): Promise<string> {
    const extractor = new FencedQueryExtractor(['json']);
    let json = '';
    let shown = 0;
    const reply = await this.lead.complete(prompt, 'plan', (delta) => {
      json += extractor.push(delta);
      const operations = operationsSoFar(parsePartialJson(json));
      // The last operation may still be growing: show it once the next one starts (or at the end).
      const settled = operations.slice(0, Math.max(0, operations.length - 1));
      if (settled.length > shown) {
        shown = settled.length;
        this.emit({ type: 'plan', operations: settled, final: false });
      }
    });
    return reply.text;
  }

  /** Runs the operations, each as soon as its dependencies are done, at most MAX_PARALLEL_OPERATIONS at once. */
  async executePlan(plan: Plan, sources: readonly DataSource[]): Promise<Map<string, ExecutedResult>> {
    this.session.phase = 'execute';
    this.progress(4);
    const results = new Map<string, ExecutedResult>();
    const stopAll = new AbortController();
    const signal = AbortSignal.any([this.session.signal, stopAll.signal]);
    const running = new Map<string, Promise<void>>();
    const waiting = [...plan.operations];
    let failure: OperationFailure | undefined;
    while ((waiting.length > 0 || running.size > 0) && !failure) {
      for (const op of [...waiting]) {
        if (running.size >= MAX_PARALLEL_OPERATIONS) break;
        if (!op.dependsOn.every((dep) => results.has(dep))) continue;
        waiting.splice(waiting.indexOf(op), 1);
        const source = sources.find((s) => s.id === op.source)!;
        const task = this.runOperation(op, source, results, signal).then(
          (result) => {
            results.set(op.id, result);
          },
          (error: unknown) => {
            failure ??= new OperationFailure(op, error);
            stopAll.abort(failure); // the others stop: their model requests and cursors close
          },
        );
        running.set(op.id, task.finally(() => running.delete(op.id)));
      }
      if (running.size === 0) break; // nothing can start: cannot happen with a checked (acyclic) plan
      await Promise.race(running.values());
    }
    await Promise.allSettled(running.values());
    if (this.session.signal.aborted) throw this.session.signal.reason;
    if (failure) throw operationError(failure);
    return results;
  }

  private async runOperation(op: PlannedOperation, source: DataSource, results: ReadonlyMap<string, ExecutedResult>, signal: AbortSignal): Promise<ExecutedResult> {
    const scope = operationScope(this.session, op.id, signal);
    this.emit({ type: 'operation_started', operationId: op.id, source: source.id });
    const run = new QuestionRun(scope, this.context, { question: op.goal, analysis: false });
    this.runs.push(run);
    const tables = await run.loadSchema(source, op.goal);
    const binding = new QueryBinding(source.language, op.uses.map((use) => upstreamValues(use, results)));
    const goal = [
      op.goal,
      `(One step of answering: "${this.question}". The result must have the columns: ${op.produces.join(', ')}.)`,
    ].join('\n');
    const result = await run.generateAndExecute(source, goal, tables, { binding, keepRows: true, maxRows: OPERATION_ROW_CAP });
    const missing = op.produces.filter((name) => !result.columns.some((c) => c.name === name));
    if (missing.length > 0 && result.rowCount === 0) {
      // Nothing matched, and a source that learns its columns from the rows has none: the declared ones stand in.
      result.columns = [...result.columns, ...missing.map((name) => ({ name, type: 'text' }))];
    } else if (missing.length > 0) {
      throw new Error(`its result has no column ${missing.map((m) => `"${m}"`).join(', ')} (it has: ${result.columns.map((c) => c.name).join(', ')}), which the plan relies on`);
    }
    this.emit({ type: 'operation_completed', operationId: op.id, source: source.id });
    return result;
  }

  /** Loads every operation's rows into DuckDB and runs the combine query the model writes (corrected once). */
  async combine(plan: Plan, results: ReadonlyMap<string, ExecutedResult>): Promise<ExecutedResult> {
    this.session.phase = 'aggregate';
    this.progress(5);
    const engine = await CombineEngine.create();
    try {
      for (const op of plan.operations) {
        const result = results.get(op.id)!;
        this.emit({ type: 'aggregating', step: `loading ${op.id} (${result.rowCount} rows)`, rows: 0 });
        await engine.load({ name: op.id, columns: result.columns, rows: result.rows ?? [] });
        this.emit({ type: 'aggregating', step: `loaded ${op.id}`, rows: result.rowCount });
      }
      const maxRows = this.lead.rowCap();
      // Rows reach the model only when the user's settings let result rows do so (analysisRows > 0).
      const samplesText = this.context.settings.analysisRows > 0 ? samplesOf(plan, results) : '(withheld: the settings send no result rows to the model)';
      let prompt = combinePrompt({ question: this.question, goal: plan.combine.goal, tablesText: engine.describeTables(), samplesText, maxRows });
      for (let attempt = 1; ; attempt++) {
        const { reply, query } = await this.generateCombine(prompt);
        const validation = await engine.validate(query);
        this.emit({ type: 'query_validated', source: COMBINE, ok: validation.ok, problems: validation.problems });
        let problem = validation.problems.join('; ') || 'the query is not allowed';
        if (validation.ok && validation.query) {
          try {
            return await this.runCombine(engine, validation.query, maxRows);
          } catch (error) {
            if (this.session.signal.aborted) throw error;
            problem = `DuckDB rejected the query: ${error instanceof Error ? error.message : String(error)}`;
          }
        }
        if (attempt >= 2) throw new PipelineError('combine_failed', `the corrected combine query failed too: ${problem}`, 'aggregate', 'rephrase the question, or ask about one source at a time');
        this.emit({ type: 'error', code: 'combine_failed', message: problem, phase: 'aggregate', recoverable: true });
        this.emit({ type: 'status', phase: 'aggregate', message: 'asking the model to correct the combine query' });
        prompt = correctionPrompt(prompt, reply, problem);
      }
    } finally {
      await engine.close();
    }
  }

  private async generateCombine(prompt: CompletionRequest): Promise<{ reply: string; query: string }> {
    const extractor = new FencedQueryExtractor(SQL_FENCE_TAGS);
    let shown = '';
    const reply = await this.lead.complete(prompt, 'aggregate', (delta) => {
      const fresh = extractor.push(delta);
      if (!fresh) return;
      shown += fresh;
      this.emit({ type: 'partial_query', source: COMBINE, language: 'sql', delta: fresh, text: shown });
    });
    const query = extractor.finish();
    if (!query) {
      throw new PipelineError('llm_no_query', `the model's reply contained no combine query: ${reply.text.trim().slice(0, 300) || '(an empty reply)'}`, 'aggregate', 'rephrase the question');
    }
    this.emit({ type: 'query_complete', source: COMBINE, language: 'sql', query, ...(reply.usage ? { usage: reply.usage } : {}) });
    return { reply: reply.text, query };
  }

  private async runCombine(engine: CombineEngine, query: string, maxRows: number): Promise<ExecutedResult> {
    const started = Date.now();
    const resultId = `${COMBINE}:1`;
    this.emit({ type: 'aggregating', step: 'joining the results' });
    this.emit({ type: 'execution_started', source: COMBINE });
    let columns: ResultColumn[] = [];
    const sample: Cell[][] = [];
    let rowCount = 0;
    let truncated = false;
    for await (const batch of engine.execute(query, { maxRows: maxRows + 1, signal: this.session.signal })) {
      let rows = batch.rows;
      if (rowCount + rows.length > maxRows) {
        truncated = true;
        rows = rows.slice(0, maxRows - rowCount);
      }
      if (batch.columns) columns = batch.columns;
      if (sample.length < this.context.settings.analysisRows) sample.push(...rows.slice(0, this.context.settings.analysisRows - sample.length));
      if (rows.length > 0 || batch.columns) this.emit({ type: 'partial_results', source: COMBINE, resultId, ...(batch.columns ? { columns: batch.columns } : {}), rows, offset: rowCount });
      rowCount += rows.length;
      this.emit({ type: 'aggregating', step: 'joining the results', rows: rowCount });
      await this.session.log.waitForRoom(MAX_SUBSCRIBER_LAG, this.session.signal);
      if (truncated) break;
    }
    this.emit({ type: 'result_complete', source: COMBINE, resultId, rowCount, truncated, elapsedMs: Date.now() - started });
    return { query, columns, sample, rowCount, truncated };
  }

  async analyse(plan: Plan, results: ReadonlyMap<string, ExecutedResult>, combined: ExecutedResult): Promise<void> {
    const operations = plan.operations.map((op) => `${op.id} (${op.source}): ${op.goal} → ${results.get(op.id)?.rowCount ?? 0} row(s)`);
    await this.lead.streamAnalysis(
      crossAnalyzePrompt({
        question: this.question,
        query: combined.query,
        columns: combined.columns.map((c) => c.name),
        rows: combined.sample,
        rowCount: combined.rowCount,
        truncated: combined.truncated,
        operations,
      }),
    );
  }

  usage(): TokenUsage | undefined {
    const used = this.runs.map((r) => r.usage).filter((u): u is TokenUsage => u !== undefined);
    if (used.length === 0) return undefined;
    return { inputTokens: used.reduce((n, u) => n + u.inputTokens, 0), outputTokens: used.reduce((n, u) => n + u.outputTokens, 0) };
  }

}

function planEventOperation(op: PlannedOperation): { id: string; source: string; goal: string; dependsOn: string[]; uses?: string[]; produces: string[] } {
  return { id: op.id, source: op.source, goal: op.goal, dependsOn: op.dependsOn, ...(op.uses.length > 0 ? { uses: op.uses } : {}), produces: op.produces };
}

function upstreamValues(use: string, results: ReadonlyMap<string, ExecutedResult>): ReturnType<typeof distinctValues> {
  const { operation, column } = parseUse(use);
  const result = results.get(operation)!;
  const index = result.columns.findIndex((c) => c.name === column);
  return distinctValues(use, result.rows ?? [], index);
}

function operationError(failure: OperationFailure): PipelineError {
  const cause = failure.cause;
  const suggestion = cause instanceof PipelineError && cause.suggestion ? cause.suggestion : 'ask about that source alone to see what goes wrong, or rephrase the question';
  return new PipelineError('operation_failed', failure.message, 'execute', suggestion);
}

function samplesOf(plan: Plan, results: ReadonlyMap<string, ExecutedResult>): string {
  return plan.operations
    .map((op) => {
      const result = results.get(op.id)!;
      const header = result.columns.map((c) => c.name).join('\t');
      const rows = (result.rows ?? []).slice(0, SAMPLE_ROWS_PER_TABLE).map((row) => row.map((cell) => (cell === null ? 'NULL' : String(cell).slice(0, 80))).join('\t'));
      return `## ${op.id} (${result.rowCount} rows)\n${[header, ...rows].join('\n')}`;
    })
    .join('\n\n');
}
