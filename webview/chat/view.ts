/**
 * The chat view: the conversation as turns (question, sources used, status line while running, the analysis as
 * sanitised markdown, errors), and an input at the bottom. Enter sends `ask` with `followUp: true`; after "New
 * conversation" the next question goes with `followUp: false` (and the turns shown so far are cleared).
 * Markdown is re-rendered at most once per animation frame per turn. Rows are counted, never kept.
 */
import type { CenecaEvent } from '../../src/core/events';
import type { HostMessage, WebviewMessage } from '../../src/vscode/protocol';
import { NOTICE_TEXT, elapsedMs, isHostMessage, renderFatal, renderNotices, usageText } from '../common';
import { button, el, replaceChildren, setText, show } from '../dom';
import { formatDuration, plural } from '../format';
import { renderMarkdown } from '../markdown';
import type { Section, SessionModel, StepId } from '../model';
import { addNotice, applyEvent, newSession } from '../model';
import { FrameScheduler } from '../scheduler';
import { acceptEvents, restoreChatState, snapshotSession, type ChatViewState } from '../state';
import type { HostApi } from '../vscode';

const MAX_QUESTION = 4000;
const MAX_TURNS_KEPT = 50;

const RUNNING_TEXT: Record<StepId, string> = {
  classify: 'Choosing the sources…',
  schema: 'Reading the schema…',
  plan: 'Planning…',
  generate: 'Writing the query…',
  validate: 'Checking the query…',
  execute: 'Running the query…',
  aggregate: 'Combining the results…',
  analyze: 'Writing the analysis…',
};

interface TurnEntry {
  model: SessionModel;
  element: HTMLElement;
  sources: HTMLElement;
  status: HTMLElement;
  statusText: HTMLElement;
  answer: HTMLElement;
  fatal: HTMLElement;
  notices: HTMLElement;
  meta: HTMLElement;
  rev: Record<Section, number>;
}

export class ChatView {
  private turns: TurnEntry[] = [];
  private followUp = true;
  private readonly dismissed = new Set<string>();
  private queue: HostMessage[] = [];
  private readonly frames = new FrameScheduler(() => this.flush());
  private lastResumeAsk = { lastId: -1, at: 0 };
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private clock: ReturnType<typeof setInterval> | undefined;

  private readonly log = el('div', { class: 'turns', attrs: { role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' } });
  private readonly empty = el('div', { class: 'empty', text: 'Ask a question about your data. Follow-up questions keep the conversation’s context.' });
  private readonly input = el('textarea', { class: 'input', attrs: { rows: '2', placeholder: 'Ask a question… (Enter to send, Shift+Enter for a new line)', 'aria-label': 'Question', maxlength: String(MAX_QUESTION) } });
  private readonly mode = el('div', { class: 'composer-mode' });

  constructor(
    private readonly root: HTMLElement,
    private readonly api: HostApi<ChatViewState>,
  ) {
    root.classList.add('view-chat');
    const send = button('Send', () => this.send(), { class: 'send' });
    const fresh = button('New conversation', () => this.newConversation(), { class: 'secondary new-conversation' });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.input.addEventListener('input', () => this.saveSoon());
    const composer = el('div', { class: 'composer' }, this.mode, this.input, el('div', { class: 'composer-actions' }, fresh, send));
    root.append(this.empty, this.log, composer);
  }

  start(): void {
    window.addEventListener('message', (event: MessageEvent) => {
      if (!isHostMessage(event.data)) return;
      this.queue.push(event.data);
      this.frames.request();
    });
    const saved = restoreChatState(this.api.getState());
    this.followUp = saved.followUp;
    this.input.value = saved.draft;
    for (const model of saved.turns) this.addTurn(model);
    this.render();
    const last = this.turns[this.turns.length - 1]?.model;
    this.post({ kind: 'ready', view: 'chat', ...(last ? { session: last.session } : {}), lastId: last?.lastId ?? 0 });
    this.clock = setInterval(() => {
      for (const turn of this.turns) if (turn.model.state === 'running') this.renderMeta(turn);
    }, 1000);
  }

  private post(message: WebviewMessage): void {
    this.api.postMessage(message);
  }

  /** Retry / Re-run: the same question again (the host decides the context, as for the results view). */
  private ask = (question: string): void => {
    this.post({ kind: 'ask', question });
  };

  private send(): void {
    const question = this.input.value.trim().slice(0, MAX_QUESTION);
    if (!question) return;
    this.post({ kind: 'ask', question, followUp: this.followUp });
    this.followUp = true;
    this.input.value = '';
    this.renderMode();
    this.saveSoon(0);
  }

  private newConversation(): void {
    for (const turn of this.turns) {
      this.dismissed.add(turn.model.session);
      turn.element.remove();
    }
    this.turns = [];
    this.followUp = false;
    this.render();
    this.saveSoon(0);
    this.input.focus();
  }

  private flush(): void {
    const messages = this.queue;
    this.queue = [];
    for (const message of messages) this.handle(message);
    this.render();
    this.saveSoon(this.turns.some((t) => t.model.state === 'running') ? 500 : 0);
  }

  private handle(message: HostMessage): void {
    switch (message.kind) {
      case 'session':
        if (!this.turnOf(message.session) && !this.dismissed.has(message.session)) {
          this.addTurn(newSession(message.session, message.question, message.startedAt, false));
        }
        break;
      case 'events':
        this.applyEvents(message.session, message.events);
        break;
      case 'resume-gap': {
        const turn = this.turnOf(message.session);
        if (!turn) return;
        if (message.firstId <= turn.model.lastId + 1) {
          this.askResume(turn.model, true);
          return;
        }
        if (turn.model.state === 'running') turn.model.state = 'interrupted';
        if (!turn.model.question) turn.model.question = message.question;
        addNotice(turn.model, { kind: 'resume-gap', text: NOTICE_TEXT.gap });
        turn.model.rev.head++;
        break;
      }
      case 'session-gone': {
        const turn = this.turnOf(message.session);
        if (!turn) return;
        if (turn.model.state === 'running') turn.model.state = 'interrupted';
        addNotice(turn.model, { kind: 'session-gone', text: NOTICE_TEXT.gone });
        turn.model.rev.head++;
        break;
      }
      case 'export-request':
        // The chat view holds no rows; answer so the host is not left waiting.
        this.post({ kind: 'export-data', requestId: message.requestId, format: message.format, columns: [], rows: [] });
        break;
    }
  }

  private applyEvents(session: string, events: readonly CenecaEvent[]): void {
    if (events.length === 0 || this.dismissed.has(session)) return;
    let turn = this.turnOf(session);
    if (!turn) turn = this.addTurn(newSession(session, '', events[0]!.ts, false));
    const model = turn.model;
    const now = Date.now();
    const outcome = acceptEvents(model, events, (event) => applyEvent(model, event, now));
    if (outcome.gapAfter !== undefined) this.askResume(model);
  }

  private askResume(model: SessionModel, force = false): void {
    const now = Date.now();
    if (!force && this.lastResumeAsk.lastId === model.lastId && now - this.lastResumeAsk.at < 1000) return;
    this.lastResumeAsk = { lastId: model.lastId, at: now };
    this.post({ kind: 'ready', view: 'chat', session: model.session, lastId: model.lastId });
  }

  private turnOf(session: string): TurnEntry | undefined {
    return this.turns.find((t) => t.model.session === session);
  }

  private addTurn(model: SessionModel): TurnEntry {
    const statusText = el('span', { class: 'turn-status-text' });
    const stop = button('Stop', () => this.post({ kind: 'cancel', session: model.session }), { class: 'secondary stop' });
    const entry: TurnEntry = {
      model,
      element: el('article', { class: 'turn', attrs: { 'data-session': model.session } }),
      sources: el('ul', { class: 'chips turn-sources', attrs: { 'aria-label': 'Sources used' } }),
      status: el('div', { class: 'turn-status', attrs: { role: 'status' } }, el('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }), statusText, stop),
      statusText,
      answer: el('div', { class: 'markdown turn-answer' }),
      fatal: el('div', { class: 'error-panel', attrs: { role: 'alert' } }),
      notices: el('div', { class: 'notices' }),
      meta: el('div', { class: 'turn-meta' }),
      rev: { head: -1, steps: -1, sources: -1, queries: -1, results: -1, analysis: -1, errors: -1, notices: -1 },
    };
    entry.element.append(el('div', { class: 'turn-question', text: model.question || '(question not known)' }), entry.sources, entry.status, entry.answer, entry.fatal, entry.notices, entry.meta);
    this.turns.push(entry);
    this.log.append(entry.element);
    return entry;
  }

  private render(): void {
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    show(this.empty, this.turns.length === 0);
    for (const turn of this.turns) this.renderTurn(turn);
    this.renderMode();
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  private renderMode(): void {
    setText(this.mode, 'New conversation: the next question starts afresh.');
    show(this.mode, !this.followUp);
  }

  private renderTurn(turn: TurnEntry): void {
    const model = turn.model;
    const changed = (section: Section): boolean => {
      if (turn.rev[section] === model.rev[section]) return false;
      turn.rev[section] = model.rev[section];
      return true;
    };
    turn.element.dataset.state = model.state;
    const question = turn.element.querySelector('.turn-question');
    if (question) setText(question, model.question || '(question not known)');
    if (changed('sources')) {
      replaceChildren(turn.sources, ...model.sources.map((s) => el('li', { class: 'chip', title: s.reason, text: `${s.id} (${s.kind})` })));
      show(turn.sources, model.sources.length > 0);
    }
    const stepsChanged = changed('steps');
    if (changed('head') || stepsChanged || changed('results')) {
      const running = model.state === 'running';
      show(turn.status, running);
      if (running) {
        const step = [...model.steps].reverse().find((s) => s.status === 'running');
        const rows = model.results.reduce((n, r) => n + r.received, 0);
        let text = step ? RUNNING_TEXT[step.id] : model.status || 'Starting…';
        if (step?.id === 'execute' && rows > 0) text = `Running the query… ${plural(rows, 'row')}`;
        setText(turn.statusText, text);
      }
      this.renderMeta(turn);
    }
    if (changed('analysis')) {
      renderMarkdown(turn.answer, model.analysis);
      show(turn.answer, model.analysis.length > 0);
    }
    if (changed('errors')) renderFatal(turn.fatal, model.fatal, model.question, this.ask);
    if (changed('notices')) renderNotices(turn.notices, model.notices, model.question, this.ask);
  }

  private renderMeta(turn: TurnEntry): void {
    const model = turn.model;
    const rows = model.totalRows ?? model.results.reduce((n, r) => n + r.received, 0);
    const parts = [
      model.results.length || model.totalRows !== undefined ? `${plural(rows, 'row')} (see the Results view)` : '',
      formatDuration(elapsedMs(model, Date.now())),
      usageText(model) ?? '',
    ].filter(Boolean);
    setText(turn.meta, parts.join(' · '));
  }

  private saveSoon(delay = 500): void {
    if (this.saveTimer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.saveTimer);
    }
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      const turns = this.turns.slice(-MAX_TURNS_KEPT).map((t) => snapshotSession(t.model));
      this.api.setState({ v: 1, view: 'chat', turns, followUp: this.followUp, draft: this.input.value });
    }, delay);
  }

  dispose(): void {
    if (this.clock) clearInterval(this.clock);
  }
}
