/**
 * A stand-in for the VS Code webview host, for the browser tests and the bench: a loopback HTTP server serves the
 * BUILT bundle (dist/webview/main.js + main.css) in the page `renderWebviewHtml` makes, so the real CSP is in
 * force. A stub `acquireVsCodeApi` is injected before the bundle runs: it records posted messages and keeps the
 * view's state (JSON round-tripped, as VS Code does) where the test can read it — a "reload" is a new page
 * started with the state the old one saved. Host messages are delivered with `window.postMessage`, the same
 * path VS Code's messages take into the webview.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { makeNonce, renderWebviewHtml } from '../../webview/html';
import { parseWebviewMessage, type HostMessage, type WebviewMessage } from '../../src/vscode/protocol';

/** dist/webview from the source tree (tests, tsx) or beside a bundled script in dist/ (the built bench). */
function webviewDist(): string {
  const candidates = [join(__dirname, '..', '..', 'dist', 'webview'), join(__dirname, 'webview'), join(process.cwd(), 'dist', 'webview')];
  return candidates.find((dir) => existsSync(join(dir, 'main.js'))) ?? candidates[0]!;
}

export type ViewKind = 'results' | 'chat';

export class WebviewHarness {
  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(): Promise<WebviewHarness> {
    let origin = '';
    const dist = webviewDist();
    if (!existsSync(join(dist, 'main.js')) || !existsSync(join(dist, 'main.css'))) {
      throw new Error(`the webview bundle is missing (${dist}/main.js, main.css): build it with buildWebview() from scripts/build-webview.mjs (npm run build)`);
    }
    const server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const send = (status: number, type: string, body: string | Buffer): void => {
        response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        response.end(body);
      };
      if (url.pathname === '/view') {
        const view = url.searchParams.get('view') === 'chat' ? 'chat' : 'results';
        send(200, 'text/html; charset=utf-8', renderWebviewHtml({ view, scriptUri: `${origin}/main.js`, styleUri: `${origin}/main.css`, cspSource: origin, nonce: makeNonce() }));
        return;
      }
      const file = url.pathname === '/main.js' ? 'main.js' : url.pathname === '/main.css' ? 'main.css' : undefined;
      if (!file) {
        send(404, 'text/plain', 'not found');
        return;
      }
      readFile(join(dist, file)).then(
        (body) => send(200, file.endsWith('.js') ? 'text/javascript' : 'text/css', body),
        () => send(500, 'text/plain', `build the webview first: ${file} is missing`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new WebviewHarness(server, origin);
  }

  /** Opens a view in a fresh browser context, with `state` as what `getState()` returns (a reload). */
  async open(browser: Browser, view: ViewKind, state?: unknown, viewport = { width: 900, height: 900 }): Promise<ViewPage> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      const text = message.text();
      if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
    });
    // tsx (esbuild, keepNames) wraps named functions in `__name(...)`: functions this file sends into the page need it.
    await page.addInitScript({ content: 'window.__name = (f) => f;' });
    await page.addInitScript(stubHost, { state: state === undefined ? null : JSON.stringify(state) });
    await page.goto(`${this.origin}/view?view=${view}`);
    await page.waitForFunction(() => (window as unknown as StubWindow).__host.posted.length > 0, undefined, { timeout: 10_000 });
    return new ViewPage(this, browser, context, page, view, problems);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface StubWindow {
  __host: { posted: unknown[]; state: unknown; saves: number };
}

/** Runs in the page before any script: the stand-in for VS Code's acquireVsCodeApi. */
function stubHost(init: { state: string | null }): void {
  const host = { posted: [] as unknown[], state: init.state === null ? undefined : (JSON.parse(init.state) as unknown), saves: 0 };
  (window as unknown as StubWindow).__host = host;
  document.addEventListener('securitypolicyviolation', (event) => {
    console.error(`Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || '(inline)'} in ${event.sourceFile || '?'}:${event.lineNumber}; sample: ${event.sample}; target: ${(event.target as Element | null)?.outerHTML?.slice(0, 200) ?? ''}`);
  });
  let acquired = false;
  (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => {
    if (acquired) throw new Error('acquireVsCodeApi may only be called once');
    acquired = true;
    return Object.freeze({
      postMessage(message: unknown) {
        host.posted.push(JSON.parse(JSON.stringify(message)));
      },
      getState() {
        return host.state === undefined ? undefined : JSON.parse(JSON.stringify(host.state));
      },
      setState(state: unknown) {
        host.state = JSON.parse(JSON.stringify(state));
        host.saves++;
        return state;
      },
    });
  };
}

export class ViewPage {
  constructor(
    private readonly harness: WebviewHarness,
    private readonly browser: Browser,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly view: ViewKind,
    /** CSP violations and uncaught page errors seen so far. */
    readonly problems: string[],
  ) {}

  /** Every message the view posted, each checked against the protocol's own validator. */
  async posted(): Promise<WebviewMessage[]> {
    const raw = await this.page.evaluate(() => (window as unknown as StubWindow).__host.posted);
    return raw.map((message, i) => {
      const parsed = parseWebviewMessage(message);
      if (!parsed.ok) throw new Error(`posted message #${i + 1} breaks the protocol: ${parsed.problem}: ${JSON.stringify(message).slice(0, 300)}`);
      return parsed.message;
    });
  }

  async postedOf<K extends WebviewMessage['kind']>(kind: K): Promise<Array<Extract<WebviewMessage, { kind: K }>>> {
    return (await this.posted()).filter((m): m is Extract<WebviewMessage, { kind: K }> => m.kind === kind);
  }

  async clearPosted(): Promise<void> {
    await this.page.evaluate(() => {
      (window as unknown as StubWindow).__host.posted.length = 0;
    });
  }

  /** What the view saved with setState (as VS Code would hand it back after a reload). */
  state(): Promise<unknown> {
    return this.page.evaluate(() => (window as unknown as StubWindow).__host.state);
  }

  /** Delivers host messages in order, then waits until the view has applied them (a marker + two frames). */
  async deliver(...messages: HostMessage[]): Promise<void> {
    await this.page.evaluate(async (list) => {
      for (const message of list) window.postMessage(message, '*');
      const marker = `__settled_${Math.random()}`;
      await new Promise<void>((resolve) => {
        const onMessage = (event: MessageEvent): void => {
          if (event.data !== marker) return;
          window.removeEventListener('message', onMessage);
          resolve();
        };
        window.addEventListener('message', onMessage);
        window.postMessage(marker, '*');
      });
      await new Promise((resolve) => requestAnimationFrame(resolve));
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }, messages);
  }

  /** Waits for the state the view saves (it saves at most every 500 ms while a session runs). */
  async waitForSave(predicate: (state: unknown) => boolean, timeout = 5000): Promise<unknown> {
    const started = Date.now();
    for (;;) {
      const state = await this.state();
      if (state !== undefined && predicate(state)) return state;
      if (Date.now() - started > timeout) throw new Error(`the view did not save the expected state in ${timeout} ms: ${JSON.stringify(state)?.slice(0, 500)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Simulates a webview reload (hidden then shown, or a window reload): a new page started with the saved state. */
  async reload(): Promise<ViewPage> {
    const state = await this.state();
    await this.close();
    return this.harness.open(this.browser, this.view, state);
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
