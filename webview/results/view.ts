/**
 * The results view: one session at a time — steps, progress, sources and schema, the query as it grows, each
 * result in a virtual table, the analysis, errors. Host messages are queued and applied once per animation
 * frame; only the sections whose revision moved are redrawn. Saving and resuming: see ../state.ts.
 */
import type { CenecaEvent } from '../../src/core/events';
import type { HostMessage, WebviewMessage } from '../../src/vscode/protocol';
import { NOTICE_TEXT, elapsedMs, etaText, isHostMessage, renderFatal, renderNotices, stateLabel, usageText } from '../common';
import { button, el, replaceChildren, setText, show } from '../dom';
import { formatCount, formatDuration, plural } from '../format';
import { renderMarkdown } from '../markdown';
import type { QueryModel, ResultModel, Section, SessionModel } from '../model';
import { STEP_LABELS, addNotice, applyEvent, newSession } from '../model';
import { FrameScheduler } from '../scheduler';
import { acceptEvents, markRowsLost, needsFullReplay, restoreResultsState, snapshotSession, type ResultsViewState } from '../state';
import { VirtualTable } from '../table';
import type { HostApi } from '../vscode';
import { renderHighlighted } from './sql';

const SAVE_DELAY_MS = 500;
const RESUME_ASK_INTERVAL_MS = 1000;

interface TableEntry {
  section: HTMLElement;
  caption: HTMLElement;
  status: HTMLElement;
  lost: HTMLElement;
  table: VirtualTable;
  result: ResultModel;
  version: number;
}

interface QueryEntry {
  wrap: HTMLElement;
  label: HTMLElement;
  state: HTMLElement;
  code: HTMLElement;
  open: HTMLButtonElement;
  text: string;
  language: string;
}

export class ResultsView {
  private model: SessionModel | undefined;
  /** The full replay being rebuilt after a reload that dropped rows (state.ts, case 2). */
  private replay: SessionModel | undefined;
  private queue: HostMessage[] = [];
  private readonly frames = new FrameScheduler(() => this.flush());
  private lastResumeAsk = { lastId: -1, at: 0 };
  private gapRetriedFrom = -1;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private exportTarget: string | undefined;
  private rendered: { model: SessionModel | undefined; rev: Record<Section, number> } = { model: undefined, rev: blankRev() };
  private readonly tables = new Map<string, TableEntry>();
  private readonly queries = new Map<string, QueryEntry>();
  private clock: ReturnType<typeof setInterval> | undefined;

  private readonly dom = {
    empty: el('div', { class: 'empty', text: 'No question yet. Ask one with “Ceneca: Ask a Question…” or from the Ceneca chat.' }),
    session: el('div', { class: 'session' }),
    question: el('h2', { class: 'question' }),
    badge: el('span', { class: 'badge' }),
    elapsed: el('span', { class: 'elapsed' }),
    eta: el('span', { class: 'eta' }),
    rows: el('span', { class: 'rowcount' }),
    usage: el('span', { class: 'usage' }),
    status: el('div', { class: 'status-line', attrs: { role: 'status' } }),
    cancel: el('button', { class: 'secondary cancel', text: 'Cancel', attrs: { type: 'button' } }),
    progress: el('div', { class: 'progress', attrs: { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': 'Progress' } }),
    progressFill: el('div', { class: 'progress-fill' }),
    notices: el('div', { class: 'notices', attrs: { 'aria-live': 'polite' } }),
    fatal: el('div', { class: 'error-panel', attrs: { role: 'alert' } }),
    steps: el('ol', { class: 'steps', attrs: { 'aria-label': 'Steps' } }),
    sources: el('section', { class: 'sources' }),
    queries: el('section', { class: 'queries' }),
    results: el('section', { class: 'results' }),
    analysisWrap: el('section', { class: 'analysis' }),
    analysis: el('div', { class: 'markdown' }),
  };

  constructor(
    private readonly root: HTMLElement,
    private readonly api: HostApi<ResultsViewState>,
  ) {
    const d = this.dom;
    d.progress.append(d.progressFill);
    d.cancel.addEventListener('click', () => {
      if (this.model?.state === 'running') this.post({ kind: 'cancel', session: this.model.session });
    });
    d.analysisWrap.append(el('h3', { text: 'Analysis' }), d.analysis);
    d.session.append(
      el('header', { class: 'head' }, d.question, el('div', { class: 'meta' }, d.badge, d.elapsed, d.eta, d.rows, d.usage), el('div', { class: 'actions' }, d.cancel)),
      d.progress,
      d.status,
      d.notices,
      d.fatal,
      d.steps,
      d.sources,
      d.queries,
      d.results,
      d.analysisWrap,
    );
    root.classList.add('view-results');
    root.append(d.empty, d.session);
  }

  start(): void {
    window.addEventListener('message', (event: MessageEvent) => {
      if (!isHostMessage(event.data)) return;
      this.queue.push(event.data);
      this.frames.request();
    });
    const saved = restoreResultsState(this.api.getState());
    this.model = saved;
    // Rows were dropped from the saved state: rebuild from a full replay (state.ts, case 2).
    if (saved && needsFullReplay(saved)) this.replay = newSession(saved.session, saved.question, saved.startedAt, true);
    this.render();
    if (saved && this.replay) this.post({ kind: 'ready', view: 'results', session: saved.session, lastId: 0 });
    else this.post({ kind: 'ready', view: 'results', ...(saved ? { session: saved.session } : {}), lastId: saved?.lastId ?? 0 });
    this.clock = setInterval(() => {
      if (this.model?.state === 'running') this.renderHead(this.model);
    }, 1000);
  }

  private post(message: WebviewMessage): void {
    this.api.postMessage(message);
  }

  private ask = (question: string): void => {
    this.post({ kind: 'ask', question });
  };

  private flush(): void {
    const messages = this.queue;
    this.queue = [];
    for (const message of messages) this.handle(message);
    this.render();
    this.scheduleSave();
  }

  private handle(message: HostMessage): void {
    switch (message.kind) {
      case 'session':
        if (!this.model || this.model.session !== message.session) {
          this.model = newSession(message.session, message.question, message.startedAt, true);
          this.replay = undefined;
          this.exportTarget = undefined;
          this.gapRetriedFrom = -1;
          this.saveSoon(0);
        } else if (!this.model.question && message.question) {
          this.model.question = message.question;
          this.model.rev.head++;
        }
        break;
      case 'events':
        this.applyEvents(message.session, message.events);
        break;
      case 'resume-gap':
        this.onResumeGap(message);
        break;
      case 'session-gone': {
        const model = this.model;
        if (!model || model.session !== message.session) return;
        this.replay = undefined;
        if (model.state === 'running') model.state = 'interrupted';
        addNotice(model, { kind: 'session-gone', text: NOTICE_TEXT.gone });
        model.rev.head++;
        break;
      }
      case 'export-request': {
        const result = this.model?.results.find((r) => r.id === this.exportTarget) ?? this.model?.results[this.model.results.length - 1];
        const columns = result ? result.columns.map((c) => c.name) : [];
        const width = columns.length;
        const rows = result ? result.rows.map((row) => (row.length >= width ? row : row.concat(new Array<null>(width - row.length).fill(null)))) : [];
        this.post({ kind: 'export-data', requestId: message.requestId, format: message.format, columns, rows });
        break;
      }
    }
  }

  private applyEvents(session: string, events: readonly CenecaEvent[]): void {
    if (events.length === 0) return;
    if (!this.model) this.model = newSession(session, '', events[0]!.ts, true);
    const target = this.replay ?? this.model;
    if (target.session !== session) return;
    const now = Date.now();
    const outcome = acceptEvents(target, events, (event) => applyEvent(target, event, now));
    if (this.replay && this.replay.lastId >= this.model.lastId) {
      // The full replay has caught up with the snapshot: it replaces it (every row once).
      this.model = this.replay;
      this.replay = undefined;
      this.saveSoon(0);
    }
    if (outcome.gapAfter !== undefined) this.askResume(session, outcome.gapAfter);
  }

  /** Asks the host to resend after `lastId` (once per second at most for the same id). */
  private askResume(session: string, lastId: number, force = false): void {
    const now = Date.now();
    if (!force && this.lastResumeAsk.lastId === lastId && now - this.lastResumeAsk.at < RESUME_ASK_INTERVAL_MS) return;
    this.lastResumeAsk = { lastId, at: now };
    this.post({ kind: 'ready', view: 'results', session, lastId });
  }

  private onResumeGap(message: Extract<HostMessage, { kind: 'resume-gap' }>): void {
    const model = this.model;
    if (!model || model.session !== message.session) return;
    if (!model.question && message.question) model.question = message.question;
    if (this.replay) {
      // The full replay is refused: keep the snapshot, say which rows are missing (state.ts, case 3).
      this.replay = undefined;
      markRowsLost(model);
    }
    if (message.firstId <= model.lastId + 1 && this.gapRetriedFrom !== model.lastId) {
      // Everything after what this view holds is still there: resume from it.
      this.gapRetriedFrom = model.lastId;
      this.askResume(model.session, model.lastId, true);
      return;
    }
    if (model.state === 'running') model.state = 'interrupted';
    addNotice(model, { kind: 'resume-gap', text: NOTICE_TEXT.gap });
    model.rev.head++;
  }

  private saveSoon(delay = SAVE_DELAY_MS): void {
    if (this.saveTimer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.saveTimer);
    }
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.api.setState({ v: 1, view: 'results', ...(this.model ? { session: snapshotSession(this.model) } : {}) });
    }, delay);
  }

  private scheduleSave(): void {
    this.saveSoon(this.model && this.model.state !== 'running' ? 0 : SAVE_DELAY_MS);
  }

  // ---- rendering -------------------------------------------------------------------------------------------

  private render(): void {
    const model = this.model;
    show(this.dom.empty, !model);
    show(this.dom.session, !!model);
    if (!model) return;
    const fresh = this.rendered.model !== model;
    if (fresh) {
      if (this.rendered.model?.session !== model.session) {
        for (const entry of this.tables.values()) entry.section.remove();
        this.tables.clear();
        for (const entry of this.queries.values()) entry.wrap.remove();
        this.queries.clear();
      }
      this.rendered = { model, rev: blankRev() };
    }
    const rev = this.rendered.rev;
    const changed = (section: Section): boolean => {
      if (rev[section] === model.rev[section]) return false;
      rev[section] = model.rev[section];
      return true;
    };
    if (changed('head') || changed('results') || fresh) this.renderHead(model);
    if (changed('steps')) this.renderSteps(model);
    if (changed('notices')) renderNotices(this.dom.notices, model.notices, model.question, this.ask);
    if (changed('errors')) renderFatal(this.dom.fatal, model.fatal, model.question, this.ask);
    if (changed('sources')) this.renderSources(model);
    if (changed('queries')) this.renderQueries(model);
    this.renderResults(model, fresh);
    if (changed('analysis')) {
      show(this.dom.analysisWrap, model.analysis.length > 0);
      renderMarkdown(this.dom.analysis, model.analysis);
    }
  }

  private renderHead(model: SessionModel): void {
    const d = this.dom;
    const now = Date.now();
    setText(d.question, model.question || '(question not known)');
    setText(d.badge, stateLabel(model));
    d.badge.dataset.state = model.state;
    d.session.dataset.state = model.state;
    setText(d.elapsed, `Elapsed ${formatDuration(elapsedMs(model, now))}`);
    const eta = etaText(model, now);
    setText(d.eta, eta ?? '');
    show(d.eta, eta !== undefined);
    const rows = model.results.reduce((n, r) => n + r.received, 0);
    setText(d.rows, model.results.length ? plural(rows, 'row') : '');
    const usage = usageText(model);
    setText(d.usage, usage ?? '');
    show(d.usage, usage !== undefined);
    show(d.cancel, model.state === 'running');
    setText(d.status, model.status);
    show(d.status, model.state === 'running' && model.status !== '');
    const percentage = model.state === 'complete' ? 100 : Math.round(model.progress?.percentage ?? 0);
    d.progressFill.style.width = `${percentage}%`;
    d.progress.setAttribute('aria-valuenow', String(percentage));
    d.progress.dataset.state = model.state;
  }

  private renderSteps(model: SessionModel): void {
    replaceChildren(
      this.dom.steps,
      ...model.steps.map((step) =>
        el(
          'li',
          { class: `step step-${step.status}`, attrs: { 'data-step': step.id, 'data-status': step.status } },
          el('span', { class: 'step-icon', attrs: { 'aria-hidden': 'true' } }),
          el('span', { class: 'step-label', text: STEP_LABELS[step.id] }),
          el('span', { class: 'step-status', text: step.status }),
          step.detail ? el('span', { class: 'step-detail', text: step.detail }) : null,
          step.notices.length ? el('ul', { class: 'step-notices' }, ...step.notices.map((n) => el('li', { class: 'step-notice', text: n }))) : null,
        ),
      ),
    );
  }

  private renderSources(model: SessionModel): void {
    const tables = model.schema.reduce((n, s) => n + s.tables.length, 0);
    replaceChildren(
      this.dom.sources,
      model.sources.length
        ? el(
            'div',
            { class: 'chosen' },
            el('h3', { text: 'Sources' }),
            el('ul', { class: 'chips' }, ...model.sources.map((s) => el('li', { class: 'chip', title: s.reason, text: `${s.id} (${s.kind})` }))),
            el('ul', { class: 'reasons' }, ...model.sources.map((s) => el('li', { text: `${s.id}: ${s.reason}` }))),
          )
        : null,
      model.operations.length
        ? el(
            'div',
            { class: 'operations' },
            el('h3', { text: 'Plan' }),
            el('ol', {}, ...model.operations.map((op) => el('li', { attrs: { 'data-status': op.status }, text: `${op.id} · ${op.source}: ${op.goal} (${op.status})` }))),
          )
        : null,
      tables
        ? el(
            'details',
            { class: 'schema' },
            el('summary', { text: `Schema: ${plural(tables, 'table')} found` }),
            ...model.schema.map((s) =>
              el(
                'ul',
                { class: 'schema-tables', attrs: { 'aria-label': `Schema of ${s.source}` } },
                ...s.tables.map((t) =>
                  el(
                    'li',
                    { class: 'schema-table' },
                    el('span', { class: 'schema-name', text: t.name }),
                    el('span', { class: 'schema-kind', text: ` ${t.kind}` }),
                    el('span', { class: 'schema-score', text: ` · score ${t.score.toFixed(2)}` }),
                    t.fields.length ? el('div', { class: 'schema-fields', text: t.fields.join(', ') }) : null,
                  ),
                ),
              ),
            ),
          )
        : null,
    );
  }

  private renderQueries(model: SessionModel): void {
    for (const query of model.queries) {
      let entry = this.queries.get(query.key);
      if (!entry) {
        entry = this.createQueryEntry(query);
        this.queries.set(query.key, entry);
        this.dom.queries.append(entry.wrap);
      }
      setText(entry.label, `Query · ${query.source}${query.operationId ? ` · ${query.operationId}` : ''} (${query.language})`);
      const state = query.ok === false ? `invalid: ${query.problems.join('; ')}` : query.ok ? 'validated' : query.final ? 'complete' : 'writing…';
      setText(entry.state, state);
      entry.wrap.dataset.state = query.ok === false ? 'invalid' : query.final ? 'final' : 'partial';
      if (entry.text !== query.text || entry.language !== query.language) {
        entry.text = query.text;
        entry.language = query.language;
        renderHighlighted(entry.code, query.text, query.language);
      }
      entry.open.disabled = query.text.trim().length === 0;
    }
  }

  private createQueryEntry(query: QueryModel): QueryEntry {
    const label = el('span', { class: 'query-label' });
    const state = el('span', { class: 'query-state' });
    const code = el('code', { class: `lang-${query.language}` });
    const key = query.key;
    const open = button(
      'Open in editor',
      () => {
        const current = this.model?.queries.find((q) => q.key === key);
        if (current && current.text.trim()) this.post({ kind: 'open-query', query: current.text, language: current.language });
      },
      { class: 'secondary open-query' },
    );
    const wrap = el('div', { class: 'query', attrs: { 'data-key': key } }, el('div', { class: 'query-head' }, label, state, open), el('pre', { class: 'query-text' }, code));
    return { wrap, label, state, code, open, text: '', language: query.language };
  }

  private renderResults(model: SessionModel, fresh: boolean): void {
    for (const result of model.results) {
      let entry = this.tables.get(result.id);
      if (!entry) {
        entry = this.createTableEntry(result);
        this.tables.set(result.id, entry);
        this.dom.results.append(entry.section);
      } else if (entry.result !== result) {
        entry.result = result;
        entry.table.setSource(result);
        entry.version = -1;
      }
      if (entry.version === result.version && !fresh) continue;
      entry.version = result.version;
      entry.table.update();
      this.renderResultStatus(entry, result);
    }
  }

  private createTableEntry(result: ResultModel): TableEntry {
    const caption = el('h3', { class: 'result-caption' });
    const status = el('div', { class: 'result-status', attrs: { 'aria-live': 'polite' } });
    const lost = el('div', { class: 'notice notice-rows-lost', attrs: { role: 'status' } });
    const id = result.id;
    const exportButton = (format: 'csv' | 'json'): HTMLButtonElement =>
      button(
        `Export ${format.toUpperCase()}`,
        () => {
          this.exportTarget = id;
          this.post({ kind: 'export', format });
        },
        { class: `secondary export export-${format}` },
      );
    const table = new VirtualTable(result, {
      label: `Rows of ${result.source}`,
      onCopy: (text) => this.post({ kind: 'copy', text }),
    });
    const section = el(
      'section',
      { class: 'result', attrs: { 'data-result': id } },
      el('div', { class: 'result-head' }, caption, el('div', { class: 'actions' }, exportButton('csv'), exportButton('json'))),
      status,
      lost,
      table.element,
    );
    return { section, caption, status, lost, table, result, version: -1 };
  }

  private renderResultStatus(entry: TableEntry, result: ResultModel): void {
    setText(entry.caption, `Result · ${result.source}${result.operationId ? ` · ${result.operationId}` : ''}`);
    const parts: string[] = [];
    if (result.complete) {
      parts.push(`${plural(result.rowCount ?? result.received, 'row')} in ${formatDuration(result.elapsedMs ?? 0)}`);
      if (result.truncated) parts.push(`truncated at ${formatCount(result.rowCount ?? result.received)} rows`);
    } else {
      parts.push(`${plural(result.received, 'row')} so far…`);
    }
    if (result.columns.length) parts.push(plural(result.columns.length, 'column'));
    setText(entry.status, parts.join(' · '));
    entry.status.dataset.truncated = String(result.truncated === true);
    const missing = result.rows.length < result.received;
    let lostText = '';
    if (missing && result.lostRows) {
      lostText = `Showing the first ${formatCount(result.rows.length)} of ${formatCount(result.received)} rows kept across the reload; re-run for all.`;
    } else if (missing && this.replay) {
      lostText = `Showing the first ${formatCount(result.rows.length)} of ${formatCount(result.received)} rows while the rest is replayed…`;
    }
    if (lostText) {
      const question = this.model?.question ?? '';
      replaceChildren(entry.lost, el('span', { class: 'notice-text', text: lostText }), question && result.lostRows ? button('Re-run', () => this.ask(question), { class: 'secondary rerun' }) : null);
    }
    show(entry.lost, lostText !== '');
  }

  dispose(): void {
    if (this.clock) clearInterval(this.clock);
  }
}

function blankRev(): Record<Section, number> {
  return { head: -1, steps: -1, sources: -1, queries: -1, results: -1, analysis: -1, errors: -1, notices: -1 };
}
