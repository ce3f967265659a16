/**
 * The combine step of a cross-database question, alone: both operations' results are already in memory (as the
 * sources deliver them: arrays of JSON-safe cells), and the clock covers loading them into the DuckDB combine
 * engine, running the join and reading every result row as cells. The yardstick is the same join inside one
 * PostgreSQL database, in the same run: both tables already there, the join read through pg-cursor in batches
 * with the PostgreSQL source's own type parsers.
 *
 * Full size: 1,000,000 orders joined with 100,000 customers on customer_id (every order matches one customer, so
 * 1,000,000 result rows); --quick: 50,000 × 5,000.
 *
 *   node --import tsx bench/combine.ts [--quick]     on its own (a throwaway PostgreSQL cluster, or CENECA_PG_URL)
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { CombineEngine } from '../src/core/combine/duckdb';
import type { Cell, ResultColumn } from '../src/core/events';
import { CELL_TYPES, DEFAULT_BATCHING } from '../src/core/sources/postgres';

export interface CombineFigure {
  name: string;
  value: number;
  unit: string;
  note: string;
}

export interface CombineBenchOptions {
  quick: boolean;
  /** A PostgreSQL database the bench may create its two tables in (kept between runs). */
  pgUrl: string;
  log: (line: string) => void;
}

interface Sizes {
  orders: number;
  customers: number;
}

const RUNS = 3;
const REGIONS = ['north', 'south', 'east', 'west'];
const RSS_SAMPLE_MS = 5;
const JOIN_SQL = (orders: string, customers: string): string =>
  `SELECT o.order_id, o.amount, o.label, c.name, c.region FROM ${orders} o JOIN ${customers} c ON c.customer_id = o.customer_id`;

export async function measureCombine(options: CombineBenchOptions): Promise<CombineFigure[]> {
  const sizes: Sizes = options.quick ? { orders: 50_000, customers: 5_000 } : { orders: 1_000_000, customers: 100_000 };
  const inputRows = sizes.orders + sizes.customers;
  const tables = await preparePostgres(options.pgUrl, sizes, options.log);
  options.log(`combine: ${sizes.orders.toLocaleString('en-US')} × ${sizes.customers.toLocaleString('en-US')} rows, DuckDB (load + join + read) vs PostgreSQL (join + read), ${RUNS} interleaved runs…`);
  const inputs = buildInputs(sizes);

  // A first, untimed pass loads DuckDB's library and warms both paths; it also measures RSS on a quiet heap.
  const rssMb = await combineRssGrowthMb(inputs);
  await postgresJoinMs(options.pgUrl, tables, sizes.orders);

  const ours: number[] = [];
  const theirs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // Each timed run starts from a collected heap (with --expose-gc, as `npm run bench` runs), so neither side
    // pays for the other's garbage.
    collectGarbage();
    ours.push(await duckdbCombineMs(inputs));
    collectGarbage();
    theirs.push(await postgresJoinMs(options.pgUrl, tables, sizes.orders));
  }
  const oursMs = median(ours);
  const theirsMs = median(theirs);
  const size = `${sizes.orders.toLocaleString('en-US')} × ${sizes.customers.toLocaleString('en-US')} rows`;
  return [
    {
      name: 'combine_rows_per_s',
      value: inputRows / (oursMs / 1000),
      unit: 'rows/s',
      note: `input rows (${size}) per second of load into DuckDB + join + reading all ${sizes.orders.toLocaleString('en-US')} result rows as cells; median of ${RUNS} (${Math.round(oursMs)} ms)`,
    },
    {
      name: 'combine_ratio_vs_postgres',
      value: theirsMs / oursMs,
      unit: 'ratio',
      note: `ours / PostgreSQL throughput (same join in one database, tables already there, read via pg-cursor: ${Math.round(theirsMs)} ms); goal ≥ 0.5`,
    },
    {
      name: 'combine_rss_mb',
      value: rssMb,
      unit: 'MB',
      note: `peak RSS (sampled every ${RSS_SAMPLE_MS} ms) minus RSS before the combine, inputs already in memory; includes DuckDB's own memory`,
    },
  ];
}

// ---------------------------------------------------------------------------
// DuckDB: the combine engine, as the cross-database pipeline uses it.

interface Inputs {
  orders: { columns: ResultColumn[]; rows: Cell[][] };
  customers: { columns: ResultColumn[]; rows: Cell[][] };
}

/** The rows the sources would have delivered; the same values as the PostgreSQL tables (see preparePostgres). */
function buildInputs(sizes: Sizes): Inputs {
  const orders: Cell[][] = new Array(sizes.orders);
  for (let i = 0; i < sizes.orders; i++) orders[i] = [i, i % sizes.customers, (i % 1000) * 1.25, `order ${i}`];
  const customers: Cell[][] = new Array(sizes.customers);
  for (let j = 0; j < sizes.customers; j++) customers[j] = [j, `customer ${j}`, REGIONS[j % REGIONS.length]!];
  return {
    orders: { columns: [{ name: 'order_id', type: 'integer' }, { name: 'customer_id', type: 'integer' }, { name: 'amount', type: 'double precision' }, { name: 'label', type: 'text' }], rows: orders },
    customers: { columns: [{ name: 'customer_id', type: 'integer' }, { name: 'name', type: 'text' }, { name: 'region', type: 'text' }], rows: customers },
  };
}

async function duckdbCombineMs(inputs: Inputs, onStep?: () => void): Promise<number> {
  const engine = await CombineEngine.create();
  try {
    const started = performance.now();
    await engine.load({ name: 'orders', ...inputs.orders }, onStep);
    await engine.load({ name: 'customers', ...inputs.customers }, onStep);
    let rows = 0;
    const expected = inputs.orders.rows.length;
    for await (const batch of engine.execute(JOIN_SQL('orders', 'customers'), { maxRows: expected + 1, signal: new AbortController().signal })) {
      rows += batch.rows.length;
      onStep?.();
    }
    const elapsed = performance.now() - started;
    if (rows !== expected) throw new Error(`the DuckDB combine returned ${rows} rows, expected ${expected}`);
    return elapsed;
  } finally {
    await engine.close();
  }
}

/** One combine with RSS sampled on a timer and at every progress step (loading yields to the event loop). */
async function combineRssGrowthMb(inputs: Inputs): Promise<number> {
  collectGarbage();
  const before = process.memoryUsage.rss();
  let peak = before;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  try {
    await duckdbCombineMs(inputs, sample);
    sample();
  } finally {
    clearInterval(timer);
  }
  return (peak - before) / 1024 / 1024;
}

// ---------------------------------------------------------------------------
// PostgreSQL: the same join where both tables live in one database.

interface PgTables {
  orders: string;
  customers: string;
}

/** Creates the two tables once per size (kept between runs, like the engine bench's table). */
async function preparePostgres(url: string, sizes: Sizes, log: (line: string) => void): Promise<PgTables> {
  const tables = { orders: `bench_combine_orders_${sizes.orders}`, customers: `bench_combine_customers_${sizes.customers}` };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if ((await rowCount(client, tables.orders)) !== sizes.orders || (await rowCount(client, tables.customers)) !== sizes.customers) {
      log(`combine: creating ${tables.orders} and ${tables.customers} in PostgreSQL…`);
      await client.query(`DROP TABLE IF EXISTS ${tables.orders}, ${tables.customers}`);
      await client.query(`CREATE TABLE ${tables.customers} (customer_id integer PRIMARY KEY, name text NOT NULL, region text NOT NULL)`);
      await client.query(`INSERT INTO ${tables.customers} SELECT g, 'customer ' || g, (ARRAY['north','south','east','west'])[g % 4 + 1] FROM generate_series(0, $1 - 1) g`, [sizes.customers]);
      await client.query(`CREATE TABLE ${tables.orders} (order_id integer PRIMARY KEY, customer_id integer NOT NULL, amount double precision NOT NULL, label text NOT NULL)`);
      await client.query(`INSERT INTO ${tables.orders} SELECT g, g % $2, (g % 1000) * 1.25, 'order ' || g FROM generate_series(0, $1 - 1) g`, [sizes.orders, sizes.customers]);
      await client.query(`ANALYZE ${tables.customers}`);
      await client.query(`ANALYZE ${tables.orders}`);
    }
  } finally {
    await client.end();
  }
  return tables;
}

async function rowCount(client: pg.Client, table: string): Promise<number> {
  const present = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_class WHERE relname = $1', [table]);
  if (present.rows[0]!.n !== '1') return -1;
  return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
}

/** The join read to its last row the way the PostgreSQL source reads (read-only transaction, cursor batches, its type parsers). */
async function postgresJoinMs(url: string, tables: PgTables, expected: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SELECT 1 FROM ${tables.orders} LIMIT 1`); // a warm backend, like a pooled connection
    const started = performance.now();
    await client.query('BEGIN READ ONLY');
    const cursor = client.query(new Cursor(JOIN_SQL(tables.orders, tables.customers), [], { rowMode: 'array', types: CELL_TYPES }));
    let rows = 0;
    for (;;) {
      const batch = await cursor.read(DEFAULT_BATCHING.maxRows);
      rows += batch.length;
      if (batch.length < DEFAULT_BATCHING.maxRows) break;
    }
    await cursor.close();
    await client.query('ROLLBACK');
    const elapsed = performance.now() - started;
    if (rows !== expected) throw new Error(`the PostgreSQL join returned ${rows} rows, expected ${expected}`);
    return elapsed;
  } finally {
    await client.end();
  }
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// ---------------------------------------------------------------------------
// On its own: `node --import tsx bench/combine.ts [--quick]`. (Not when bundled into dist/bench.js.)

async function standalone(): Promise<void> {
  const { startPgCluster } = await import('../test/support/pg-cluster');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const cluster = process.env.CENECA_PG_URL ? undefined : await startPgCluster(log);
  try {
    const figures = await measureCombine({ quick: process.argv.includes('--quick'), pgUrl: process.env.CENECA_PG_URL || cluster!.url, log });
    for (const figure of figures) console.log(JSON.stringify({ ...figure, value: Math.round(figure.value * 100) / 100 }));
  } finally {
    await cluster?.stop();
  }
}

if (/[\\/]bench[\\/]combine\.ts$/.test(process.argv[1] ?? '')) {
  standalone().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  });
}
