/**
 * The Results and Chat sidebar views: webviews that show sessions as they stream. The host follows each session's
 * log and posts coalesced event batches; a webview that is re-shown or reloaded says which session and last event
 * id it has, and the host resumes after that id (or says the events are gone).
 */
import * as vscode from 'vscode';
import { ResumeGapError } from '../../core/session/log';
import { makeNonce, renderWebviewHtml } from '../../../webview/html';
import { parseWebviewMessage, type HostMessage, type WebviewKind, type WebviewMessage } from '../protocol';
import type { QuestionRecord, QuestionService } from '../questionService';
import type { ResultRowsSource } from '../services';
import { EventFollower } from './eventFollower';

type ExportRows = NonNullable<Awaited<ReturnType<ResultRowsSource['requestRows']>>>;

export class SessionWebviewProvider implements vscode.WebviewViewProvider, ResultRowsSource, vscode.Disposable {
  private view?: vscode.WebviewView;
  private readonly followers = new Map<string, EventFollower>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private exportRequests = new Map<number, (rows: ExportRows | undefined) => void>();
  private nextRequestId = 1;

  constructor(
    readonly kind: WebviewKind,
    private readonly extensionUri: vscode.Uri,
    private readonly questions: QuestionService,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(questions.onDidStart((record) => this.show(record)));
  }

  get viewId(): string {
    return `ceneca.${this.kind}`;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const bundle = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [bundle] };
    view.webview.html = renderWebviewHtml({
      view: this.kind,
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(bundle, 'main.js')).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(bundle, 'main.css')).toString(),
      cspSource: view.webview.cspSource,
      nonce: makeNonce(),
    });
    const listener = view.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw));
    view.onDidDispose(() => {
      listener.dispose();
      this.stopFollowing();
      if (this.view === view) this.view = undefined;
    });
  }

  async reveal(): Promise<void> {
    if (this.view) this.view.show(true);
    else await vscode.commands.executeCommand(`${this.viewId}.focus`);
  }

  requestRows(format: 'csv' | 'json'): Promise<ExportRows | undefined> {
    if (!this.view || this.kind !== 'results') return Promise.resolve(undefined);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), 30_000);
      const finish = (rows: ExportRows | undefined): void => {
        clearTimeout(timer);
        this.exportRequests.delete(requestId);
        resolve(rows && rows.columns.length > 0 ? rows : undefined);
      };
      this.exportRequests.set(requestId, finish);
      void this.post({ kind: 'export-request', requestId, format });
    });
  }

  /** A question started: the results view switches to it, the chat view adds a turn. */
  private show(record: QuestionRecord): void {
    if (this.kind === 'results') this.stopFollowing();
    if (!this.view) {
      // Not open yet: the results view opens, and asks for the session when it has loaded.
      if (this.kind === 'results') void this.reveal();
      return;
    }
    if (this.kind === 'results') this.view.show(true);
    void this.post({ kind: 'session', session: record.session.id, question: record.question, startedAt: record.startedAt });
    this.follow(record, 0);
  }

  private follow(record: QuestionRecord, afterId: number): void {
    const id = record.session.id;
    this.followers.get(id)?.stop();
    try {
      this.followers.set(id, new EventFollower(record.session, afterId, (events) => this.post({ kind: 'events', session: id, events })));
    } catch (error) {
      if (error instanceof ResumeGapError) {
        void this.post({ kind: 'resume-gap', session: id, afterId, firstId: error.firstId, question: record.question });
      } else {
        this.log.warn(`${this.viewId}: cannot resume session ${id} after ${afterId}: ${error instanceof Error ? error.message : String(error)}`);
        void this.post({ kind: 'session-gone', session: id });
      }
    }
  }

  private stopFollowing(): void {
    for (const follower of this.followers.values()) follower.stop();
    this.followers.clear();
  }

  private post(message: HostMessage): Thenable<boolean> {
    return this.view ? this.view.webview.postMessage(message) : Promise.resolve(false);
  }

  private receive(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`${this.viewId}: ${parsed.problem}`);
      return;
    }
    void this.handle(parsed.message).catch((error: unknown) => this.log.error(`${this.viewId}: ${error instanceof Error ? error.message : String(error)}`));
  }

  private async handle(message: WebviewMessage): Promise<void> {
    switch (message.kind) {
      case 'ready':
        return this.resume(message.session, message.lastId);
      case 'ask':
        await this.questions.ask(message.question, { followUp: message.followUp });
        return;
      case 'cancel':
        return this.questions.cancel(message.session);
      case 'copy':
        await vscode.env.clipboard.writeText(message.text);
        return;
      case 'open-query': {
        const language = message.language === 'sql' ? 'sql' : 'json';
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ language, content: message.query }), { preview: true });
        return;
      }
      case 'export':
        await vscode.commands.executeCommand('ceneca.exportResults', message.format);
        return;
      case 'export-data':
        this.exportRequests.get(message.requestId)?.({ columns: message.columns, rows: message.rows });
        return;
    }
  }

  /**
   * The webview (re)loaded: continue its session after its last id, or show the latest question. The results view
   * shows the latest question, so one that started while it was hidden replaces the session it remembers.
   */
  private resume(sessionId: string | undefined, lastId: number): void {
    const known = sessionId ? this.questions.find(sessionId) : undefined;
    const latest = this.questions.latest;
    const superseded = this.kind === 'results' && known !== undefined && latest !== undefined && latest !== known;
    if (sessionId && known && !superseded) {
      this.follow(known, lastId);
      return;
    }
    if (sessionId && !known) void this.post({ kind: 'session-gone', session: sessionId });
    if (latest && latest.session.id !== sessionId) {
      void this.post({ kind: 'session', session: latest.session.id, question: latest.question, startedAt: latest.startedAt });
      this.follow(latest, 0);
    }
  }

  dispose(): void {
    this.stopFollowing();
    for (const s of this.subscriptions) s.dispose();
  }
}
