/**
 * `npm run bench`: the engine's speed and memory figures against a real PostgreSQL server (CENECA_PG_URL, or a
 * throwaway cluster like the tests'), with the OpenAI stand-in as a zero-delay model. Prints the machine, one
 * JSON line per figure ({name, value, unit}) and a readable table. `--quick` runs the same code paths on a small
 * table so CI keeps the bench from rotting; it checks nothing.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { CenecaEvent } from '../src/core/events';
import { Engine } from '../src/core/engine';
import { OpenAIProvider } from '../src/core/llm/openai';
import { defaultEngineSettings } from '../src/core/pipeline/single';
import { CELL_TYPES, DEFAULT_BATCHING, PostgresSource } from '../src/core/sources/postgres';
import { OpenAIStandIn } from '../test/support/openai-standin';
import { startPgCluster, type PgCluster } from '../test/support/pg-cluster';
import { Stopwatch, timedProvider, timedSource } from './timing';
import { measureCombine } from './combine';
import { measureCrossQuestion } from './cross';
import { SSE_QUESTION, measureSse } from './sse';
import { measureWebview } from './webview';

interface Figure {
  name: string;
  value: number;
  unit: string;
  note: string;
}

const { values: args } = parseArgs({ options: { only: { type: 'string', multiple: true }, quick: { type: 'boolean', default: false }, 'rss-probe': { type: 'string' }, url: { type: 'string' }, 'model-url': { type: 'string' } } });
const QUICK = args.quick;
/** `--only engine|cli|sse|cross|webview` (repeatable) measures just those groups. */
const GROUPS = ['engine', 'cli', 'sse', 'cross', 'webview'] as const;
const wants = (group: (typeof GROUPS)[number]): boolean => !args.only || args.only.includes(group);
const TABLE = QUICK ? 'bench_rows_small' : 'bench_rows';
const ROWS = QUICK ? 20_000 : 1_000_000;
const LATENCY_RUNS = QUICK ? 5 : 50;
const RATIO_PAIRS = 3;
const BENCH_DB = 'ceneca_bench';

const ONE_ROW_SQL = `SELECT id, label, amount, created_at FROM ${TABLE} WHERE id = 42`;
const ALL_ROWS_SQL = `SELECT * FROM ${TABLE}`;

const FIGURE_NAMES = [
  'first_event_ms',
  'engine_overhead_ms',
  'rows_per_s_raw_cursor',
  'rows_per_s_pipeline',
  'rows_ratio',
  'rss_growth_mb',
  'cli_json_rows_per_s',
  'webview_rows_appended_per_s',
  'webview_scroll_frame_ms',
  'webview_heap_mb',
  'sse_clients',
  'sse_sessions_completed',
  'sse_p50_delivery_ms',
  'sse_p99_delivery_ms',
  'sse_server_rss_mb',
  'resume_first_event_ms',
  'combine_rows_per_s',
  'combine_ratio_vs_postgres',
  'combine_rss_mb',
  'cross_question_ms',
];

const SSE_CHUNK_DELAY_MS = 50;
/** An analysis of a realistic length (a few short paragraphs, ≈ 150 tokens). */
const SSE_ANALYSIS = [
  'The result lists the first 200 items in id order, each with its label and amount.',
  'Amounts rise with the id in steps of 1.37 and would wrap after 10,000 items, so within these 200 rows they grow steadily from 1.37 to 274.00 with no gaps or repeats.',
  'Labels follow the id exactly ("item 1" … "item 200"), which suggests generated data rather than real sales.',
  'Nothing here stands out as an outlier; to see a real distribution, ask for amounts grouped by month or by label prefix.',
].join('\n\n');
const sqlReply = (query: string): string => `Reading the table.\n\n\`\`\`sql\n${query}\n\`\`\``;

async function main(): Promise<void> {
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);
  const cpu = cpus();
  console.log(`machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}${QUICK ? `, --quick (${ROWS.toLocaleString('en-US')} rows)` : ''}`);

  let cluster: PgCluster | undefined;
  const serverUrl = process.env.CENECA_PG_URL || (cluster = await startPgCluster(log)).url;
  const standIn = new OpenAIStandIn([
    { match: /Question: bench one row/, text: sqlReply(ONE_ROW_SQL), chunkSize: 16, times: Infinity },
    { match: /Question: bench all rows/, text: sqlReply(ALL_ROWS_SQL), chunkSize: 16, times: Infinity },
    // The HTTP load test: a model streaming about 40 tokens a second (8 characters every 50 ms), as large ones do.
    { match: new RegExp(`^You analyse the result[\\s\\S]*Question: ${SSE_QUESTION}`), text: SSE_ANALYSIS, chunkSize: 8, chunkDelayMs: SSE_CHUNK_DELAY_MS, times: Infinity },
    { match: new RegExp(`Question: ${SSE_QUESTION}`), text: sqlReply(`SELECT id, label, amount FROM ${TABLE} ORDER BY id LIMIT 200`), chunkSize: 8, chunkDelayMs: SSE_CHUNK_DELAY_MS, times: Infinity },
    { match: /You analyse the result/, text: 'One row: the figure asked for.', chunkSize: 8, times: Infinity },

  ]);
  await standIn.start();
  const figures: Figure[] = [];
  const report = (figure: Figure): void => {
    figures.push(figure);
    console.log(JSON.stringify({ name: figure.name, value: round(figure.value), unit: figure.unit }));
  };

  try {
    const url = await prepareDatabase(serverUrl, log);
    const modelTime = new Stopwatch();
    const dbTime = new Stopwatch();
    const source = new PostgresSource({ id: 'bench', connection: url });
    const engine = new Engine({
      sources: [timedSource(source, dbTime)],
      llm: timedProvider(new OpenAIProvider({ apiKey: 'bench', baseURL: standIn.baseURL, model: 'stand-in' }), modelTime),
      settings: { ...defaultEngineSettings, maxRows: ROWS * 2 },
    });
    try {
      if (wants('engine')) await measureEngine(engine, url, standIn.baseURL, modelTime, dbTime, report);
    } finally {
      await engine.close();
    }
    if (wants('cli')) report({ name: 'cli_json_rows_per_s', value: await cliRowsPerSecond(url, standIn.baseURL), unit: 'rows/s', note: 'ceneca ask --json --no-analysis, stdout to /dev/null, process start to exit' });
    if (wants('sse')) for (const figure of await measureSse({ quick: QUICK, pgUrl: url, modelUrl: standIn.baseURL, log })) report(figure);
    if (wants('cross')) {
      log('the combine step (DuckDB) against the same join in PostgreSQL…');
      for (const figure of await measureCombine({ quick: QUICK, pgUrl: url, log })) report(figure);
      report(await measureCrossQuestion({ serverUrl, standIn, log }));
    }
    if (wants('webview')) {
      log('measuring the webview in Chromium…');
      for (const figure of await measureWebview({ quick: QUICK })) report(figure);
    }
  } finally {
    await standIn.stop();
    await cluster?.stop();
  }
  printTable(figures);
  const missing = args.only ? [] : FIGURE_NAMES.filter((name) => !figures.some((f) => f.name === name && Number.isFinite(f.value)));
  if (missing.length > 0) throw new Error(`figures not measured: ${missing.join(', ')}`);
}

/** First-event latency, engine overhead, rows per second against the raw cursor, and RSS growth. */
async function measureEngine(engine: Engine, url: string, modelUrl: string, modelTime: Stopwatch, dbTime: Stopwatch, report: (figure: Figure) => void): Promise<void> {
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);
  log('warming up…');
  for (let i = 0; i < 5; i++) await drain(engine, 'bench one row');

  const firstEvent: number[] = [];
  const overhead: number[] = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    modelTime.totalMs = 0;
    dbTime.totalMs = 0;
    const timing = await drain(engine, 'bench one row');
    firstEvent.push(timing.firstEventMs);
    overhead.push(timing.wallMs - modelTime.totalMs - dbTime.totalMs);
  }
  report({ name: 'first_event_ms', value: median(firstEvent), unit: 'ms', note: `submit → first event to an in-process subscriber, median of ${LATENCY_RUNS}` });
  report({ name: 'engine_overhead_ms', value: median(overhead), unit: 'ms', note: `wall − model − database time, one-row query with analysis, median of ${LATENCY_RUNS}` });

  log(`streaming ${ROWS.toLocaleString('en-US')} rows: raw cursor and pipeline, interleaved…`);
  const raw: number[] = [];
  const piped: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < RATIO_PAIRS; i++) {
    const rawRate = await rawCursorRowsPerSecond(url);
    const pipeRate = await pipelineRowsPerSecond(engine);
    raw.push(rawRate);
    piped.push(pipeRate);
    ratios.push(pipeRate / rawRate);
  }
  report({ name: 'rows_per_s_raw_cursor', value: median(raw), unit: 'rows/s', note: `pg + pg-cursor, batches of ${DEFAULT_BATCHING.maxRows}, median of ${RATIO_PAIRS}` });
  report({ name: 'rows_per_s_pipeline', value: median(piped), unit: 'rows/s', note: `whole question (model, EXPLAIN, stream) to an in-process consumer, median of ${RATIO_PAIRS}` });
  report({ name: 'rows_ratio', value: median(ratios), unit: 'ratio', note: `pipeline / raw, measured in interleaved pairs, median of ${RATIO_PAIRS}` });

  const half = await rssGrowthInFreshProcess(url, modelUrl, Math.floor(ROWS / 2));
  const full = await rssGrowthInFreshProcess(url, modelUrl, ROWS);
  report({ name: 'rss_growth_mb', value: full, unit: 'MB', note: `RSS growth streaming ${ROWS.toLocaleString('en-US')} rows to a consumer sleeping 1 ms per batch (half the rows: ${round(half)} MB)` });
}

/** A database of its own on the server, with the bench table created once and kept. */
async function prepareDatabase(serverUrl: string, log: (line: string) => boolean): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [BENCH_DB]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  } finally {
    await admin.end();
  }
  const parsed = new URL(serverUrl);
  parsed.pathname = `/${BENCH_DB}`;
  const url = parsed.toString();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const present = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_class WHERE relname = $1`, [TABLE]);
    const rows = present.rows[0]!.n === '1' ? Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`)).rows[0]!.n) : -1;
    if (rows !== ROWS) {
      log(`creating ${TABLE} (${ROWS.toLocaleString('en-US')} rows: int, text, numeric, timestamptz)…`);
      await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
      await client.query(`CREATE TABLE ${TABLE} (id integer PRIMARY KEY, label text NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL)`);
      await client.query(
        `INSERT INTO ${TABLE} SELECT g, 'item ' || g, round((g % 10000) * 1.37, 2), timestamptz '2025-01-01' + g * interval '1 minute' FROM generate_series(1, $1) g`,
        [ROWS],
      );
      await client.query(`ANALYZE ${TABLE}`);
    }
  } finally {
    await client.end();
  }
  return url;
}

/** Runs one question to its end; reports the submit → first event latency and the whole wall time. */
async function drain(engine: Engine, question: string, onEvent?: (event: CenecaEvent) => void | Promise<void>, maxRows?: number, analysis = true): Promise<{ firstEventMs: number; wallMs: number; rows: number; terminal: CenecaEvent }> {
  const started = performance.now();
  const { session, done } = engine.ask({ question, analysis, maxRows });
  let firstEventMs = -1;
  let rows = 0;
  let last: CenecaEvent | undefined;
  for await (const event of session.log.subscribe(0)) {
    if (firstEventMs < 0) firstEventMs = performance.now() - started;
    if (event.type === 'partial_results') rows += event.rows.length;
    last = event;
    await onEvent?.(event);
  }
  const wallMs = performance.now() - started;
  await done;
  if (last?.type !== 'complete') throw new Error(`bench question "${question}" failed: ${JSON.stringify(last)}`);
  return { firstEventMs, wallMs, rows, terminal: last };
}

async function pipelineRowsPerSecond(engine: Engine): Promise<number> {
  const { wallMs, rows } = await drain(engine, 'bench all rows', undefined, ROWS * 2, false);
  if (rows !== ROWS) throw new Error(`pipeline streamed ${rows} rows, expected ${ROWS}`);
  return rows / (wallMs / 1000);
}

/** The driver alone: the same read-only transaction, type parsers and batch size the engine uses. */
async function rawCursorRowsPerSecond(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // A warm backend, like the engine's pooled one: the first query on a new connection loads catalog caches.
    await client.query(`SELECT * FROM ${TABLE} LIMIT 1`);
    const started = performance.now();
    await client.query('BEGIN READ ONLY');
    const cursor = client.query(new Cursor(ALL_ROWS_SQL, [], { rowMode: 'array', types: CELL_TYPES }));
    let rows = 0;
    for (;;) {
      const batch = await cursor.read(DEFAULT_BATCHING.maxRows);
      rows += batch.length;
      if (batch.length < DEFAULT_BATCHING.maxRows) break;
    }
    await cursor.close();
    await client.query('ROLLBACK');
    if (rows !== ROWS) throw new Error(`raw cursor read ${rows} rows, expected ${ROWS}`);
    return rows / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
  }
}

/**
 * RSS is measured in a fresh process: one that has already streamed millions of rows keeps its grown heap, and
 * its baseline would hide the growth.
 */
async function rssGrowthInFreshProcess(url: string, modelUrl: string, rows: number): Promise<number> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', __filename, ...(QUICK ? ['--quick'] : []), '--rss-probe', String(rows), '--url', url, '--model-url', modelUrl], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`RSS probe exited ${code}`))));
  });
  const growth = Number(JSON.parse(output.trim().split('\n').pop()!).rssGrowthMb);
  if (!Number.isFinite(growth)) throw new Error(`RSS probe printed ${output}`);
  return growth;
}

/** The child side: warm up with a one-row question, then stream `rows` rows to a slow consumer. */
async function rssProbe(rows: number, url: string, modelUrl: string): Promise<void> {
  const source = new PostgresSource({ id: 'bench', connection: url });
  const engine = new Engine({
    sources: [source],
    llm: new OpenAIProvider({ apiKey: 'bench', baseURL: modelUrl, model: 'stand-in' }),
    settings: { ...defaultEngineSettings, maxRows: ROWS * 2 },
  });
  try {
    for (let i = 0; i < 3; i++) await drain(engine, 'bench one row');
    console.log(JSON.stringify({ rssGrowthMb: await rssGrowthMb(engine, rows) }));
  } finally {
    await engine.close();
  }
}

/** Peak RSS above the settled baseline while a slow consumer (1 ms per batch) reads `rows` rows. */
async function rssGrowthMb(engine: Engine, rows: number): Promise<number> {
  settle();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const { rows: seen } = await drain(
      engine,
      'bench all rows',
      async (event) => {
        if (event.type === 'partial_results') await new Promise((resolve) => setTimeout(resolve, 1));
      },
      rows,
      false,
    );
    if (seen !== rows) throw new Error(`slow consumer saw ${seen} rows, expected ${rows}`);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return (peak - baseline) / 2 ** 20;
}

function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
}

async function cliRowsPerSecond(url: string, baseURL: string): Promise<number> {
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/cli.js', 'ask', '--json', '--no-analysis', '--max-rows', String(ROWS * 2), 'bench all rows'], {
        stdio: ['ignore', devNull, 'inherit'],
        env: { PATH: process.env.PATH, HOME: process.env.HOME, CENECA_PG_URL: url, OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: 'bench' },
      });
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`ceneca ask exited ${code}`);
    return ROWS / ((performance.now() - started) / 1000);
  } finally {
    closeSync(devNull);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}

function printTable(figures: Figure[]): void {
  const width = Math.max(...figures.map((f) => f.name.length));
  console.log('');
  for (const f of figures) console.log(`${f.name.padEnd(width)}  ${String(round(f.value)).padStart(12)} ${f.unit.padEnd(7)} ${f.note}`);
}

const probeRows = args['rss-probe'];
(probeRows ? rssProbe(Number(probeRows), args.url!, args['model-url']!) : main()).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
