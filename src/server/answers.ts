/**
 * The whole-body answers for clients that cannot stream (`POST /query`, `POST /classify`): a session's events
 * folded into one JSON value, and the HTTP status an engine error maps to.
 */
import type { Cell, CenecaEvent, EventOf, Phase, QueryLanguage, ResultColumn, SourceKind } from '../core/events';
import type { CompleteSummary } from '../core/session/session';

export interface ErrorSummary {
  code: string;
  message: string;
  phase: Phase;
  suggestion?: string;
}

export interface QueryAnswer {
  session: string;
  status: 'complete' | 'error';
  source?: string;
  language?: QueryLanguage;
  /** The query that ran (or the last one the model wrote, when it failed). */
  query?: string;
  columns: ResultColumn[];
  rows: Cell[][];
  rowCount: number;
  truncated: boolean;
  analysis?: string;
  summary?: CompleteSummary;
  /** Recoverable errors along the way (a query the model had to correct, a failed analysis). */
  warnings: ErrorSummary[];
  error?: ErrorSummary;
}

/** Folds a query session's events into one answer; only the last result counts (a corrected query starts afresh). */
export class QueryAnswerBuilder {
  private readonly answer: QueryAnswer;
  private resultId?: string;

  constructor(sessionId: string) {
    this.answer = { session: sessionId, status: 'error', columns: [], rows: [], rowCount: 0, truncated: false, warnings: [] };
  }

  apply(event: CenecaEvent): void {
    const answer = this.answer;
    switch (event.type) {
      case 'query_complete':
        answer.source = event.source;
        answer.language = event.language;
        answer.query = event.query;
        break;
      case 'partial_results':
        if (event.resultId !== this.resultId) {
          this.resultId = event.resultId;
          answer.rows = [];
          answer.columns = [];
        }
        if (event.columns) answer.columns = event.columns;
        for (const row of event.rows) answer.rows.push(row);
        break;
      case 'result_complete':
        answer.rowCount = event.rowCount;
        answer.truncated = event.truncated;
        break;
      case 'analysis_complete':
        answer.analysis = event.text;
        break;
      case 'complete':
        answer.status = 'complete';
        answer.summary = event.summary;
        break;
      case 'error':
        if (event.recoverable) answer.warnings.push(errorSummary(event));
        else answer.error = errorSummary(event);
        break;
      default:
        break;
    }
  }

  result(): QueryAnswer {
    return this.answer;
  }
}

export interface ClassifyAnswer {
  session: string;
  sources: Array<{ id: string; kind: SourceKind; reason: string }>;
}

export function errorSummary(event: EventOf<'error'>): ErrorSummary {
  return { code: event.code, message: event.message, phase: event.phase, ...(event.suggestion ? { suggestion: event.suggestion } : {}) };
}

/**
 * The status of a whole-body answer that ended in an error: the request's fault (400/422), the upstream model
 * or database (502/504), a cancel (409), or ours (500).
 */
export function statusForError(code: string): number {
  switch (code) {
    case 'invalid_question':
    case 'no_source':
      return 400;
    case 'cancelled':
      return 409;
    case 'timeout':
    case 'idle_timeout':
    case 'statement_timeout':
      return 504;
    case 'llm_failed':
    case 'source_unavailable':
    case 'schema_failed':
      return 502;
    case 'internal':
      return 500;
    default:
      // The question could not be answered as asked: plan_invalid, llm_no_query, validation_failed, …
      return 422;
  }
}
