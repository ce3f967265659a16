/**
 * A real VS Code for tests: code-server 4.100.3 (VS Code 1.100.3, the last release whose engines accept Node 20),
 * installed from npm into `.cache/code-server/` with its own package.json — outside the extension's dependencies,
 * so users of the extension never download it — and started on a free 127.0.0.1 port with throwaway user data.
 *
 * The install works offline (npm registry and Debian packages only) with the fixes measured in
 * shared/notes/vscode-host-offline.md:
 *  - as root, code-server's postinstall demands unsafe-perm: `npm_config_unsafe_perm=true`;
 *  - `@vscode/ripgrep` downloads `rg` from GitHub (and the whole install rolls back when it cannot): Debian's
 *    `ripgrep` binary goes into the tarball the package looks for in its download cache first;
 *  - node-pty's postinstall runs `npx node-gyp`: `npm_config_yes=true`; native modules build from source against
 *    the local Node headers, which needs `build-essential python3 pkg-config libkrb5-dev`;
 *  - npm 11 as installed here (11.19) skips dependency install scripts unless a package.json's `allowScripts` lets
 *    them run, and code-server's postinstall runs further npm installs of its own: the install allows all scripts,
 *    for this pinned test tool only, with `npm_config_dangerously_allow_all_scripts` (older npm ignores it).
 * Missing Debian packages are installed when we are root on Debian; otherwise the error names them.
 * The install takes about a minute and is done once per machine (the marker file records the version).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { arch, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './pg-cluster';

export const CODE_SERVER_VERSION = '4.100.3';
const RIPGREP_PACKAGE_VERSION = '1.15.11'; // the @vscode/ripgrep that code-server 4.100.3's VS Code depends on
const RIPGREP_ASSET_VERSION = 'v13.0.0-10'; // …and the ripgrep build it fetches

const repoRoot = resolve(__dirname, '..', '..');
/** Where code-server is installed; `CENECA_CODE_SERVER_DIR` overrides (e.g. a cache shared between clones). */
export const codeServerDir = resolve(process.env.CENECA_CODE_SERVER_DIR ?? join(repoRoot, '.cache', 'code-server'));
const entryPoint = join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const marker = join(codeServerDir, `.installed-${CODE_SERVER_VERSION}`);

type Log = (line: string) => void;

/** Installs code-server into `.cache/code-server/` unless that version is already there; returns its entry script. */
export function ensureCodeServer(log: Log = () => undefined): string {
  if (existsSync(marker) && existsSync(entryPoint)) return entryPoint;
  ensureDebianPackages(log);
  const started = Date.now();
  log(`installing code-server ${CODE_SERVER_VERSION} into ${codeServerDir} (once per machine, about a minute)…`);
  rmSync(codeServerDir, { recursive: true, force: true });
  const tmp = join(codeServerDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  seedRipgrepCache(tmp);
  writeFileSync(
    join(codeServerDir, 'package.json'),
    `${JSON.stringify({ name: 'ceneca-test-code-server', private: true, description: 'A real VS Code for the in-host tests; not a dependency of the extension.', dependencies: { 'code-server': CODE_SERVER_VERSION } }, null, 2)}\n`,
  );
  // Under `npm test`, npm exports npm_* variables of its own (its local prefix is this repository, its loglevel the
  // repository's .npmrc's): none of them may steer the install into .cache/code-server.
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))),
    TMPDIR: tmp, // @vscode/ripgrep looks for its cached download under os.tmpdir()
    npm_config_unsafe_perm: 'true',
    npm_config_yes: 'true',
    npm_config_dangerously_allow_all_scripts: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'warn',
  };
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-package-lock'], { cwd: codeServerDir, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0 || !existsSync(entryPoint)) {
    const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`installing code-server ${CODE_SERVER_VERSION} failed (npm install exit ${result.status ?? result.signal}${result.error ? `: ${result.error.message}` : ''}):\n${output}`);
  }
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  log(`installed code-server ${CODE_SERVER_VERSION} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return entryPoint;
}

/** Debian packages the install needs: ripgrep (for the cached-download trick) and a native build toolchain. */
const requiredPackages: { name: string; present: () => boolean }[] = [
  { name: 'ripgrep', present: () => commandExists('rg') },
  { name: 'build-essential', present: () => commandExists('make') && commandExists('g++') },
  { name: 'python3', present: () => commandExists('python3') },
  { name: 'pkg-config', present: () => commandExists('pkg-config') },
  { name: 'libkrb5-dev', present: () => existsSync('/usr/include/krb5.h') || existsSync('/usr/include/krb5/krb5.h') },
];

function ensureDebianPackages(log: Log): void {
  const missing = requiredPackages.filter((p) => !p.present()).map((p) => p.name);
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/etc/debian_version')) {
    throw new Error(
      `installing code-server for the in-host tests needs these Debian packages: ${missing.join(' ')} ` +
        `(apt-get install -y ${missing.join(' ')}; elsewhere: ripgrep, a C/C++ toolchain with make, python3, pkg-config and the Kerberos headers)`,
    );
  }
  log(`installing Debian packages ${missing.join(' ')} (needed to install code-server)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const still = requiredPackages.filter((p) => !p.present()).map((p) => p.name);
  if (still.length > 0) throw new Error(`installed ${missing.join(' ')}, but still missing: ${still.join(' ')}`);
}

/** Puts Debian's `rg` where @vscode/ripgrep looks for a cached download, so its postinstall never goes online. */
function seedRipgrepCache(tmp: string): void {
  const target = arch() === 'arm64' ? 'aarch64-unknown-linux-musl' : arch() === 'x64' ? 'x86_64-unknown-linux-musl' : undefined;
  if (!target) throw new Error(`the in-host tests install code-server on x64 or arm64 Linux only (this is ${arch()})`);
  const rg = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
  if (!rg) throw new Error('ripgrep (rg) is not on PATH: apt-get install ripgrep');
  const cache = join(tmp, `vscode-ripgrep-cache-${RIPGREP_PACKAGE_VERSION}`);
  const staging = join(tmp, 'rg-staging');
  mkdirSync(cache, { recursive: true });
  mkdirSync(staging, { recursive: true });
  execFileSync('cp', [rg, join(staging, 'rg')]);
  execFileSync('tar', ['czf', join(cache, `ripgrep-${RIPGREP_ASSET_VERSION}-${target}.tar.gz`), '-C', staging, 'rg']);
  rmSync(staging, { recursive: true, force: true });
}

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export interface CodeServerOptions {
  /**
   * User settings, written to `<user-data-dir>/User/settings.json` before the server starts. (Measured: code-server
   * applies `machine`-scoped settings such as `ceneca.llm.baseUrl` from there too.)
   */
  settings?: Record<string, unknown>;
  /** A .vsix to install (`--install-extension`) before the server starts. */
  vsix?: string;
  log?: Log;
  /** Extra environment for the server (and so for the extension host). */
  env?: NodeJS.ProcessEnv;
}

export interface CodeServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** An empty folder to open as the workspace: `${url}/?folder=${folder}`. */
  folder: string;
  userDataDir: string;
  extensionsDir: string;
  /** Everything the server printed so far (the extension host's output lands in its log files instead). */
  output(): string;
  /** The extension host's and the server's log files, concatenated (for failure messages). */
  logs(): string;
  /** Stops the whole process group (a file-watcher child outlives a plain SIGTERM to the server) and removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts code-server with throwaway user data, optionally with a packaged extension installed; waits for /healthz. */
export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServer> {
  const log = options.log ?? (() => undefined);
  const entry = ensureCodeServer(log);
  const dir = mkdtempSync(join(tmpdir(), 'ceneca-code-server-'));
  const userDataDir = join(dir, 'user-data');
  const extensionsDir = join(dir, 'extensions');
  const folder = join(dir, 'workspace');
  const home = join(dir, 'home');
  for (const d of [join(userDataDir, 'User'), extensionsDir, folder, home]) mkdirSync(d, { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), `${JSON.stringify(options.settings ?? {}, null, 2)}\n`);
  const port = await freePort();
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const common = ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  const env = serverEnv(home, options.env);

  if (options.vsix) {
    const started = Date.now();
    const install = spawnSync(process.execPath, [entry, ...common, '--install-extension', options.vsix], { env, encoding: 'utf8', timeout: 120_000 });
    if (install.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`code-server --install-extension ${options.vsix} failed (${install.status ?? install.signal}):\n${install.stdout}\n${install.stderr}`);
    }
    log(`installed ${options.vsix} into code-server in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  const started = Date.now();
  let output = '';
  // detached: the server leads a new session and process group (setsid), so stop() can signal all of it.
  const child: ChildProcess = spawn(
    process.execPath,
    [entry, ...common, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened', folder],
    { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > 1_000_000) output = output.slice(-500_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let exited = false;
  const exit = new Promise<void>((resolveExit) => child.once('exit', () => {
    exited = true;
    resolveExit();
  }));
  const url = `http://127.0.0.1:${port}`;

  // If the test process exits without stop() (Ctrl-C, process.exit), the detached group must not outlive it, nor
  // its temp dir.
  const killOnExit = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is gone
      }
    };
    signalGroup('SIGTERM');
    const timer = new Promise<void>((r) => setTimeout(r, 5000).unref());
    await Promise.race([exit, timer]);
    signalGroup('SIGKILL'); // children that ignored SIGTERM (or outlived the server)
    await Promise.race([exit, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForHealth(url, () => exited, 60_000);
  } catch (error) {
    await stop();
    throw new Error(`code-server did not become healthy: ${error instanceof Error ? error.message : String(error)}\n${output.slice(-4000)}`);
  }
  log(`code-server ${CODE_SERVER_VERSION} is up at ${url} (healthy after ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return {
    url,
    folder,
    userDataDir,
    extensionsDir,
    output: () => output,
    logs: () => readLogs(userDataDir),
    stop,
  };
}

/** The server's environment: no model or database variables of the developer's (the settings say what to use). */
function serverEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OPENAI_|ANTHROPIC_|CENECA_|npm_|VSCODE_|ELECTRON_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, HOME: home, XDG_DATA_HOME: join(home, '.local', 'share'), XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), ...extra };
}

function waitForHealth(url: string, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolveHealth, reject) => {
    const attempt = (): void => {
      if (exited()) return reject(new Error('the server exited'));
      if (Date.now() > deadline) return reject(new Error(`no answer from ${url}/healthz within ${timeoutMs / 1000} s`));
      const request = get(`${url}/healthz`, (response) => {
        response.resume();
        if (response.statusCode === 200) resolveHealth();
        else setTimeout(attempt, 200);
      });
      request.on('error', () => setTimeout(attempt, 200));
      request.setTimeout(2000, () => request.destroy());
    };
    attempt();
  });
}

/** The newest session's log files under `<user-data-dir>/logs/` (extension host, remote agent, …), concatenated. */
function readLogs(userDataDir: string): string {
  const root = join(userDataDir, 'logs');
  if (!existsSync(root)) return '';
  const found = spawnSync('find', [root, '-name', '*.log', '-type', 'f'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
  return found
    .map((file) => {
      try {
        const text = readFileSync(file, 'utf8');
        return `--- ${file.slice(root.length + 1)}\n${text.length > 20_000 ? `…${text.slice(-20_000)}` : text}`;
      } catch {
        return '';
      }
    })
    .join('\n');
}
