/**
 * Starts questions and user queries as engine sessions and keeps the recent ones, so views can follow or resume
 * them by id. It also records each one's outcome (for History and for a follow-up's context), and shows the
 * running question as a cancellable progress notification.
 */
import * as vscode from 'vscode';
import type { CenecaEvent, Phase } from '../core/events';
import type { ChatMessage } from '../core/llm/provider';
import type { Session } from '../core/session/session';
import { ModelSetupNeeded, type EngineHost } from './engineHost';
import type { HistoryStore } from './history';

export interface QuestionRecord {
  session: Session;
  /** The question, or the query the user ran. */
  question: string;
  kind: 'question' | 'query';
  startedAt: number;
  /** What the session produced, filled in as events arrive. */
  outcome: { query?: string; rowCount?: number; analysis?: string; sources: string[]; error?: string; ended: boolean };
}

const KEEP_RECENT = 20;
const PHASE_LABELS: Partial<Record<Phase, string>> = {
  classify: 'choosing the source',
  schema: 'reading the schema',
  generate: 'writing the query',
  validate: 'checking the query',
  execute: 'running the query',
  analyze: 'writing the analysis',
};

export class QuestionService implements vscode.Disposable {
  private readonly recent = new Map<string, QuestionRecord>();
  private latestRecord?: QuestionRecord;
  private readonly started = new vscode.EventEmitter<QuestionRecord>();
  private readonly ended = new vscode.EventEmitter<QuestionRecord>();
  /** A question or query started: views reset and follow it. */
  readonly onDidStart = this.started.event;
  readonly onDidEnd = this.ended.event;

  constructor(
    private readonly engineHost: EngineHost,
    private readonly history: HistoryStore,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get latest(): QuestionRecord | undefined {
    return this.latestRecord;
  }

  get running(): QuestionRecord[] {
    return [...this.recent.values()].filter((r) => !r.outcome.ended);
  }

  find(sessionId: string): QuestionRecord | undefined {
    return this.recent.get(sessionId);
  }

  /** Asks a question; with `followUp`, the previous question and its answer travel along as context. */
  async ask(question: string, options: { followUp?: boolean } = {}): Promise<QuestionRecord | undefined> {
    const text = question.trim();
    if (!text) return undefined;
    const history = options.followUp ? this.conversationContext() : undefined;
    return this.start(text, 'question', async (sessionOptions) => (await this.engineHost.engine()).ask({ question: text, history }, sessionOptions));
  }

  /** Runs SQL the user wrote, through the same read-only validation. */
  async runQuery(query: string, sourceId?: string): Promise<QuestionRecord | undefined> {
    return this.start(query.trim(), 'query', async (sessionOptions) =>
      (await this.engineHost.engine()).runQuery({ query, source: sourceId }, sessionOptions),
    );
  }

  cancel(sessionId?: string): void {
    const targets = sessionId ? [this.recent.get(sessionId)].filter((r): r is QuestionRecord => Boolean(r)) : this.running;
    for (const record of targets) record.session.cancel();
  }

  private async start(
    question: string,
    kind: QuestionRecord['kind'],
    launch: (options: { timeoutMs: number }) => Promise<{ session: Session; done: Promise<void> }>,
  ): Promise<QuestionRecord | undefined> {
    let launched;
    try {
      launched = await launch({ timeoutMs: this.engineHost.settings.sessionTimeoutMs });
    } catch (error) {
      await this.explainStartFailure(error);
      return undefined;
    }
    const record: QuestionRecord = { session: launched.session, question, kind, startedAt: Date.now(), outcome: { sources: [], ended: false } };
    this.remember(record);
    this.log.info(`session ${record.session.id}: ${kind} started`);
    void this.track(record);
    this.started.fire(record);
    this.showProgress(record);
    return record;
  }

  /** Follows the session to fill in its outcome; a fast, in-memory subscriber. */
  private async track(record: QuestionRecord): Promise<void> {
    const { outcome } = record;
    for await (const event of record.session.log.subscribe(0)) {
      this.apply(outcome, event);
      if (event.type === 'error') this.log.warn(`session ${record.session.id}: ${event.recoverable ? 'recovered from' : 'failed with'} ${event.code}: ${event.message}`);
    }
    outcome.ended = true;
    this.log.info(`session ${record.session.id}: ended${outcome.error ? ` (${outcome.error})` : `, ${outcome.rowCount ?? 0} row(s)`}`);
    await this.history.add({ question: record.question, kind: record.kind, query: outcome.query, rowCount: outcome.rowCount, sources: outcome.sources, error: outcome.error, at: record.startedAt });
    this.ended.fire(record);
  }

  private apply(outcome: QuestionRecord['outcome'], event: CenecaEvent): void {
    switch (event.type) {
      case 'databases_selected':
        outcome.sources = event.databases.map((d) => d.id);
        break;
      case 'query_complete':
        outcome.query = event.query;
        break;
      case 'result_complete':
        outcome.rowCount = event.rowCount;
        break;
      case 'analysis_complete':
        outcome.analysis = event.text;
        break;
      case 'error':
        if (!event.recoverable) outcome.error = `${event.code}: ${event.message}`;
        break;
      default:
        break;
    }
  }

  /** The last finished question and its answer, as conversation turns for a follow-up. */
  private conversationContext(): ChatMessage[] | undefined {
    const previous = [...this.recent.values()].reverse().find((r) => r.kind === 'question' && r.outcome.ended && !r.outcome.error);
    if (!previous) return undefined;
    const answer = [
      previous.outcome.query ? `Query:\n${previous.outcome.query}` : '',
      previous.outcome.rowCount !== undefined ? `It returned ${previous.outcome.rowCount} row(s).` : '',
      previous.outcome.analysis ? `Analysis:\n${previous.outcome.analysis}` : '',
    ]
      .filter(Boolean)
      .join('\n');
    return [
      { role: 'user', content: `Question: ${previous.question}` },
      { role: 'assistant', content: answer || 'Answered.' },
    ];
  }

  private remember(record: QuestionRecord): void {
    this.recent.set(record.session.id, record);
    this.latestRecord = record;
    while (this.recent.size > KEEP_RECENT) {
      const oldest = this.recent.keys().next().value as string;
      this.recent.delete(oldest);
    }
  }

  private showProgress(record: QuestionRecord): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Ceneca: ${truncate(record.question, 60)}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => record.session.cancel());
        let reported = 0;
        for await (const event of record.session.log.subscribe(0)) {
          if (event.type === 'progress') {
            progress.report({ increment: Math.max(0, event.percentage - reported), message: PHASE_LABELS[record.session.phase] });
            reported = Math.max(reported, event.percentage);
          } else if (event.type === 'result_complete') {
            progress.report({ message: `${event.rowCount.toLocaleString()} row(s)${event.truncated ? ' (truncated)' : ''}` });
          }
        }
      },
    );
  }

  private async explainStartFailure(error: unknown): Promise<void> {
    if (error instanceof ModelSetupNeeded) {
      const choice = await vscode.window.showWarningMessage(`Ceneca: ${error.message}`, ...error.actions.map((a) => a.title));
      const action = error.actions.find((a) => a.title === choice);
      if (action) await vscode.commands.executeCommand(action.command);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.log.error(`could not start: ${message}`);
    void vscode.window.showErrorMessage(`Ceneca: ${message}`);
  }

  dispose(): void {
    this.cancel();
    this.started.dispose();
    this.ended.dispose();
  }
}

function truncate(text: string, length: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > length ? `${oneLine.slice(0, length - 1)}…` : oneLine;
}
