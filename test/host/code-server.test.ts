/**
 * The packaged extension in a real VS Code: `npm run package`'s .vsix installed into code-server 4.100.3 (VS Code
 * 1.100.3, see test/support/code-server.ts), the workbench opened in headless Chromium, and a question asked the
 * way a user asks it: F1, "Ceneca: Ask a Question…", the question, Enter. The model is the OpenAI stand-in replaying
 * the demo's recorded replies; the data is the embedded demo database (no connections configured), so the rows and
 * the figures are real. Checks: the SQL streams into an editor, the Results view shows the rows, the Chat view shows
 * the analysis; a screenshot of the result goes to test-output/vscode-extension.png (and to docs/screenshot.png
 * with CENECA_UPDATE_SCREENSHOT=1).
 *
 * Set CENECA_HOST_VSIX to test a given .vsix instead of packaging this tree; CENECA_HOST_TESTS=0 skips the suite.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { demoRecordings } from '../../src/demo/recordings';
import { replayScript } from '../../src/demo/replay';
import { launchChromium, type LaunchedChromium } from '../support/chromium';
import { startCodeServer, type CodeServer } from '../support/code-server';
import { OpenAIStandIn } from '../support/openai-standin';
import { assertStreamContract } from '../../src/core/contract';
import { answerQuickInput, editorText, errorNotifications, frameTexts, poll, runFromPalette, viewFrames, viewText, waitForWorkbench } from './workbench';

const root = resolve(__dirname, '..', '..');
const outputDir = join(root, 'test-output');
const screenshot = join(outputDir, 'vscode-extension.png');
const recording = demoRecordings[0]!;
const topCustomer = String(recording.checks.find((c) => c.row === 0 && c.column === 'name')?.value);
/** A phrase of the recorded analysis that survives Markdown rendering (no emphasis markers inside it). */
const analysisPhrase = 'is by far the biggest customer';
const log = (line: string): void => console.log(`      [host] ${line}`);
const elapsed = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

(process.env.CENECA_HOST_TESTS === '0' ? describe.skip : describe)('the packaged extension in a real VS Code (code-server)', function () {
  let standIn: OpenAIStandIn | undefined;
  let server: CodeServer | undefined;
  let chromium: LaunchedChromium | undefined;
  let page: Page | undefined;
  /** The browser console's errors, warnings and webview messages (all frames), for failure messages. */
  const consoleLines: string[] = [];
  const remember = (line: string): void => {
    consoleLines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    if (consoleLines.length > 40) consoleLines.shift();
  };

  before(async function () {
    this.timeout(15 * 60_000); // the first run on a machine installs code-server (about a minute, more on a slow disk)
    assert.equal(recording.question, 'Who are our top 10 customers by revenue?');
    assert.ok(topCustomer && topCustomer !== 'undefined', 'the recording names its top customer in checks');
    assert.ok(recording.analysisReply.includes(analysisPhrase), `the recorded analysis contains "${analysisPhrase}"`);

    const vsix = process.env.CENECA_HOST_VSIX ? resolve(process.env.CENECA_HOST_VSIX) : packageExtension();
    standIn = new OpenAIStandIn(replayScript());
    await standIn.start();
    const started = Date.now();
    server = await startCodeServer({
      vsix,
      log,
      settings: {
        'ceneca.llm.provider': 'openai',
        'ceneca.llm.baseUrl': standIn.baseURL,
        'ceneca.llm.model': 'replay',
        'ceneca.connections': [],
        'ceneca.server.port': 0,
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'workbench.tips.enabled': false,
      },
    });
    log(`code-server ready with the extension installed in ${elapsed(started)}`);
    chromium = await launchChromium();
    page = await chromium.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('console', (message) => {
      const text = message.text();
      if (message.type() === 'error' || message.type() === 'warning' || /service worker|webview/i.test(text)) remember(`${message.type()}: ${text}`);
    });
    page.on('pageerror', (error) => remember(`page error: ${error.message}`));
  });

  after(async function () {
    this.timeout(60_000);
    await chromium?.close();
    await server?.stop();
    await standIn?.stop();
  });

  it('asks a question from the command palette: SQL in an editor, rows in Results, the analysis in Chat', async function () {
    this.timeout(5 * 60_000);
    const p = page!;
    const started = Date.now();
    await p.goto(`${server!.url}/?folder=${encodeURI(server!.folder)}`);
    await waitForWorkbench(p, 90_000);
    log(`workbench shown after ${elapsed(started)}`);

    await guard(p, 'running "Ceneca: Ask a Question…" from the command palette', () => runFromPalette(p, 'Ceneca: Ask a Question…', 90_000));
    await guard(p, 'typing the question into the input box', () => answerQuickInput(p, recording.question, 90_000));
    log(`question asked after ${elapsed(started)}`);

    // (a) The generated SQL streams into an editor (an untitled sql document).
    await guard(p, 'the SQL in an editor', () =>
      poll('SELECT … order_items in an editor', async () => {
        const text = await editorText(p);
        return /\bSELECT\b/i.test(text) && text.includes('order_items') ? text : undefined;
      }, 120_000, () => describePage(p), () => cenecaError(p)),
    );
    log(`SQL shown in an editor after ${elapsed(started)}`);

    // (b) The Results view (a webview) shows the rows: the top customer of the recording's checks.
    await guard(p, 'rows in the Results view', () => waitForView(p, 'Results', topCustomer, 90_000));
    log(`rows shown in Results after ${elapsed(started)}`);

    // (c) The Chat view (a webview) shows the analysis.
    await expandPane(p, 'Chat');
    await guard(p, 'the analysis in the Chat view', () => waitForView(p, 'Chat', analysisPhrase, 90_000));
    log(`analysis shown in Chat after ${elapsed(started)}`);

    // For the screenshot (the README shows it): room for the Results and Chat views.
    await collapsePane(p, 'Connections');
    await collapsePane(p, 'History');
    await widenSideBar(p, 640);
    for (const frame of await viewFrames(p, 'Results')) {
      // Best effort: bring the rows table into view (the pipeline's steps come first).
      await frame.evaluate(() => document.querySelector('section.results, table')?.scrollIntoView({ block: 'start' })).catch(() => undefined);
    }
    await p.waitForTimeout(1500); // let the webviews lay out and paint
    mkdirSync(outputDir, { recursive: true });
    await p.screenshot({ path: screenshot, fullPage: true });
    // The README's picture is refreshed on request only, so a test run leaves the tree clean.
    if (process.env.CENECA_UPDATE_SCREENSHOT === '1') copyFileSync(screenshot, join(root, 'docs', 'screenshot.png'));
    log(`screenshot: ${screenshot}${process.env.CENECA_UPDATE_SCREENSHOT === '1' ? ' (copied to docs/screenshot.png)' : ''}`);
  });

  it('Start Local API Server: the token is shown once, and the API answers a question from outside the editor', async function () {
    this.timeout(3 * 60_000);
    const p = page!;
    await guard(p, 'running "Ceneca: Start Local API Server"', () => runFromPalette(p, 'Ceneca: Start Local API Server', 60_000));
    const announced = await guard(p, 'the notification with the URL and the token', () =>
      poll('the API server notification', async () => {
        const texts = await p.evaluate(() => Array.from(document.querySelectorAll('.notification-list-item-message')).map((e) => e.textContent ?? ''));
        return texts.map((t) => /listening on (http:\/\/127\.0\.0\.1:\d+)\. Token \(shown once\): (\S+)/.exec(t)).find(Boolean) ?? undefined;
      }, 60_000, () => describePage(p), () => cenecaError(p)),
    );
    const [, url, token] = announced;
    log(`API server at ${url}`);
    const unauthorised = await fetch(`${url}/query/stream`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"question":"x"}' });
    assert.equal(unauthorised.status, 401);

    standIn!.push(...replayScript());
    const response = await fetch(`${url}/query/stream`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ question: recording.question }),
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    const events = text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as { type: string; rows?: unknown[][] });
    assertStreamContract(events);
    assert.equal(events[events.length - 1]!.type, 'complete', text.slice(-500));
    assert.ok(events.some((e) => e.type === 'partial_results' && JSON.stringify(e.rows).includes(topCustomer)), 'the rows come from the embedded demo database');

    await guard(p, 'running "Ceneca: Stop Local API Server"', () => runFromPalette(p, 'Ceneca: Stop Local API Server', 60_000));
    await poll('the port closed', async () => ((await fetch(`${url}/health`).then(() => false, () => true)) ? true : undefined), 30_000, () => describePage(p));
  });

  /** Runs one step; on failure saves a screenshot first, then fails saying which step and what the page held. */
  async function guard<T>(p: Page, step: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      mkdirSync(outputDir, { recursive: true });
      const failed = join(outputDir, 'vscode-extension-failed.png');
      await p.screenshot({ path: failed, fullPage: true }).catch(() => undefined);
      const message = error instanceof Error ? error.message : String(error);
      const details = message.includes('--- page') ? '' : `\n${await describePage(p)}`;
      throw new Error(`${step} failed (screenshot: ${failed}): ${message}${details}`);
    }
  }

  /**
   * Waits for `needle` in a webview view's text. A webview that stays wholly blank is reopened (pane collapsed and
   * expanded, which reloads its frame; the view then resumes its session from the host): when two webviews load at
   * once, VS Code's web workbench sometimes leaves one waiting forever for its service worker ("Found unexpected
   * service worker controller … Waiting for controllerchange"), a race inside the workbench, not in the extension.
   */
  async function waitForView(p: Page, view: string, needle: string, timeoutMs: number): Promise<void> {
    let reopened = 0;
    let blankSince = Date.now();
    await poll(
      `"${needle}" in the ${view} view`,
      async () => {
        const text = await viewText(p, view);
        if (text.includes(needle)) return true;
        if (text.trim()) blankSince = Date.now();
        else if (Date.now() - blankSince > 15_000 && reopened < 2) {
          reopened++;
          log(`the ${view} webview is still blank after 15 s: reopening it (${reopened})`);
          await collapsePane(p, view);
          await p.waitForTimeout(500);
          await expandPane(p, view);
          blankSince = Date.now();
        }
        return undefined;
      },
      timeoutMs,
      () => describePage(p),
      () => cenecaError(p),
    );
  }

  /** An error notification from Ceneca (e.g. the model is not set up): no point waiting further. */
  async function cenecaError(p: Page): Promise<string | undefined> {
    const errors = await errorNotifications(p, /ceneca/i);
    return errors.length > 0 ? `Ceneca showed an error: ${errors.join(' | ')}` : undefined;
  }

  /** What the page shows, for failure messages: editors, notifications, every frame's text, the model's requests, logs. */
  async function describePage(p: Page): Promise<string> {
    const clip = (text: string, n: number): string => (text.length > n ? `${text.slice(0, n)}…` : text);
    const editors = await editorText(p).catch((e: unknown) => `(unreadable: ${String(e)})`);
    const notifications = await p
      .evaluate(() => Array.from(document.querySelectorAll('.notification-list-item-message, [role="alert"]')).map((e) => e.textContent ?? ''))
      .catch(() => []);
    const frames = await frameTexts(p).catch(() => []);
    const frameLines = frames
      .filter((f) => !f.url.includes('webWorkerExtensionHostIframe'))
      .map((f) => `  [${f.view ?? 'no view'}] ${clip(f.url, 120)}\n    ${clip(f.text.trim().replace(/\s+/g, ' '), 1500)}`);
    const body = await p.evaluate(() => document.body.innerText).catch(() => '');
    const requests = standIn?.requests.map((r) => `${r.path}: ${clip(r.text.replace(/\s+/g, ' '), 160)}`) ?? [];
    const logs = (server?.logs() ?? '').split(/(?=^--- )/m).filter((section) => /exthost|ceneca/i.test(section.split('\n')[0] ?? ''));
    return [
      '--- page',
      `editors:\n${clip(editors, 2000) || '(none)'}`,
      `notifications: ${JSON.stringify(notifications)}`,
      `frames (${frames.length}):\n${frameLines.join('\n') || '  (none)'}`,
      `workbench text:\n${clip(body.replace(/\n{2,}/g, '\n'), 2500)}`,
      `model requests (${requests.length}):\n${requests.join('\n')}`,
      `browser console (errors, warnings, webview messages; last ${consoleLines.length}):\n${consoleLines.join('\n')}`,
      `extension host logs:\n${clip(logs.join('\n').slice(-6000), 6000)}`,
    ].join('\n');
  }
});

/** `npm run package` (build, then vsce): the .vsix a user would install, at the repository root. */
function packageExtension(): string {
  const started = Date.now();
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs'), '--quiet'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`packaging the extension failed (exit ${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  const vsix = result.stdout.trim().split('\n').pop()!;
  log(`packaged ${vsix} in ${elapsed(started)}`);
  return vsix;
}

/** Expands a collapsed view pane by its title (a webview loads only while its pane is expanded). */
async function expandPane(page: Page, title: string): Promise<void> {
  await setPaneExpanded(page, title, true);
}

async function collapsePane(page: Page, title: string): Promise<void> {
  await setPaneExpanded(page, title, false);
}

async function setPaneExpanded(page: Page, title: string, expanded: boolean): Promise<void> {
  const header = page.locator('.pane-header', { has: page.locator('.title', { hasText: new RegExp(`^${title}$`, 'i') }) }).first();
  if ((await header.count()) === 0) return;
  if ((await header.getAttribute('aria-expanded')) !== String(expanded)) await header.click({ position: { x: 60, y: 10 } });
}

/** Drags the sash on the side bar's right edge so the side bar is `width` pixels wide. */
async function widenSideBar(page: Page, width: number): Promise<void> {
  const sidebar = await page.locator('.part.sidebar').boundingBox();
  if (!sidebar || sidebar.width >= width) return;
  const x = sidebar.x + sidebar.width;
  const y = sidebar.y + sidebar.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(sidebar.x + width, y, { steps: 10 });
  await page.mouse.up();
}
