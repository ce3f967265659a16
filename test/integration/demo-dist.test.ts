/**
 * The embedded PGlite demo from the BUILT bundles: `node dist/demo.js --json` replays the recorded model output
 * (no model key in its environment) against the real embedded database, and `node dist/cli.js ask` with no
 * connection configured falls back to the same embedded database. PGlite and its WebAssembly stay external to
 * the bundles, so this is what proves they still load from `dist/`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findContractProblems } from '../../src/core/contract';
import type { CenecaEvent, Cell } from '../../src/core/events';
import { demoRecordings, type DemoCheck } from '../../src/demo/recordings';
import { replayScript } from '../../src/demo/replay';
import { OpenAIStandIn, ofType, parseJsonLines } from '../support/fixtures';

const DIST = resolve(__dirname, '../../dist');
const RUN_TIMEOUT_MS = 90_000;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs a built script with exactly `env`; kills it (and fails) after `timeoutMs`. */
function runNode(script: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs = RUN_TIMEOUT_MS): Promise<Finished> {
  const child = spawn(process.execPath, [join(DIST, script), ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise<Finished>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} did not exit within ${timeoutMs} ms\nstderr:\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}


/** One session's result as rows keyed by column name (the column list only grows, so the last one wins). */
function resultRows(events: readonly CenecaEvent[]): Array<Record<string, Cell>> {
  const batches = ofType(events, 'partial_results');
  let columns: string[] = [];
  const rows: Array<Record<string, Cell>> = [];
  for (const batch of batches) {
    if (batch.columns) columns = batch.columns.map((c) => c.name);
    for (const row of batch.rows) rows.push(Object.fromEntries(columns.map((name, i) => [name, row[i] ?? null])));
  }
  return rows;
}

/** A DemoCheck against the streamed rows: numbers to two decimals (numerics arrive as text), strings exactly. */
function checkProblem(check: DemoCheck, rows: ReadonlyArray<Record<string, Cell>>): string | undefined {
  const row = rows[check.row];
  if (!row) return `row ${check.row} is missing (${rows.length} rows)`;
  if (!(check.column in row)) return `column ${check.column} is missing (columns: ${Object.keys(row).join(', ')})`;
  const cell = row[check.column];
  if (typeof check.value === 'number') {
    const n = typeof cell === 'number' ? cell : typeof cell === 'string' && cell.trim() !== '' ? Number(cell) : NaN;
    return Number.isFinite(n) && n.toFixed(2) === check.value.toFixed(2) ? undefined : `row ${check.row} ${check.column} is ${JSON.stringify(cell)}, expected ${check.value}`;
  }
  return cell === check.value ? undefined : `row ${check.row} ${check.column} is ${JSON.stringify(cell)}, expected ${JSON.stringify(check.value)}`;
}

describe('embedded demo from the built dist/', function () {
  this.timeout(RUN_TIMEOUT_MS + 15_000);
  let cwd: string;
  /** PATH and HOME only: no model key, no connection, nothing else from the parent. */
  const bareEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd });

  before(() => {
    // An empty working directory: no ceneca.config.json is picked up by accident.
    cwd = mkdtempSync(join(tmpdir(), 'ceneca-demo-'));
  });

  afterEach(() => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    children.clear();
  });

  after(() => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('node dist/demo.js --json replays every recording with real rows, contract-valid streams and an analysis', async () => {
    const result = await runNode('demo.js', ['--json'], bareEnv(), cwd);
    assert.equal(result.code, 0, `exit code ${result.code} (signal ${result.signal}); stderr:\n${result.stderr.slice(-3000)}`);
    assert.match(result.stderr, /\bREPLAY\b/);
    const events = parseJsonLines(result.stdout);

    const sessions = new Map<string, CenecaEvent[]>();
    for (const event of events) {
      const list = sessions.get(event.session) ?? [];
      list.push(event);
      sessions.set(event.session, list);
    }
    assert.equal(sessions.size, demoRecordings.length, 'one session per recording');

    // The demo asks the questions one after another, so sessions appear in the recordings' order.
    const streams = [...sessions.values()];
    demoRecordings.forEach((recording, index) => {
      const stream = streams[index]!;
      const label = `"${recording.question}"`;
      assert.deepEqual(findContractProblems(stream), [], `${label}: contract problems`);
      const last = stream[stream.length - 1]!;
      assert.equal(last.type, 'complete', `${label} ended with ${JSON.stringify(last)}`);
      if (last.type !== 'complete') return;
      assert.ok(last.summary.rowCount > 0, `${label}: no rows`);
      assert.equal(last.summary.sources.join(','), 'demo');
      assert.ok(ofType(stream, 'partial_results').some((e) => e.rows.length > 0), `${label}: no partial_results rows`);
      const analysis = ofType(stream, 'analysis_complete');
      assert.equal(analysis.length, 1, `${label}: analysis_complete`);
      assert.equal(analysis[0]!.text, recording.analysisReply, `${label}: the analysis is the recorded one`);
      const query = ofType(stream, 'query_complete')[0];
      assert.ok(query && recording.sqlReply.includes(query.query), `${label}: the query is the recorded one`);

      const rows = resultRows(stream);
      assert.equal(rows.length, last.summary.rowCount, `${label}: streamed rows = rowCount`);
      const problems = recording.checks.map((check) => checkProblem(check, rows)).filter((p) => p !== undefined);
      assert.deepEqual(problems, [], `${label}: recorded figures differ from the rows`);
    });
  });

  it('node dist/cli.js ask with no connection configured falls back to the embedded demo database', async () => {
    const recording = demoRecordings.find((r) => r.question === 'Who are our top 10 customers by revenue?');
    assert.ok(recording, 'the top-customers recording exists');
    const standIn = new OpenAIStandIn(replayScript());
    await standIn.start();
    try {
      const env = { ...bareEnv(), OPENAI_BASE_URL: standIn.baseURL, OPENAI_API_KEY: 'test' };
      const result = await runNode('cli.js', ['ask', '--json', recording.question], env, cwd);
      assert.equal(result.code, 0, `exit code ${result.code} (signal ${result.signal}); stderr:\n${result.stderr.slice(-3000)}`);
      const events = parseJsonLines(result.stdout);
      assert.deepEqual(findContractProblems(events), []);

      const selected = ofType(events, 'databases_selected');
      assert.equal(selected.length, 1);
      assert.deepEqual(selected[0]!.databases.map((d) => d.id), ['demo']);

      const last = events[events.length - 1]!;
      assert.equal(last.type, 'complete', JSON.stringify(last));
      if (last.type !== 'complete') return;
      assert.equal(last.summary.rowCount, 10);
      const rows = resultRows(events);
      assert.equal(rows.length, 10);
      const problems = recording.checks.map((check) => checkProblem(check, rows)).filter((p) => p !== undefined);
      assert.deepEqual(problems, []);
      assert.ok(standIn.requests.some((r) => /^You analyse the result/.test(r.text)), 'the analysis came from the stand-in');
    } finally {
      await standIn.stop();
    }
  });
});
