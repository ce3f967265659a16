/**
 * Headless Chromium for the webview tests and the bench: Debian's `chromium` package driven by playwright-core
 * (which downloads no browser). When /usr/bin/chromium is missing and we run as root on Debian, it is installed
 * with apt-get; otherwise the error names the package to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Returns the path of a Chromium binary, installing Debian's `chromium` package first if needed and allowed. */
export function ensureChromium(log: (line: string) => void = () => undefined): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const isDebian = existsSync('/etc/debian_version');
  if (!isRoot || !isDebian) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install the Debian package "chromium" (sudo apt-get install -y chromium)${isDebian ? '' : ' or your distribution’s chromium package'}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    log(`apt-get ${args.join(' ')}`);
    const run = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${run.status}): ${(run.stderr || run.stdout).slice(-2000)}`);
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`the Debian package "chromium" installed, yet ${CHROMIUM_PATH} is missing`);
  return CHROMIUM_PATH;
}

export interface LaunchedChromium {
  browser: Browser;
  close(): Promise<void>;
}

/** Launches headless Chromium (playwright gives it a fresh temporary profile and removes it on close). */
export async function launchChromium(extraArgs: string[] = []): Promise<LaunchedChromium> {
  const executablePath = ensureChromium();
  const browser = await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
  return { browser, close: () => browser.close().catch(() => undefined) };
}
