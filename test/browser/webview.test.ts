/**
 * The webview bundle in headless Chromium (Debian `chromium` + playwright-core): the BUILT dist/webview/main.js
 * and main.css in the page renderWebviewHtml makes (real CSP), a stub acquireVsCodeApi, and recorded-style event
 * streams delivered through window.postMessage as the host would. Screenshots go to test-output/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { findContractProblems } from '../../src/core/contract';
import type { CenecaEvent } from '../../src/core/events';
import type { HostMessage } from '../../src/vscode/protocol';
import { makeNonce, renderWebviewHtml } from '../../webview/html';
import { buildWebview } from '../../scripts/build-webview.mjs';
import { launchChromium, type LaunchedChromium } from '../support/chromium';
import { DEFAULT_SQL, defaultRow, eventMessages, indexOfType, makeStream, sessionMessage } from '../support/event-streams';
import { WebviewHarness, type ViewPage } from '../support/webview-harness';

const ROOT = join(__dirname, '..', '..');
const OUTPUT = join(ROOT, 'test-output');
const QUESTION = 'Which orders were the biggest?';
const HOSTILE_SCRIPT = '<script>window.__pwned=1</script>';
const HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">';

let chromium: LaunchedChromium;
let browser: Browser;
let harness: WebviewHarness;
const open: ViewPage[] = [];

async function openView(view: 'results' | 'chat', state?: unknown): Promise<ViewPage> {
  const page = await harness.open(browser, view, state);
  open.push(page);
  return page;
}

async function reload(page: ViewPage): Promise<ViewPage> {
  const next = await page.reload();
  open.push(next);
  return next;
}

/** Sends a whole stream: the session message, then events in host-sized messages. */
async function play(view: ViewPage, events: readonly CenecaEvent[], perMessage = 10, question = QUESTION): Promise<void> {
  await view.deliver(sessionMessage(events, question), ...eventMessages(events, perMessage));
}

function events(list: readonly CenecaEvent[]): HostMessage {
  return { kind: 'events', session: list[0]!.session, events: [...list] };
}

interface GridInfo {
  domRows: number;
  rowcount: string | null;
  headers: string[];
  rows: Array<{ index: number; cells: string[] }>;
}

function grid(view: ViewPage, result = 0): Promise<GridInfo> {
  return view.page.evaluate((n) => {
    const element = document.querySelectorAll('[role="grid"]')[n];
    if (!element) throw new Error(`no grid #${n}`);
    const rows = Array.from(element.querySelectorAll('.grid-layer [role="row"]')).filter((r) => !(r as HTMLElement).hidden);
    return {
      domRows: element.querySelectorAll('[role="row"]').length,
      rowcount: element.getAttribute('aria-rowcount'),
      headers: Array.from(element.querySelectorAll('[role="columnheader"]')).map((c) => c.textContent ?? ''),
      rows: rows.map((r) => ({ index: Number(r.getAttribute('aria-rowindex')), cells: Array.from(r.querySelectorAll('[role="gridcell"]')).map((c) => c.textContent ?? '') })),
    };
  }, result);
}

/** Rows actually on screen (inside the grid's visible area, under the header). */
function visibleRows(view: ViewPage): Promise<Array<{ index: number; cells: string[] }>> {
  return view.page.evaluate(() => {
    const element = document.querySelector('[role="grid"]')!;
    const box = element.getBoundingClientRect();
    const header = element.querySelector('.grid-header')!.getBoundingClientRect();
    return Array.from(element.querySelectorAll('.grid-layer [role="row"]'))
      .filter((r) => {
        const b = r.getBoundingClientRect();
        return !(r as HTMLElement).hidden && b.top >= header.bottom - 1 && b.bottom <= box.bottom + 1;
      })
      .map((r) => ({ index: Number(r.getAttribute('aria-rowindex')), cells: Array.from(r.querySelectorAll('[role="gridcell"]')).map((c) => c.textContent ?? '') }));
  });
}

async function scrollGrid(view: ViewPage, to: 'end' | number): Promise<void> {
  await view.page.evaluate(async (target) => {
    const element = document.querySelector('[role="grid"]') as HTMLElement;
    element.scrollTop = target === 'end' ? element.scrollHeight : target;
    await new Promise((resolve) => requestAnimationFrame(resolve));
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }, to);
}

async function stepStatuses(view: ViewPage): Promise<Record<string, string>> {
  return view.page.evaluate(() => Object.fromEntries(Array.from(document.querySelectorAll('.steps [data-step]')).map((li) => [li.getAttribute('data-step'), li.getAttribute('data-status')])));
}

function text(view: ViewPage, selector: string): Promise<string> {
  return view.page.evaluate((s) => Array.from(document.querySelectorAll(s)).map((e) => e.textContent ?? '').join('\n'), selector);
}

/** Asks the view for its rows the way the host does for an export, and returns its answer. */
async function exportedRows(view: ViewPage): Promise<{ columns: string[]; rows: unknown[][] }> {
  const requestId = Math.floor(Math.random() * 1e6);
  await view.deliver({ kind: 'export-request', requestId, format: 'json' });
  const answer = (await view.postedOf('export-data')).find((m) => m.requestId === requestId);
  assert.ok(answer, 'the view answered the export request');
  return answer;
}

function assertEveryRowOnce(rows: unknown[][], count: number): void {
  assert.equal(rows.length, count, 'row count');
  for (let i = 0; i < count; i++) if (rows[i]![0] !== i) assert.fail(`row ${i} holds id ${String(rows[i]![0])}: a duplicate or a gap`);
}

async function assertInert(view: ViewPage): Promise<void> {
  const found = await view.page.evaluate(() => ({
    pwned: (window as unknown as { __pwned?: unknown }).__pwned,
    scripts: document.querySelectorAll('#app script').length,
    handlers: Array.from(document.querySelectorAll('#app *')).flatMap((e) => Array.from(e.attributes).filter((a) => a.name.toLowerCase().startsWith('on')).map((a) => `${e.tagName}.${a.name}`)),
    jsLinks: Array.from(document.querySelectorAll('#app a')).filter((a) => /^\s*javascript:/i.test(a.getAttribute('href') ?? '')).length,
  }));
  assert.equal(found.pwned, undefined, 'hostile data ran');
  assert.equal(found.scripts, 0, 'a <script> element reached the DOM');
  assert.deepEqual(found.handlers, [], 'an event-handler attribute reached the DOM');
  assert.equal(found.jsLinks, 0, 'a javascript: link reached the DOM');
}

describe('webview (headless Chromium)', function () {
  before(async function () {
    this.timeout(600_000);
    await buildWebview();
    chromium = await launchChromium();
    browser = chromium.browser;
    harness = await WebviewHarness.start();
    mkdirSync(OUTPUT, { recursive: true });
  });

  afterEach(async function () {
    const pages = open.splice(0);
    const problems = pages.flatMap((p) => p.problems);
    await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
    if (this.currentTest?.state === 'passed') assert.deepEqual(problems, [], 'CSP violations or page errors');
  });

  after(async function () {
    this.timeout(60_000);
    await harness?.close();
    await chromium?.close();
  });

  describe('html and bundle', () => {
    it('renders a strict CSP with the nonce and the view', () => {
      const nonce = makeNonce();
      const html = renderWebviewHtml({ view: 'chat', scriptUri: 'https://res.test/main.js', styleUri: 'https://res.test/main.css', cspSource: 'https://res.test', nonce });
      assert.match(nonce, /^[A-Za-z0-9]{32}$/);
      assert.notEqual(makeNonce(), nonce);
      assert.ok(html.includes(`content="default-src 'none'; img-src https://res.test data:; style-src https://res.test; script-src 'nonce-${nonce}'; font-src https://res.test"`), html);
      assert.ok(html.includes('<body data-view="chat">'));
      assert.ok(html.includes(`<script nonce="${nonce}" src="https://res.test/main.js"></script>`));
      assert.equal((html.match(/<script/g) ?? []).length, 1);
      assert.ok(!/style=/.test(html), 'no inline style');
      assert.throws(() => renderWebviewHtml({ view: 'chat', scriptUri: 'a', styleUri: 'b', cspSource: 'x; script-src *', nonce }));
      assert.throws(() => renderWebviewHtml({ view: 'chat', scriptUri: 'a', styleUri: 'b', cspSource: 'x', nonce: 'short' }));
    });

    it('keeps zod (and the rest of the engine) out of the browser bundle', () => {
      const bundle = readFileSync(join(ROOT, 'dist/webview/main.js'), 'utf8');
      assert.ok(!/zod|ZodError|safeParse/i.test(bundle), 'zod landed in the webview bundle');
      assert.ok(bundle.length < 400_000, `bundle is ${bundle.length} bytes`);
    });
  });

  describe('results view', () => {
    it('posts ready on load and walks the step list through the phases', async () => {
      const view = await openView('results');
      assert.deepEqual(await view.posted(), [{ kind: 'ready', view: 'results', lastId: 0 }]);
      const stream = makeStream({ rows: 20 });
      await view.deliver(sessionMessage(stream));
      // Each step re-sends the stream from the start up to an event: the ids already applied are ignored.
      const upTo = (type: CenecaEvent['type']): Promise<void> => view.deliver(events(stream.slice(0, indexOfType(stream, type) + 1)));
      await upTo('classifying');
      let steps = await stepStatuses(view);
      assert.equal(steps.classify, 'running');
      assert.equal(steps.schema, 'pending');
      assert.match(await text(view, '.badge'), /Running/);
      assert.equal(await view.page.isVisible('.cancel'), true);
      await upTo('schema_loading');
      steps = await stepStatuses(view);
      assert.equal(steps.classify, 'done');
      assert.equal(steps.schema, 'running');
      assert.match(await text(view, '.sources .chips'), /shop \(postgres\)/);
      await upTo('partial_query');
      steps = await stepStatuses(view);
      assert.equal(steps.schema, 'done');
      assert.equal(steps.generate, 'running');
      assert.match(await text(view, '.schema summary'), /2 tables found/);
      assert.match(await text(view, '.eta'), /^ETA ~/, 'an ETA from progress.etaMs');
      const progress = Number(await view.page.getAttribute('.progress', 'aria-valuenow'));
      assert.ok(progress > 0 && progress < 100, `progress ${progress}`);
      await upTo('query_validated');
      steps = await stepStatuses(view);
      assert.equal(steps.generate, 'done');
      assert.equal(steps.validate, 'done');
      await upTo('partial_results');
      steps = await stepStatuses(view);
      assert.equal(steps.execute, 'running');
      await upTo('analysis_chunk');
      steps = await stepStatuses(view);
      assert.equal(steps.execute, 'done');
      assert.equal(steps.analyze, 'running');
      await view.deliver(events(stream));
      steps = await stepStatuses(view);
      assert.deepEqual(steps, { classify: 'done', schema: 'done', generate: 'done', validate: 'done', execute: 'done', analyze: 'done' });
      assert.match(await text(view, '.badge'), /Done/);
      assert.equal(await view.page.isVisible('.cancel'), false);
      assert.equal(await view.page.getAttribute('.progress', 'aria-valuenow'), '100');
      assert.match(await text(view, '.usage'), /Tokens: 2,100 in · 230 out/);
      assert.match(await text(view, '.result-status'), /20 rows in 420 ms/);
    });

    it('shows the query growing, highlighted, and opens it in an editor', async () => {
      const view = await openView('results');
      const stream = makeStream({ sqlPieces: 8 });
      const first = indexOfType(stream, 'partial_query');
      await view.deliver(sessionMessage(stream), events(stream.slice(0, first)));
      assert.equal(await view.page.$$eval('.query', (q) => q.length), 0);
      const seen: string[] = [];
      for (let i = first; i < stream.length; i++) {
        const event = stream[i]!;
        await view.deliver(events([event]));
        if (event.type === 'partial_query') {
          const shown = await text(view, '.query-text code');
          assert.equal(shown, event.text, `after ${event.id}`);
          seen.push(shown);
        }
        if (event.type === 'query_complete') break;
      }
      assert.ok(seen.length >= 6 && seen[0]!.length < seen[seen.length - 1]!.length, 'the query grew');
      assert.equal(await text(view, '.query-text code'), DEFAULT_SQL);
      const keywords = await view.page.$$eval('.query-text .tok-keyword', (spans) => spans.map((s) => s.textContent));
      assert.ok(keywords.includes('SELECT') && keywords.includes('ORDER'), keywords.join(','));
      assert.deepEqual(await view.page.$$eval('.query-text .tok-string', (s) => s.map((e) => e.textContent)), ["'NL'"]);
      assert.equal(await view.page.$$eval('.query-text .tok-comment', (s) => s.length), 1);
      await view.page.click('.open-query');
      assert.deepEqual(await view.postedOf('open-query'), [{ kind: 'open-query', query: DEFAULT_SQL, language: 'sql' }]);
    });

    it('streams 100,000 rows into a virtual table: bounded DOM, aria-rowcount, last row reachable, late column', async function () {
      this.timeout(180_000);
      const view = await openView('results');
      const stream = makeStream({ rows: 100_000, batchSize: 1000, extraColumnAt: 60_000, truncated: true });
      await view.deliver(sessionMessage(stream));
      const firstRows = indexOfType(stream, 'partial_results');
      await view.deliver(events(stream.slice(0, firstRows + 1)));
      let info = await grid(view);
      assert.deepEqual(info.headers, ['id', 'name', 'total', 'shipped_at'], 'headers as soon as the columns arrive');
      assert.equal(info.rowcount, '1001');
      for (const message of eventMessages(stream.slice(firstRows + 1), 20)) {
        await view.page.evaluate((m) => window.postMessage(m, '*'), message);
      }
      await view.deliver();
      info = await grid(view);
      assert.equal(info.rowcount, '100001', 'aria-rowcount counts the header row');
      assert.ok(info.domRows < 200, `DOM rows ${info.domRows}`);
      assert.deepEqual(info.headers, ['id', 'name', 'total', 'shipped_at', 'region'], 'the column a later batch added');
      assert.deepEqual(info.rows[0], { index: 2, cells: ['0', 'name 0', '0', 'NULL', ''] });
      assert.match(await text(view, '.result-status'), /100,000 rows in 420 ms · truncated at 100,000 rows/);
      assert.match(await text(view, '.rowcount'), /100,000 rows/);
      await scrollGrid(view, 'end');
      const visible = await visibleRows(view);
      const last = visible[visible.length - 1]!;
      assert.deepEqual(last, { index: 100_001, cells: [...defaultRow(99_999).map((c) => (c === null ? 'NULL' : String(c))), 'region 99999'] });
      assert.ok((await grid(view)).domRows < 200);
      await scrollGrid(view, (60_000 - 5) * 22);
      const middle = await visibleRows(view);
      assert.ok(middle.some((r) => r.index === 60_002 && r.cells[4] === 'region 60000'), JSON.stringify(middle.slice(0, 3)));
      assert.ok(middle.some((r) => r.index === 60_001 && r.cells[4] === ''), 'a row from before the new column has an empty cell');
      await view.page.screenshot({ path: join(OUTPUT, 'results-100k-rows.png'), fullPage: true });
    });

    it('renders hostile cell values and hostile markdown inert', async () => {
      const view = await openView('results');
      const hostile = [HOSTILE_SCRIPT, HOSTILE_IMG, '"><svg onload=window.__pwned=1>', 'javascript:window.__pwned=1'];
      const stream = makeStream({
        rows: 4,
        row: (i) => [i, hostile[i]!, i, hostile[(i + 1) % 4]!],
        analysis: `Done. ${HOSTILE_SCRIPT}\n\n${HOSTILE_IMG}\n\n[x](javascript:alert(1)) and [ok](https://example.com)\n\n<a href="javascript:window.__pwned=1">y</a> <iframe src="javascript:1"></iframe>`,
      });
      await play(view, stream);
      await assertInert(view);
      const cells = (await grid(view)).rows.map((r) => r.cells[1]);
      assert.deepEqual(cells, hostile, 'hostile values show as text');
      assert.match(await text(view, '.analysis .markdown'), /Done\. <script>window\.__pwned=1<\/script>/, 'raw HTML in the analysis shows as text');
      assert.equal(await view.page.$$eval('.analysis a[href="https://example.com"]', (a) => a.length), 1, 'safe links stay');
      assert.equal(await view.page.$$eval('.analysis iframe, .analysis img[onerror]', (a) => a.length), 0);
    });

    it('ignores duplicate event batches', async () => {
      const view = await openView('results');
      const stream = makeStream({ rows: 300, batchSize: 50 });
      const messages = eventMessages(stream, 7);
      await view.deliver(sessionMessage(stream), messages[0]!, messages[1]!, messages[0]!, messages[1]!, messages[2]!);
      await view.deliver(...messages, ...messages, events(stream.slice(3, 30)));
      await view.deliver(sessionMessage(stream));
      const { rows } = await exportedRows(view);
      assertEveryRowOnce(rows, 300);
      assert.equal((await grid(view)).rowcount, '301');
      assert.equal(await text(view, '.query-text code'), DEFAULT_SQL);
      const analysis = stream.filter((e) => e.type === 'analysis_chunk').length;
      assert.ok(analysis > 1);
      assert.equal((await text(view, '.analysis .markdown')).match(/biggest/g)?.length, 1, 'analysis not doubled');
      assert.equal(await view.page.$$eval('.result', (r) => r.length), 1);
    });

    it('asks for a resume instead of applying events that skip ahead', async () => {
      const view = await openView('results');
      const stream = makeStream({ rows: 200, batchSize: 20 });
      await view.deliver(sessionMessage(stream), events(stream.slice(0, 10)));
      await view.clearPosted();
      await view.deliver(events(stream.slice(14, 20)));
      assert.deepEqual(await view.postedOf('ready'), [{ kind: 'ready', view: 'results', session: 'sess-1', lastId: 10 }]);
      await view.deliver(events(stream.slice(16, 22)));
      assert.equal((await view.postedOf('ready')).length, 1, 'one resume request for one gap');
      await view.deliver(events(stream.slice(10)));
      const { rows } = await exportedRows(view);
      assertEveryRowOnce(rows, 200);
      assert.match(await text(view, '.badge'), /Done/);
    });

    it('resumes after a reload from the saved lastId, every row once (rows all kept)', async () => {
      const view = await openView('results');
      const stream = makeStream({ rows: 1500, batchSize: 100 });
      const cut = indexOfType(stream, 'partial_results') + 8;
      await play(view, stream.slice(0, cut));
      const lastId = stream[cut - 1]!.id;
      await view.waitForSave((s) => (s as { session?: { lastId: number } }).session?.lastId === lastId);
      const again = await reload(view);
      assert.deepEqual(await again.posted(), [{ kind: 'ready', view: 'results', session: 'sess-1', lastId }]);
      assert.equal((await grid(again)).rowcount, '801', 'the saved rows show at once');
      assert.deepEqual((await grid(again)).rows[0]!.cells.slice(0, 2), ['0', 'name 0']);
      // The host replays from lastId + 1; an overlapping batch (ids the view has) must not duplicate anything.
      await again.deliver(events(stream.slice(cut - 3)));
      const { rows } = await exportedRows(again);
      assertEveryRowOnce(rows, 1500);
      assert.equal((await grid(again)).rowcount, '1501');
      assert.match(await text(again, '.badge'), /Done/);
      assert.equal(await again.page.isVisible('.notice-rows-lost'), false);
    });

    it('after a reload that dropped rows, rebuilds from a full replay: every row once', async function () {
      this.timeout(60_000);
      const view = await openView('results');
      const stream = makeStream({ rows: 10_000, batchSize: 500 });
      const cut = indexOfType(stream, 'partial_results') + 12; // 6,000 rows delivered
      await play(view, stream.slice(0, cut), 20);
      const lastId = stream[cut - 1]!.id;
      const saved = (await view.waitForSave((s) => (s as { session?: { lastId: number } }).session?.lastId === lastId)) as {
        session: { results: Array<{ rows: unknown[]; received: number }> };
      };
      assert.equal(saved.session.results[0]!.rows.length, 2000, 'the state keeps the first 2,000 rows');
      assert.equal(saved.session.results[0]!.received, 6000);
      const again = await reload(view);
      assert.deepEqual(await again.posted(), [{ kind: 'ready', view: 'results', session: 'sess-1', lastId: 0 }], 'a full replay is asked for');
      assert.equal((await grid(again)).rowcount, '2001');
      assert.match(await text(again, '.notice-rows-lost'), /first 2,000 of 6,000 rows while the rest is replayed/);
      for (const message of eventMessages(stream, 20)) await again.page.evaluate((m) => window.postMessage(m, '*'), message);
      await again.deliver(events(stream.slice(cut - 2)));
      const { rows } = await exportedRows(again);
      assertEveryRowOnce(rows, 10_000);
      assert.equal((await grid(again)).rowcount, '10001');
      assert.equal(await again.page.isVisible('.notice-rows-lost'), false);
      assert.match(await text(again, '.badge'), /Done/);
      await scrollGrid(again, 'end');
      assert.deepEqual((await visibleRows(again)).pop()!.cells.slice(0, 2), ['9999', 'name 9999']);
    });

    it('when the host cannot replay the dropped rows, says so and resumes after what it kept', async function () {
      this.timeout(60_000);
      const view = await openView('results');
      const stream = makeStream({ rows: 10_000, batchSize: 500 });
      const cut = indexOfType(stream, 'partial_results') + 12;
      await play(view, stream.slice(0, cut), 20);
      const lastId = stream[cut - 1]!.id;
      await view.waitForSave((s) => (s as { session?: { lastId: number } }).session?.lastId === lastId);
      const again = await reload(view);
      assert.equal((await again.postedOf('ready'))[0]!.lastId, 0);
      await again.clearPosted();
      // The log dropped the early events (byte budget) but still holds everything after the view's lastId.
      await again.deliver({ kind: 'resume-gap', session: 'sess-1', afterId: 0, firstId: lastId - 4, question: QUESTION });
      assert.deepEqual(await again.postedOf('ready'), [{ kind: 'ready', view: 'results', session: 'sess-1', lastId }]);
      await again.deliver(events(stream.slice(cut)));
      assert.equal((await grid(again)).rowcount, '2001', 'only the kept rows are in the table');
      assert.match(await text(again, '.notice-rows-lost'), /Showing the first 2,000 of 10,000 rows kept across the reload; re-run for all\./);
      assert.match(await text(again, '.result-status'), /10,000 rows in 420 ms/);
      assert.match(await text(again, '.badge'), /Done/);
      assert.equal(await again.page.isVisible('.notices .notice-resume-gap'), false, 'later events all arrived: no gap notice');
      const { rows } = await exportedRows(again);
      assertEveryRowOnce(rows, 2000);
      await again.page.click('.notice-rows-lost .rerun');
      assert.deepEqual(await again.postedOf('ask'), [{ kind: 'ask', question: QUESTION }]);
    });

    it('shows a resume-gap notice whose Re-run posts ask', async () => {
      const view = await openView('results');
      const stream = makeStream({ rows: 100, batchSize: 10 });
      const cut = indexOfType(stream, 'partial_results') + 3;
      await play(view, stream.slice(0, cut));
      await view.waitForSave((s) => (s as { session?: { lastId: number } }).session?.lastId === cut);
      const again = await reload(view);
      assert.equal((await again.postedOf('ready'))[0]!.lastId, cut);
      await again.deliver({ kind: 'resume-gap', session: 'sess-1', afterId: cut, firstId: cut + 20, question: QUESTION });
      assert.match(await text(again, '.notices'), /Some events are no longer available/);
      assert.match(await text(again, '.badge'), /Interrupted/);
      assert.equal((await grid(again)).rowcount, '31', 'what it had is kept');
      await again.page.click('.notices .notice-resume-gap .rerun');
      assert.deepEqual(await again.postedOf('ask'), [{ kind: 'ask', question: QUESTION }]);
    });

    it('shows the fatal error with its suggestion, and Retry posts ask', async () => {
      const view = await openView('results');
      const stream = makeStream({ fatal: { at: 'execute', code: 'statement_timeout', message: 'canceling statement due to statement timeout', suggestion: 'narrow the question to fewer rows' } });
      await play(view, stream);
      assert.match(await text(view, '.error-panel'), /canceling statement due to statement timeout/);
      assert.match(await text(view, '.error-panel .error-suggestion'), /narrow the question to fewer rows/);
      assert.equal((await stepStatuses(view)).execute, 'failed');
      assert.equal((await stepStatuses(view)).analyze, 'skipped');
      assert.match(await text(view, '.badge'), /Failed/);
      assert.equal(await view.page.isVisible('.cancel'), false);
      await view.page.click('.error-panel .retry');
      assert.deepEqual(await view.postedOf('ask'), [{ kind: 'ask', question: QUESTION }]);
    });

    it('shows a recoverable validation error as a notice in the step list and goes on', async () => {
      const view = await openView('results');
      const stream = makeStream({ selfCorrect: true });
      await view.deliver(sessionMessage(stream), events(stream.slice(0, indexOfType(stream, 'status') + 1)));
      assert.match(await text(view, '.status-line'), /asking the model to correct the query/);
      assert.equal((await stepStatuses(view)).generate, 'running', 'self-correction goes back to generate');
      assert.equal((await stepStatuses(view)).validate, 'pending');
      await view.deliver(events(stream));
      assert.equal(await view.page.isVisible('.status-line'), false);
      assert.match(await text(view, '.step[data-step="validate"] .step-notice'), /pg_terminate_backend/);
      assert.equal(await view.page.isVisible('.error-panel'), false);
      assert.equal((await stepStatuses(view)).validate, 'done');
      assert.equal(await text(view, '.query-text code'), DEFAULT_SQL);
    });

    it('moves a cell cursor with the keyboard and copies a cell or a row', async () => {
      const view = await openView('results');
      await play(view, makeStream({ rows: 500, batchSize: 100 }));
      await view.page.focus('[role="grid"]');
      await view.page.keyboard.press('ArrowDown');
      await view.page.keyboard.press('ArrowDown');
      await view.page.keyboard.press('ArrowRight');
      const active = await view.page.evaluate(() => {
        const g = document.querySelector('[role="grid"]')!;
        const cell = document.getElementById(g.getAttribute('aria-activedescendant') ?? '');
        return { text: cell?.textContent, selected: cell?.getAttribute('aria-selected'), row: cell?.parentElement?.getAttribute('aria-rowindex'), col: cell?.getAttribute('aria-colindex') };
      });
      assert.deepEqual(active, { text: 'name 2', selected: 'true', row: '4', col: '2' });
      await view.page.keyboard.press('Control+c');
      await view.page.keyboard.press('Control+Shift+C');
      await view.page.keyboard.press('Control+End');
      await view.page.keyboard.press('Control+c');
      assert.deepEqual(
        (await view.postedOf('copy')).map((m) => m.text),
        ['name 2', '2\tname 2\t3\t2024-01-03T10:00:00Z', String(defaultRow(499)[3])],
      );
      const last = await visibleRows(view);
      assert.equal(last[last.length - 1]!.index, 501, 'Ctrl+End scrolled to the last row');
    });

    it('cancels while running, exports on request', async () => {
      const view = await openView('results');
      const stream = makeStream({ rows: 40, batchSize: 10 });
      const cut = indexOfType(stream, 'partial_results') + 2;
      await play(view, stream.slice(0, cut));
      await view.page.click('.cancel');
      assert.deepEqual(await view.postedOf('cancel'), [{ kind: 'cancel', session: 'sess-1' }]);
      await view.deliver(events(stream));
      await view.page.click('.export-csv');
      assert.deepEqual(await view.postedOf('export'), [{ kind: 'export', format: 'csv' }]);
      await view.deliver({ kind: 'export-request', requestId: 7, format: 'csv' });
      const [answer] = await view.postedOf('export-data');
      assert.equal(answer!.requestId, 7);
      assert.equal(answer!.format, 'csv');
      assert.deepEqual(answer!.columns, ['id', 'name', 'total', 'shipped_at']);
      assert.equal(answer!.rows.length, 40);
      assert.deepEqual(answer!.rows[7], [7, 'name 7', 10.5, null]);
    });

    it('a new session resets the view; session-gone says the session is over', async () => {
      const view = await openView('results');
      await play(view, makeStream({ rows: 30 }));
      const second = makeStream({ session: 'sess-2', rows: 5 }).slice(0, 6);
      await play(view, second, 10, 'How many customers?');
      assert.match(await text(view, '.question'), /How many customers\?/);
      assert.equal(await view.page.$$eval('.result', (r) => r.length), 0, 'the old result is gone');
      assert.equal((await stepStatuses(view)).execute, 'pending');
      await view.deliver({ kind: 'session-gone', session: 'sess-2' });
      assert.match(await text(view, '.notices'), /no longer available/);
      assert.match(await text(view, '.badge'), /Interrupted/);
    });

    it('shows each result of a session (one table per resultId)', async () => {
      const view = await openView('results');
      const base = makeStream({ rows: 30, batchSize: 10 });
      const at = indexOfType(base, 'result_complete') + 1;
      const extra = [
        { type: 'operation_started', operationId: 'op2' },
        { type: 'partial_results', source: 'shop', resultId: 'sess-1-r2', operationId: 'op2', columns: [{ name: 'country', type: 'text' }, { name: 'n', type: 'int8' }], rows: [['NL', 3], ['BE', 2]], offset: 0 },
        { type: 'partial_results', source: 'shop', resultId: 'sess-1-r2', operationId: 'op2', rows: [['DE', 1]], offset: 2 },
        { type: 'result_complete', source: 'shop', resultId: 'sess-1-r2', operationId: 'op2', rowCount: 3, truncated: false, elapsedMs: 12 },
        { type: 'operation_completed', operationId: 'op2' },
      ];
      const merged = [...base.slice(0, at), ...extra, ...base.slice(at)].map((e, i) => ({ ...e, v: 1, session: 'sess-1', id: i + 1, ts: 1_700_000_000_000 + i })) as CenecaEvent[];
      assert.deepEqual(findContractProblems(merged), []);
      await play(view, merged);
      assert.equal(await view.page.$$eval('.result', (r) => r.length), 2);
      assert.equal((await grid(view, 0)).rowcount, '31');
      const second = await grid(view, 1);
      assert.equal(second.rowcount, '4');
      assert.deepEqual(second.headers, ['country', 'n']);
      assert.deepEqual(second.rows.map((r) => r.cells), [['NL', '3'], ['BE', '2'], ['DE', '1']]);
      assert.match(await text(view, '.result[data-result="sess-1-r2"] .result-caption'), /shop · op2/);
      await view.page.click('.result[data-result="sess-1-r2"] .export-json');
      const requestId = 3;
      await view.deliver({ kind: 'export-request', requestId, format: 'json' });
      const answer = (await view.postedOf('export-data')).find((m) => m.requestId === requestId);
      assert.deepEqual(answer?.columns, ['country', 'n'], 'the export answers with the result whose Export was pressed');
    });

    it('screenshot: a completed question', async () => {
      const view = await openView('results');
      await play(view, makeStream({ rows: 2000, batchSize: 250 }));
      await view.page.screenshot({ path: join(OUTPUT, 'results-view.png'), fullPage: true });
      assert.ok(readFileSync(join(OUTPUT, 'results-view.png')).length > 1000);
    });
  });

  describe('chat view', () => {
    it('renders the analysis as markdown and shows the turn', async () => {
      const view = await openView('chat');
      assert.deepEqual(await view.posted(), [{ kind: 'ready', view: 'chat', lastId: 0 }]);
      const stream = makeStream({ rows: 12, analysisPieces: 9 });
      const cut = indexOfType(stream, 'analysis_chunk') + 2;
      await play(view, stream.slice(0, cut));
      assert.equal(await view.page.isVisible('.turn .turn-status'), true, 'a status line while running');
      assert.match(await text(view, '.turn-status-text'), /Writing the analysis/);
      await view.deliver(events(stream));
      assert.match(await text(view, '.turn-question'), new RegExp(QUESTION.replace('?', '\\?')));
      assert.match(await text(view, '.turn-sources'), /shop \(postgres\)/);
      assert.equal(await view.page.$$eval('.turn-answer strong', (s) => s.map((e) => e.textContent).join()), 'biggest');
      assert.equal(await view.page.$$eval('.turn-answer ul li', (s) => s.length), 2);
      assert.deepEqual(await view.page.$$eval('.turn-answer table th', (s) => s.map((e) => e.textContent)), ['customer', 'total']);
      assert.equal(await view.page.isVisible('.turn .turn-status'), false);
      assert.match(await text(view, '.turn-meta'), /12 rows .*Tokens: 2,100 in/);
      await view.page.screenshot({ path: join(OUTPUT, 'chat-view.png'), fullPage: true });
    });

    it('sends questions from the input: Enter asks a follow-up, New conversation starts afresh', async () => {
      const view = await openView('chat');
      await play(view, makeStream({ rows: 3 }));
      await view.page.fill('textarea', 'And per country?');
      await view.page.press('textarea', 'Enter');
      assert.equal(await view.page.inputValue('textarea'), '');
      assert.equal(await view.page.isVisible('.composer-mode'), false);
      await view.page.click('.new-conversation');
      assert.equal(await view.page.$$eval('.turn', (t) => t.length), 0);
      assert.match(await text(view, '.composer-mode'), /next question starts afresh/);
      assert.equal(await view.page.isVisible('.composer-mode'), true);
      await view.page.fill('textarea', 'Top products');
      await view.page.press('textarea', 'Shift+Enter');
      await view.page.keyboard.type('this year');
      await view.page.press('textarea', 'Enter');
      assert.deepEqual(await view.postedOf('ask'), [
        { kind: 'ask', question: 'And per country?', followUp: true },
        { kind: 'ask', question: 'Top products\nthis year', followUp: false },
      ]);
    });

    it('keeps hostile markdown inert', async () => {
      const view = await openView('chat');
      await play(view, makeStream({ rows: 1, analysis: `Hi ${HOSTILE_SCRIPT} ${HOSTILE_IMG}\n\n[x](javascript:alert(1))\n\n<a href="javascript:window.__pwned=1" onclick="window.__pwned=1">y</a>` }));
      await assertInert(view);
      assert.match(await text(view, '.turn-answer'), /Hi/);
      assert.equal(await view.page.$$eval('.turn-answer a', (a) => a.filter((x) => x.hasAttribute('href')).length), 0, 'javascript: hrefs removed');
    });

    it('keeps its turns across a reload and resumes the last one', async () => {
      const view = await openView('chat');
      await play(view, makeStream({ rows: 3 }));
      const second = makeStream({ session: 'sess-2', rows: 3 });
      const cut = indexOfType(second, 'analysis_chunk') + 1;
      await play(view, second.slice(0, cut), 10, 'Second question');
      await view.waitForSave((s) => (s as { turns?: Array<{ lastId: number }> }).turns?.[1]?.lastId === cut);
      const again = await reload(view);
      assert.deepEqual(await again.posted(), [{ kind: 'ready', view: 'chat', session: 'sess-2', lastId: cut }]);
      assert.equal(await again.page.$$eval('.turn', (t) => t.length), 2);
      await again.deliver(events(second.slice(cut - 2)));
      const answers = await again.page.$$eval('.turn-answer', (a) => a.map((e) => e.textContent ?? ''));
      assert.equal(answers.length, 2);
      assert.equal(answers[1]!.match(/biggest/g)?.length, 1, 'no chunk applied twice');
      assert.equal(await again.page.isVisible('.turn[data-session="sess-2"] .turn-status'), false);
    });
  });
});
