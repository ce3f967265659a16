/**
 * The BUILT command line (`node dist/cli.js`) end to end: a real PostgreSQL database, the real OpenAI SDK talking to
 * the loopback stand-in, and the process's own stdout, stderr and exit code (DESIGN §4 "CLI", §5).
 * Every child gets an environment built from scratch, so no model key of the developer's leaks in.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findContractProblems } from '../../src/core/contract';
import type { CenecaEvent } from '../../src/core/events';
import { SlackStandIn } from '../support/slack-standin';
import { OpenAIStandIn, ofType, parseJsonLines, seededDatabase, sql, sqlReply, rowsOf } from '../support/fixtures';

const CLI = resolve(__dirname, '../../dist/cli.js');
const SPAWN_TIMEOUT_MS = 20_000;

const TOP_CUSTOMERS = `SELECT c.name, count(DISTINCT o.id) AS orders, sum(oi.quantity * oi.unit_price) AS revenue
FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id
WHERE o.status NOT IN ('cancelled', 'refunded')
GROUP BY c.name ORDER BY revenue DESC, c.name LIMIT 10`;
const QUESTION = 'Who are our top 10 customers by revenue?';
const ANALYSIS = 'The top customer stands out clearly.\n- ten customers are listed';

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  finished: Promise<Finished>;
  /** Resolves with the first complete stdout line that satisfies `test`. */
  waitForLine(test: (line: string) => boolean): Promise<string>;
}

const children = new Set<ChildProcess>();

/** Starts the built CLI with exactly `env`; kills it (and fails) after `timeoutMs`. */
function startCli(args: string[], env: Record<string, string>, cwd: string, timeoutMs = SPAWN_TIMEOUT_MS): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const lineWaiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let scanned = 0;
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    stdout += text;
    if (lineWaiters.length === 0) {
      scanned = stdout.lastIndexOf('\n') + 1;
      return;
    }
    let end: number;
    while ((end = stdout.indexOf('\n', scanned)) >= 0) {
      const line = stdout.slice(scanned, end);
      scanned = end + 1;
      for (const waiter of [...lineWaiters]) {
        if (waiter.test(line)) {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (text: string) => (stderr += text));
  const finished = new Promise<Finished>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ceneca ${args.join(' ')} did not exit within ${timeoutMs} ms\nstderr:\n${stderr.slice(-2000)}`));
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
  const waitForLine = (test: (line: string) => boolean): Promise<string> =>
    Promise.race([
      new Promise<string>((resolveLine) => lineWaiters.push({ test, resolve: resolveLine })),
      finished.then((result) => {
        throw new Error(`the CLI exited (code ${result.code}) before the awaited line\nstderr:\n${result.stderr.slice(-2000)}`);
      }),
    ]);
  return { child, finished, waitForLine };
}


function lastEvent(events: readonly CenecaEvent[]): CenecaEvent {
  const last = events[events.length - 1];
  assert.ok(last, 'no events');
  return last;
}

function assertContract(events: readonly CenecaEvent[]): void {
  assert.deepEqual(findContractProblems(events), []);
}

describe('CLI (built dist/cli.js) on a real PostgreSQL server', function () {
  this.timeout(40_000);
  let url: string;
  let standIn: OpenAIStandIn;
  let cwd: string;

  /** PATH and HOME from the parent, nothing else: no OPENAI_*, ANTHROPIC_*, CENECA_* or NODE_* leaks in. */
  const bareEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd });
  const fullEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...bareEnv(),
    CENECA_PG_URL: url,
    OPENAI_BASE_URL: standIn.baseURL,
    OPENAI_API_KEY: 'test',
    ...extra,
  });
  const run = (args: string[], env: Record<string, string> = fullEnv()): Promise<Finished> => startCli(args, env, cwd).finished;

  before(async function () {
    this.timeout(60_000);
    url = await seededDatabase('ceneca_cli');
    // An empty directory as the working directory: no ceneca.config.json is picked up by accident.
    cwd = mkdtempSync(join(tmpdir(), 'ceneca-cli-'));
  });

  beforeEach(async () => {
    standIn = new OpenAIStandIn([]);
    await standIn.start();
  });

  afterEach(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    children.clear();
    await standIn.stop();
  });

  after(() => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('--json: every stdout line is a contract-valid event and the rows are what the SQL returns', async () => {
    standIn.push(
      { match: /^You write one read-only/, text: sqlReply(TOP_CUSTOMERS) },
      { match: /^You analyse the result/, text: ANALYSIS, chunkSize: 6 },
    );
    const result = await run(['ask', '--json', QUESTION]);
    assert.equal(result.code, 0, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const done = lastEvent(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));

    const expected = (await sql(url, TOP_CUSTOMERS)).map((row) => Object.values(row));
    assert.equal(expected.length, 10);
    assert.deepEqual(rowsOf(events), expected);
    const first = ofType(events, 'partial_results')[0]!;
    assert.deepEqual(first.columns?.map((c) => c.name), ['name', 'orders', 'revenue']);
    assert.equal(ofType(events, 'result_complete')[0]!.rowCount, 10);
    assert.equal(ofType(events, 'analysis_complete')[0]!.text, ANALYSIS);
    assert.equal(ofType(events, 'query_complete')[0]!.query, TOP_CUSTOMERS);
  });

  it('human mode: the SQL, a table and the analysis on stdout; notes on stderr', async () => {
    standIn.push(
      { match: /^You write one read-only/, text: sqlReply(TOP_CUSTOMERS) },
      { match: /^You analyse the result/, text: ANALYSIS, chunkSize: 6 },
    );
    const result = await run(['ask', QUESTION]);
    assert.equal(result.code, 0, result.stderr);
    const { stdout, stderr } = result;
    assert.ok(stdout.includes(TOP_CUSTOMERS), `the SQL is on stdout:\n${stdout}`);
    const expected = await sql<{ name: string; orders: string; revenue: string }>(url, TOP_CUSTOMERS);
    const header = stdout.split('\n').find((line) => /^name\s+│\s+orders\s+│\s+revenue\s*$/.test(line));
    assert.ok(header, `a table header with the column names:\n${stdout}`);
    for (const row of expected) {
      const line = stdout.split('\n').find((l) => l.startsWith(row.name));
      assert.ok(line, `a table line for ${row.name}`);
      assert.deepEqual(line.split('│').map((cell) => cell.trim()), [row.name, row.orders, row.revenue]);
    }
    assert.ok(stdout.includes('10 row(s)'), stdout);
    assert.ok(stdout.includes(ANALYSIS), `the analysis is on stdout:\n${stdout}`);
    assert.ok(!stdout.trimStart().startsWith('{'), 'human mode prints no JSON events');
    // Notes and progress go to stderr, never to stdout.
    assert.match(stderr, /✓ source: postgres/);
    assert.match(stderr, /✓ done: 10 row\(s\)/);
    assert.ok(!stdout.includes('✓ source') && !stdout.includes('✓ done'), 'notes stay off stdout');
  });

  it('--no-analysis: no analysis events and no analysis request to the model', async () => {
    standIn.push(
      { match: /^You write one read-only/, text: sqlReply(TOP_CUSTOMERS) },
      { match: /^You analyse the result/, text: ANALYSIS },
    );
    const result = await run(['ask', '--json', '--no-analysis', QUESTION]);
    assert.equal(result.code, 0, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    assert.equal(lastEvent(events).type, 'complete');
    assert.equal(events.filter((e) => e.type.startsWith('analysis')).length, 0);
    assert.equal(standIn.requests.length, 1, 'only the SQL request reached the model');
    assert.ok(!standIn.requests.some((r) => /You analyse the result/.test(r.text)), 'no analysis request');
  });

  it('--max-rows 5 truncates a longer result at 5 rows', async () => {
    const query = 'SELECT id, name FROM customers ORDER BY id';
    standIn.push({ match: /^You write one read-only/, text: sqlReply(query) });
    const result = await run(['ask', '--json', '--no-analysis', '--max-rows', '5', 'List the customers']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const complete = ofType(events, 'result_complete');
    assert.equal(complete.length, 1);
    assert.equal(complete[0]!.rowCount, 5);
    assert.equal(complete[0]!.truncated, true);
    assert.deepEqual(rowsOf(events), (await sql(url, `${query} LIMIT 5`)).map((row) => Object.values(row)));
  });

  it('--source nope: the terminal error names the unknown source; exit 1', async () => {
    const result = await run(['ask', '--json', '--source', 'nope', QUESTION]);
    assert.equal(result.code, 1, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const last = lastEvent(events);
    assert.equal(last.type, 'error');
    if (last.type !== 'error') return;
    assert.equal(last.code, 'no_source');
    assert.equal(last.recoverable, false);
    assert.match(last.message, /\bnope\b/);
    assert.equal(standIn.requests.length, 0, 'the model was not asked');
  });

  it('--classify-only with several sources: the choice on stdout (id, kind, reason), no query is generated', async () => {
    const slack = new SlackStandIn({ tokens: { 'xoxp-cli': 'user' }, channels: [{ id: 'C1', name: 'incidents', topic: 'Outages', members: [], messages: [] }] });
    await slack.start();
    const configDir = mkdtempSync(join(tmpdir(), 'ceneca-cli-config-'));
    try {
      const config = { connections: [{ id: 'slack', kind: 'slack', token: '${SLACK_TOKEN}', slackApiUrl: slack.apiUrl }] };
      writeFileSync(join(configDir, 'ceneca.config.json'), JSON.stringify(config));
      standIn.push({ match: /^You route a question/, text: '```json\n{"databases":[{"id":"postgres","reason":"orders are there"},{"id":"slack","reason":"incident talk"}]}\n```' });
      const human = await startCli(['ask', '--classify-only', 'What did #incidents say on the days orders dropped?'], fullEnv({ SLACK_TOKEN: 'xoxp-cli' }), configDir).finished;
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.stdout, 'postgres\tpostgres\torders are there\nslack\tslack\tincident talk\n');
      assert.ok(!human.stderr.includes('xoxp-cli'), 'the token is never printed');

      standIn.push({ match: /^You route a question/, text: '```json\n{"databases":[{"id":"slack","reason":"incident talk"}]}\n```' });
      const json = await startCli(['ask', '--classify-only', '--json', 'What did #incidents say?'], fullEnv({ SLACK_TOKEN: 'xoxp-cli' }), configDir).finished;
      assert.equal(json.code, 0, json.stderr);
      const events = parseJsonLines(json.stdout);
      assertContract(events);
      assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases, [{ id: 'slack', kind: 'slack', reason: 'incident talk' }]);
      assert.equal(ofType(events, 'partial_query').length, 0);
      assert.equal(standIn.requests.length, 2, 'one classification request per run, nothing else');
    } finally {
      rmSync(configDir, { recursive: true, force: true });
      await slack.stop();
    }
  });

  it('--cross: a one-source plan, its operation and the DuckDB combine step, streamed as JSON', async () => {
    const plan = { operations: [{ id: 'per_status', source: 'postgres', goal: 'Orders per status', dependsOn: [], produces: ['status', 'orders'] }], combine: { goal: 'the statuses, most orders first' } };
    standIn.push(
      { match: /^You plan how to answer/, text: '```json\n' + JSON.stringify(plan) + '\n```' },
      { match: /Question: Orders per status/, text: sqlReply('SELECT status, count(*) AS orders FROM orders GROUP BY status') },
      { match: /^You write one read-only DuckDB/, text: sqlReply('SELECT status, CAST(orders AS BIGINT) AS orders FROM per_status ORDER BY orders DESC, status') },
    );
    const result = await run(['ask', '--cross', '--json', '--no-analysis', 'How many orders are there per status?']);
    assert.equal(result.code, 0, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const expected = (await sql<{ status: string; orders: string }>(url, 'SELECT status, count(*) AS orders FROM orders GROUP BY status'))
      .map((r) => [r.status, Number(r.orders)] as [string, number])
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    assert.deepEqual(ofType(events, 'partial_results').filter((e) => e.resultId === 'combine:1').flatMap((e) => e.rows), expected);
    assert.equal(ofType(events, 'operation_started')[0]!.operationId, 'per_status');
    assert.equal(lastEvent(events).type, 'complete');
  });

  it('no model provider configured: exit 2, stderr names OPENAI_API_KEY and ANTHROPIC_API_KEY, stdout empty', async () => {
    const result = await run(['ask', '--json', QUESTION], { ...bareEnv(), CENECA_PG_URL: url });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /OPENAI_API_KEY/);
    assert.match(result.stderr, /ANTHROPIC_API_KEY/);
  });

  it('bad usage exits 2: --max-rows abc, and an unknown command', async () => {
    const [badRows, unknown] = await Promise.all([run(['ask', '--json', '--max-rows', 'abc', QUESTION]), run(['frobnicate', QUESTION])]);
    assert.equal(badRows.code, 2, badRows.stderr);
    assert.equal(badRows.stdout, '');
    assert.match(badRows.stderr, /--max-rows/);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.equal(standIn.requests.length, 0);
  });

  it('an empty question: exit 1 with invalid_question', async () => {
    const result = await run(['ask', '--json', '']);
    assert.equal(result.code, 1, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const last = lastEvent(events);
    assert.equal(last.type, 'error');
    assert.equal(last.type === 'error' && last.code, 'invalid_question');
    assert.equal(standIn.requests.length, 0);
  });

  it('a model that writes DELETE twice: exit 1 with validation_failed and nothing deleted', async () => {
    const [{ count: before }] = await sql<{ count: string }>(url, 'SELECT count(*) FROM orders');
    standIn.push(
      { match: /^You write one read-only/, text: sqlReply('DELETE FROM orders') },
      { match: /^You write one read-only/, text: sqlReply('DELETE FROM orders WHERE id > 0') },
    );
    const result = await run(['ask', '--json', 'Remove all orders']);
    assert.equal(result.code, 1, result.stderr);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const last = lastEvent(events);
    assert.equal(last.type, 'error');
    assert.equal(last.type === 'error' && last.code, 'validation_failed');
    assert.equal(standIn.requests.length, 2, 'one correction round');
    assert.equal(ofType(events, 'execution_started').length, 0, 'nothing was executed');
    const recoverable = ofType(events, 'error').filter((e) => e.recoverable);
    assert.equal(recoverable.length, 1);
    const [{ count: after }] = await sql<{ count: string }>(url, 'SELECT count(*) FROM orders');
    assert.equal(after, before);
    assert.ok(Number(after) > 0);
  });

  it('Ctrl-C: exit 130, a final cancelled error, and the statement is gone from the server', async function () {
    const marker = `ceneca_cancel_${process.pid}_${Date.now()}`;
    const query = `SELECT a.g * 100000 + b.g AS n, md5(b.g::text || '${marker}') AS h FROM generate_series(1, 2000) AS a(g) CROSS JOIN generate_series(1, 100000) AS b(g)`;
    standIn.push({ match: /^You write one read-only/, text: sqlReply(query), chunkSize: 40, chunkDelayMs: 20 });
    const running = startCli(['ask', '--json', '--max-rows', '100000000', 'Every number, slowly'], fullEnv(), cwd);
    await running.waitForLine((line) => line.includes('"type":"partial_results"'));
    // The statement is running on the server right now.
    const activity = `SELECT pid FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`;
    assert.ok((await sql(url, activity)).length > 0, 'the query runs on the server before Ctrl-C');
    running.child.kill('SIGINT');
    const result = await running.finished;
    assert.equal(result.code, 130, `exit code (signal ${result.signal}); stderr:\n${result.stderr}`);
    const events = parseJsonLines(result.stdout);
    assertContract(events);
    const last = lastEvent(events);
    assert.equal(last.type, 'error', JSON.stringify(last));
    assert.equal(last.type === 'error' && last.code, 'cancelled');
    assert.equal(last.type === 'error' && last.recoverable, false);
    assert.ok(ofType(events, 'result_complete').length === 0, 'the result did not complete');

    let left: unknown[] = [];
    for (const deadline = Date.now() + 2_000; ; ) {
      left = await sql(url, activity);
      if (left.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(left, [], 'no backend still runs the cancelled statement');
  });

  it('human mode: a hostile cell (and analysis) with ANSI escapes puts no ESC on stdout', async () => {
    const query = "SELECT E'\\x1b[31mred\\x1b[0m' AS v";
    standIn.push(
      { match: /^You write one read-only/, text: sqlReply(query) },
      // Escape sequences split across stream chunks, as a hostile model could send them.
      { match: /^You analyse the result/, text: 'The value is \u001b[1mred\u001b[0m.\u001b]0;owned\u0007', chunks: ['The value is \u001b[', '1mred\u001b', '[0m.\u001b]0;ow', 'ned\u0007'] },
    );
    const result = await run(['ask', 'Show the hostile value']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes('\u001b'), `stdout has an ESC: ${JSON.stringify(result.stdout)}`);
    assert.ok(!result.stderr.includes('\u001b'), 'stderr (not a terminal) has no ESC either');
    assert.ok(result.stdout.split('\n').some((line) => line.trim() === 'red'), `the cell is shown, cleaned:\n${result.stdout}`);
    assert.ok(!result.stdout.includes('\u0007'), 'no BEL on stdout');
    assert.ok(result.stdout.includes('The value is'), result.stdout);
  });
});
