/**
 * `ceneca serve` from the BUILT command line (`node dist/cli.js serve`, built by `npm test` / `npm run build`):
 * a real PostgreSQL database, the OpenAI stand-in, the README's curl request, and a clean exit on SIGTERM / SIGINT.
 * Every child gets an environment built from scratch, so no key or token of the developer's leaks in.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createParser } from 'eventsource-parser';
import { assertStreamContract } from '../../src/core/contract';
import type { CenecaEvent } from '../../src/core/events';
import { OpenAIStandIn, ofType, seededDatabase, sqlReply } from '../support/fixtures';

const CLI = resolve(__dirname, '../../dist/cli.js');
const TOKEN = 'serve-test-token-7f3a';

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `ceneca serve` with exactly `env` and waits for its "listening" line. */
async function startServe(args: string[], env: Record<string, string>, cwd: string): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('close', (code, signal) => done({ code, signal })));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`ceneca serve did not start:\n${stderr}`)), 15_000);
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      const found = /Ceneca API listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stderr);
      // Without --token the generated token is announced after the address.
      if (found && (args.includes('--token') || env.CENECA_SERVER_TOKEN || /Token \(shown once\): \S+\n/.test(stderr))) {
        clearTimeout(timer);
        resolveUrl(found[1]!);
      }
    });
    void exited.then(({ code }) => reject(new Error(`ceneca serve exited with ${code}:\n${stderr}`)));
  });
  assert.equal(stdout, '', 'serve prints nothing on stdout');
  return { child, url, stderr: () => stderr, exited };
}

/** Waits for the child's exit, killing it (and failing) after `ms`. */
async function exitWithin(served: Served, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => served.child.kill('SIGKILL'), ms);
  try {
    return await served.exited;
  } finally {
    clearTimeout(timer);
  }
}

function parseSse(text: string): CenecaEvent[] {
  const events: CenecaEvent[] = [];
  const parser = createParser({ onEvent: (message) => events.push(JSON.parse(message.data) as CenecaEvent) });
  parser.feed(text);
  return events;
}

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The README's request: curl -N with the token and a JSON body (fetch when curl is not installed). */
async function curlQuery(url: string, token: string, question: string): Promise<string> {
  const body = JSON.stringify({ question });
  if (!hasCurl()) {
    const response = await fetch(`${url}/query/stream`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body });
    return response.text();
  }
  return new Promise<string>((resolveText, reject) => {
    const curl = spawn('curl', ['-sS', '-N', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', '-d', body, `${url}/query/stream`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    curl.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    curl.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    curl.once('close', (code) => (code === 0 ? resolveText(out) : reject(new Error(`curl exited ${code}: ${err}`))));
  });
}

describe('ceneca serve (built dist/cli.js)', function () {
  this.timeout(40_000);
  let databaseUrl: string;
  let standIn: OpenAIStandIn;
  let cwd: string;
  const children: ChildProcess[] = [];

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? cwd,
    CENECA_PG_URL: databaseUrl,
    OPENAI_BASE_URL: standIn.baseURL,
    OPENAI_API_KEY: 'test',
    ...extra,
  });

  before(async function () {
    this.timeout(60_000);
    assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
    databaseUrl = await seededDatabase('ceneca_serve');
    cwd = mkdtempSync(join(tmpdir(), 'ceneca-serve-'));
  });

  beforeEach(async () => {
    standIn = new OpenAIStandIn([]);
    await standIn.start();
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await standIn.stop();
  });

  after(() => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('serve --port 0 --token T: the README curl request streams a contract-valid answer; SIGTERM exits 0', async () => {
    standIn.push({ match: /^You write one read-only/, text: sqlReply('SELECT count(*) AS customers FROM customers') }, { match: /^You analyse the result/, text: 'There are 300 customers.' });
    const served = await startServe(['--port', '0', '--token', TOKEN], env(), cwd);
    children.push(served.child);
    const text = await curlQuery(served.url, TOKEN, 'How many customers are there?');
    assert.match(text, /^retry: 2000\n\n/);
    const events = parseSse(text);
    assertStreamContract(events);
    assert.equal(events[events.length - 1]!.type, 'complete');
    assert.deepEqual(ofType(events, 'partial_results').flatMap((e) => e.rows), [['300']]);
    assert.equal(ofType(events, 'analysis_complete')[0]?.text, 'There are 300 customers.');

    const unauthorized = await fetch(`${served.url}/sessions/${events[0]!.session}`);
    assert.equal(unauthorized.status, 401);
    assert.ok(!served.stderr().includes(TOKEN), 'a token given on the command line is not printed');

    served.child.kill('SIGTERM');
    const { code, signal } = await exitWithin(served, 10_000);
    assert.equal(code, 0, `exit code (signal ${signal}); stderr:\n${served.stderr()}`);
  });

  it('without --token: a generated token is printed once and works; SIGINT during a stream cancels it and exits 0', async () => {
    standIn.push({ match: /^You write one read-only/, text: sqlReply('SELECT 1 AS one'), chunkSize: 2, chunkDelayMs: 200 });
    const served = await startServe(['--port', '0'], env(), cwd);
    children.push(served.child);
    const printed = [...served.stderr().matchAll(/Token \(shown once\): (\S+)/g)].map((m) => m[1]!);
    assert.equal(printed.length, 1, served.stderr());
    const token = printed[0]!;
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');

    const metrics = await fetch(`${served.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /ceneca_sessions/);

    // A stream in flight when the server is told to stop ends with its terminal event: cancelled.
    const response = await fetch(`${served.url}/query/stream`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ question: 'One, slowly' }) });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done);
    served.child.kill('SIGINT');
    let text = new TextDecoder().decode(first.value);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
    const events = parseSse(text);
    assertStreamContract(events);
    const last = events[events.length - 1]!;
    assert.equal(last.type === 'error' && last.code, 'cancelled', JSON.stringify(last));
    const { code } = await exitWithin(served, 10_000);
    assert.equal(code, 0, served.stderr());
    assert.equal([...served.stderr().matchAll(new RegExp(token, 'g'))].length, 1, 'the token is printed exactly once');
  });

  it('with no connection configured, the README example answers from the embedded demo database', async function () {
    this.timeout(60_000);
    standIn.push({ match: /^You write one read-only/, text: sqlReply('SELECT count(*) AS customers FROM customers') }, { match: /^You analyse the result/, text: 'The demo shop has 300 customers.' });
    // The token from the environment, as the README sets it.
    const { CENECA_PG_URL: _unused, ...withoutDatabase } = env({ CENECA_SERVER_TOKEN: TOKEN });
    const served = await startServe(['--port', '0'], withoutDatabase, cwd);
    children.push(served.child);
    assert.match(served.stderr(), /embedded demo database/);
    assert.ok(!served.stderr().includes('Token (shown once)'), 'a token from CENECA_SERVER_TOKEN is not printed');
    const events = parseSse(await curlQuery(served.url, TOKEN, 'How many customers are there?'));
    assertStreamContract(events);
    assert.equal(events[events.length - 1]!.type, 'complete', JSON.stringify(events[events.length - 1]));
    assert.deepEqual(ofType(events, 'databases_selected')[0]?.databases.map((d) => d.id), ['demo']);
    assert.deepEqual(ofType(events, 'partial_results').flatMap((e) => e.rows), [['300']]);
    served.child.kill('SIGTERM');
    const { code } = await exitWithin(served, 15_000);
    assert.equal(code, 0, served.stderr());
  });

  it('bad usage exits 2 with a message: --port abc, no model configured', async () => {
    const badPort = spawn(process.execPath, [CLI, 'serve', '--port', 'abc'], { env: env(), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let badPortErr = '';
    badPort.stderr.setEncoding('utf8').on('data', (t: string) => (badPortErr += t));
    const noModel = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env: { PATH: process.env.PATH ?? '', HOME: cwd, CENECA_PG_URL: databaseUrl }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let noModelErr = '';
    noModel.stderr.setEncoding('utf8').on('data', (t: string) => (noModelErr += t));
    const codes = await Promise.all([badPort, noModel].map((child) => new Promise<number | null>((done) => child.once('close', (code) => done(code)))));
    assert.deepEqual(codes, [2, 2], `${badPortErr}\n${noModelErr}`);
    assert.match(badPortErr, /--port must be a port number/);
    assert.match(noModelErr, /OPENAI_API_KEY/);
  });
});
