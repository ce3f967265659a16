/**
 * Driving a VS Code workbench (code-server) from playwright-core: the command palette, quick inputs, editor text,
 * and the text of webview views. Webviews are iframes (an outer host frame with the real document in an inner
 * frame); a view's frames are found by where its iframe sits on the page: over the body of the pane whose header
 * names the view.
 */
import type { Frame, Page } from 'playwright-core';

export const quickInput = '.quick-input-widget';
const quickInputBox = `${quickInput} .quick-input-box input`;

/** Waits until the workbench has rendered its parts. */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.waitForSelector('.monaco-workbench .part.activitybar', { state: 'visible', timeout: timeoutMs });
  await page.waitForSelector('.monaco-workbench .part.statusbar', { state: 'visible', timeout: timeoutMs });
}

/**
 * F1, type the command's title, wait for its row to be the focused one, Enter. Retried (Escape, F1 again) while the
 * row does not show: right after the workbench renders, the extensions' commands may not be registered yet.
 */
export async function runFromPalette(page: Page, title: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      if (!(await page.locator(quickInputBox).isVisible())) await page.keyboard.press('F1');
      await page.waitForSelector(quickInputBox, { state: 'visible', timeout: 5000 });
      // F1 opens the palette with ">" typed; replace the whole value so a retry starts clean.
      await page.locator(quickInputBox).fill(`>${title}`);
      await page.waitForFunction(
        ({ selector, wanted }) => document.querySelector(`${selector} .quick-input-list .monaco-list-row.focused`)?.textContent?.includes(wanted) ?? false,
        { selector: quickInput, wanted: title },
        { timeout: 5000 },
      );
      await page.keyboard.press('Enter');
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        const rows = await page.locator(`${quickInput} .quick-input-list .monaco-list-row`).allTextContents().catch(() => []);
        throw new Error(`the command palette shows no "${title}" after ${attempt} attempts (rows: ${JSON.stringify(rows.slice(0, 10))}): ${error instanceof Error ? error.message : String(error)}`);
      }
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1000);
    }
  }
}

/**
 * Waits for a quick input (input box or quick pick) opened by a command — visible, and not the command palette
 * (whose value starts with ">") — then types `text` and presses Enter.
 */
export async function answerQuickInput(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    (selector) => {
      const widget = document.querySelector<HTMLElement>(selector);
      const input = widget?.querySelector<HTMLInputElement>('.quick-input-box input');
      return Boolean(widget && input && widget.style.display !== 'none' && widget.offsetParent !== null && !input.value.startsWith('>'));
    },
    quickInput,
    { timeout: timeoutMs },
  );
  await page.keyboard.type(text, { delay: 5 });
  await page.waitForFunction(
    ({ selector, wanted }) => document.querySelector<HTMLInputElement>(`${selector} .quick-input-box input`)?.value === wanted,
    { selector: quickInput, wanted: text },
    { timeout: timeoutMs },
  );
  await page.keyboard.press('Enter');
}

/** The text of every editor in the editor area (Monaco renders the visible lines; spaces come as U+00A0). */
export async function editorText(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('.part.editor .monaco-editor .view-lines'))
      .map((lines) => lines.innerText.replace(/\u00a0/g, ' '))
      .join('\n---\n'),
  );
}

export interface FrameText {
  url: string;
  /** The view (pane header title) whose body the frame's iframe covers, when one does. */
  view?: string;
  text: string;
}

/** Text of every frame, with the view each webview frame belongs to. */
export async function frameTexts(page: Page): Promise<FrameText[]> {
  const owners = await webviewOwners(page);
  const texts: FrameText[] = [];
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    const text = await withTimeout(frame.evaluate(() => document.body?.innerText ?? ''), 3000).catch(() => '');
    texts.push({ url: frame.url(), view: owners.get(frame) ?? (frame.parentFrame() ? owners.get(frame.parentFrame()!) : undefined), text });
  }
  return texts;
}

/** The text of one webview view's frames (e.g. "Results"), joined; '' when the view has no frame on the page. */
export async function viewText(page: Page, viewName: string): Promise<string> {
  return (await frameTexts(page))
    .filter((f) => f.view?.toLowerCase() === viewName.toLowerCase())
    .map((f) => f.text)
    .join('\n');
}

/** The frames of one webview view (the outer host frame and the inner content frame). */
export async function viewFrames(page: Page, viewName: string): Promise<Frame[]> {
  const owners = await webviewOwners(page);
  const owner = (frame: Frame): string | undefined => owners.get(frame) ?? (frame.parentFrame() ? owners.get(frame.parentFrame()!) : undefined);
  return page.frames().filter((frame) => owner(frame)?.toLowerCase() === viewName.toLowerCase());
}

/** Maps each webview host iframe to the title of the pane (or single-view container) its centre lies over. */
async function webviewOwners(page: Page): Promise<Map<Frame, string>> {
  const owners = new Map<Frame, string>();
  const panes = await page.evaluate(() => {
    const boxes: { title: string; left: number; top: number; right: number; bottom: number }[] = [];
    for (const pane of Array.from(document.querySelectorAll<HTMLElement>('.pane'))) {
      const title = pane.querySelector('.pane-header .title')?.textContent?.trim();
      const body = pane.querySelector<HTMLElement>('.pane-body');
      if (!title || !body) continue;
      const r = body.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) boxes.push({ title, left: r.left, top: r.top, right: r.right, bottom: r.bottom });
    }
    return boxes;
  });
  for (const element of await page.locator('iframe').elementHandles()) {
    const box = await element.boundingBox();
    const frame = await element.contentFrame();
    if (!box || !frame) continue;
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    const pane = panes.find((p) => x >= p.left && x <= p.right && y >= p.top && y <= p.bottom);
    if (pane) owners.set(frame, pane.title);
  }
  return owners;
}

/**
 * Error notifications the workbench has shown or announced whose text matches `pattern` (toasts hide after a while,
 * but every notification is also announced through an aria alert, which stays in the DOM).
 */
export async function errorNotifications(page: Page, pattern: RegExp): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const toasts = Array.from(document.querySelectorAll('.notification-list-item'))
      .filter((item) => item.querySelector('.codicon-error'))
      .map((item) => item.querySelector('.notification-list-item-message')?.textContent ?? '');
    const alerts = Array.from(document.querySelectorAll('[role="alert"]'))
      .map((alert) => alert.textContent ?? '')
      .filter((text) => text.startsWith('Error: '));
    return [...toasts, ...alerts.map((text) => text.slice('Error: '.length))];
  });
  return [...new Set(texts.map((t) => t.trim()).filter((t) => t && pattern.test(t)))];
}

/**
 * Polls `probe` until it returns a value other than undefined; throws with `describe()` after the timeout, or at once
 * when `fatal()` names a reason to stop waiting (e.g. an error notification).
 */
export async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  describe: () => Promise<string>,
  fatal: () => Promise<string | undefined> = async () => undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    const reason = await fatal().catch(() => undefined);
    if (reason) throw new Error(`stopped waiting for ${what}: ${reason}\n${await describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${await describe()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
