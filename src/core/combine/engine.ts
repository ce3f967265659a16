/**
 * The DuckDB side of the combine step (see ./duckdb.ts for what it is for, and why it is safe). Loaded only when a
 * cross-database question needs it: DuckDB's library is large, and a question to one source never pays for it.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance, StatementType, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import type { Cell, ResultColumn } from '../events';
import { QueryExecutionError, type QueryValidation, type RowBatch } from '../sources/source';
import { CombineQueryRefusedError, type CombineOptions, type OperationTable } from './types';
import { columnReader, type ColumnReader } from './read';
import { createTableSql, fillChunk, inferColumnTypes, quoteIdentifier, uniqueColumnNames, type LoadColumn } from './load';
import { ALLOWED_FUNCTIONS_QUERY, allowedFunctionNames, checkSerializedSql, type SerializedSql } from './validate';

interface LoadedTable {
  name: string;
  columns: LoadColumn[];
  rowCount: number;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Names of DuckDB's own catalog views and functions families; an operation id never needs them. */
const RESERVED_TABLE_PREFIX = /^(duckdb_|sqlite_|pragma_|pg_|information_schema)/i;
const ROWS_PER_CHUNK = 2048;
const PROGRESS_EVERY_ROWS = 10_000;
/** Loading yields to the event loop this often, so cancels, heartbeats and other sessions keep moving. */
const YIELD_EVERY_ROWS = 50_000;
/** Result batches: the first chunk at once, then up to this many rows or this much time per batch. */
const BATCH_MAX_ROWS = 5000;
const BATCH_MAX_MS = 50;
const MAX_QUERY_CHARS = 100_000;

export class DuckDBCombineEngine {
  private readonly tables = new Map<string, LoadedTable>();
  /** One statement at a time on the shared connection (an appender and a parse must not interleave). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly functions: ReadonlySet<string>,
  ) {}

  static async create(options: CombineOptions = {}): Promise<DuckDBCombineEngine> {
    const instance = await openLockedDatabase(options);
    const connection = await instance.connect();
    try {
      // The function allowlist comes from the catalog, read before any model output is seen.
      const catalog = await connection.runAndReadAll(ALLOWED_FUNCTIONS_QUERY);
      const names = catalog.getRows().map((row) => String(row[0]));
      return new DuckDBCombineEngine(instance, connection, allowedFunctionNames(names));
    } catch (error) {
      connection.closeSync();
      instance.closeSync();
      throw error;
    }
  }

  /** Creates the table `name` and appends its rows; `onProgress(rowsLoaded)` about every 10,000 rows. */
  async load(table: OperationTable, onProgress?: (rowsLoaded: number) => void): Promise<void> {
    this.assertOpen();
    const key = checkTableName(table.name);
    if (this.tables.has(key)) throw new Error(`a table named ${table.name} is already loaded`);
    const types = inferColumnTypes(table.columns, table.rows);
    const names = uniqueColumnNames(table.columns);
    const columns = table.columns.map((column, i): LoadColumn => ({ name: names[i]!, type: types[i]!, sourceType: column.type }));
    if (columns.length === 0) throw new Error(`operation ${table.name} has no columns to load`);
    // Registered first, so the name is taken while rows load; removed again if loading fails.
    this.tables.set(key, { name: table.name, columns, rowCount: 0 });
    try {
      await this.serially(() => this.connection.run(createTableSql(table.name, columns)));
      await this.serially(() => this.appendRows(table.name, columns, table.rows, onProgress));
      this.tables.get(key)!.rowCount = table.rows.length;
    } catch (error) {
      this.tables.delete(key);
      await this.serially(() => this.connection.run(`DROP TABLE IF EXISTS ${quoteIdentifier(table.name)}`)).catch(() => undefined);
      throw error;
    }
  }

  /** The loaded tables and their columns with DuckDB types, as text for the model's prompt. */
  describeTables(): string {
    if (this.tables.size === 0) return 'No operation tables are loaded.';
    return [...this.tables.values()].map(describeTable).join('\n\n');
  }

  /** One read-only SELECT over the loaded tables only. */
  async validate(sql: string): Promise<QueryValidation> {
    this.assertOpen();
    const query = normaliseQuery(sql);
    if (!query) return { ok: false, problems: ['the combine query is empty'] };
    if (query.length > MAX_QUERY_CHARS) return { ok: false, problems: [`the combine query is longer than ${MAX_QUERY_CHARS} characters`] };
    const serialized = await this.serially(() => serializeSql(this.connection, query));
    const problems = checkSerializedSql(serialized, { tables: new Set(this.tables.keys()), functions: this.functions });
    return { ok: problems.length === 0, problems, query };
  }

  /** Streams the result as row batches (the first carries the columns), at most maxRows rows; `signal` interrupts DuckDB. */
  async *execute(sql: string, options: { maxRows: number; signal: AbortSignal }): AsyncIterable<RowBatch> {
    const { signal } = options;
    signal.throwIfAborted();
    const validation = await this.validate(sql);
    if (!validation.ok || !validation.query) throw new CombineQueryRefusedError(validation.problems);
    // A connection of its own: interrupting it stops this query and nothing else.
    const connection = await this.instance.connect();
    const interrupt = (): void => connection.interrupt();
    signal.addEventListener('abort', interrupt, { once: true });
    let finished = false;
    try {
      signal.throwIfAborted(); // aborted while the connection opened: the listener came too late to fire
      const result = await startSelect(connection, validation.query);
      yield* readBatches(result, Math.max(0, Math.floor(options.maxRows)), signal);
      finished = true;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw toExecutionError(error);
    } finally {
      signal.removeEventListener('abort', interrupt);
      if (!finished) connection.interrupt(); // the consumer stopped early: stop DuckDB too
      connection.closeSync();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async appendRows(name: string, columns: readonly LoadColumn[], rows: readonly Cell[][], onProgress?: (rowsLoaded: number) => void): Promise<void> {
    const appender = await this.connection.createAppender(name);
    const types = columns.map((column) => column.type);
    let reported = 0;
    let yielded = 0;
    try {
      for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
        const count = Math.min(ROWS_PER_CHUNK, rows.length - start);
        appender.appendDataChunk(fillChunk(types, rows, start, count));
        const loaded = start + count;
        if (onProgress && (loaded - reported >= PROGRESS_EVERY_ROWS || loaded === rows.length)) {
          reported = loaded;
          onProgress(loaded);
        }
        if (loaded - yielded >= YIELD_EVERY_ROWS) {
          yielded = loaded;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the combine engine is closed');
  }
}

/**
 * The in-memory database, locked down: no spilling to disk, no extension installs or autoloads, no external
 * access, the local file system disabled, and the configuration locked so SQL cannot undo any of it.
 */
export async function openLockedDatabase(options: CombineOptions = {}): Promise<DuckDBInstance> {
  const threads = options.threads ?? Math.min(4, availableParallelism());
  const instance = await DuckDBInstance.create(':memory:', {
    // Order matters: with external access off, DuckDB refuses to change temp_directory.
    temp_directory: '',
    memory_limit: options.memoryLimit ?? '1GB',
    threads: String(Math.max(1, Math.floor(threads))),
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_persistent_secrets: 'false',
    enable_external_access: 'false',
  });
  const setup = await instance.connect();
  try {
    await setup.run("SET disabled_filesystems = 'LocalFileSystem'");
    await setup.run('SET lock_configuration = true');
  } catch (error) {
    setup.closeSync();
    instance.closeSync();
    throw error;
  }
  setup.closeSync();
  return instance;
}

function checkTableName(name: string): string {
  if (!TABLE_NAME.test(name) || RESERVED_TABLE_PREFIX.test(name)) {
    throw new Error(`operation table name ${JSON.stringify(name)} must be a plain identifier (letters, digits, _), not a DuckDB catalog name`);
  }
  return name.toLowerCase();
}

function describeTable(table: LoadedTable): string {
  const header = `table ${sqlName(table.name)} (${table.rowCount.toLocaleString('en-US')} rows)`;
  const columns = table.columns.map((column) => {
    const source = sameType(column.sourceType, column.type) ? '' : ` -- source type: ${column.sourceType.replace(/\s+/g, ' ').slice(0, 80)}`;
    return `  ${sqlName(column.name)} ${column.type}${source}`;
  });
  return [header, ...columns].join('\n');
}

/** Source type names that say nothing more than the DuckDB type (kept out of the prompt). */
const PLAIN_SOURCE_TYPES: Record<LoadColumn['type'], RegExp> = {
  BIGINT: /^(bigint|int8|integer|int4|int|smallint|int2|int64|long)$/i,
  DOUBLE: /^(double|double precision|float8|float|real|number|numeric)$/i,
  BOOLEAN: /^(boolean|bool)$/i,
  VARCHAR: /^(varchar|text|string|character varying|)$/i,
};

function sameType(sourceType: string, type: LoadColumn['type']): boolean {
  return PLAIN_SOURCE_TYPES[type].test(sourceType.trim());
}

/** A name as the model should write it: bare when it is a plain identifier, double-quoted otherwise. */
function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdentifier(name);
}

function normaliseQuery(sql: string): string {
  return sql.trim().replace(/[\s;]+$/, '');
}

async function serializeSql(connection: DuckDBConnection, query: string): Promise<SerializedSql> {
  const reader = await connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [query]);
  return JSON.parse(String(reader.getRows()[0]?.[0])) as SerializedSql;
}

/** Prepares the single statement (DuckDB refuses to prepare several) and checks it is a SELECT before streaming. */
async function startSelect(connection: DuckDBConnection, query: string): Promise<DuckDBResult> {
  const prepared = await connection.prepare(query);
  try {
    if (prepared.statementType !== StatementType.SELECT) throw new CombineQueryRefusedError(['only a SELECT statement can run']);
    return await prepared.stream();
  } finally {
    prepared.destroySync();
  }
}

async function* readBatches(result: DuckDBResult, maxRows: number, signal: AbortSignal): AsyncGenerator<RowBatch> {
  const columns: ResultColumn[] = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
  const readers = result.columnTypes().map(columnReader);
  let delivered = 0;
  let pending: Cell[][] = [];
  let batchStarted = performance.now();
  let columnsSent = false;
  while (delivered + pending.length < maxRows) {
    const chunk = await result.fetchChunk();
    if (signal.aborted) throw signal.reason;
    if (!chunk || chunk.rowCount === 0) break;
    pending.push(...chunkRows(chunk, readers, maxRows - delivered - pending.length));
    if (!columnsSent || pending.length >= BATCH_MAX_ROWS || performance.now() - batchStarted >= BATCH_MAX_MS) {
      delivered += pending.length;
      yield columnsSent ? { rows: pending } : { columns, rows: pending };
      columnsSent = true;
      pending = [];
      batchStarted = performance.now();
      if (signal.aborted) throw signal.reason;
    }
  }
  if (pending.length > 0 || !columnsSent) yield columnsSent ? { rows: pending } : { columns, rows: pending };
}

/** Up to `limit` rows of the chunk as cells, read column by column. */
function chunkRows(chunk: DuckDBDataChunk, readers: readonly ColumnReader[], limit: number): Cell[][] {
  const count = Math.min(chunk.rowCount, limit);
  const rows: Cell[][] = new Array<Cell[]>(count);
  for (let i = 0; i < count; i++) rows[i] = new Array<Cell>(readers.length);
  readers.forEach((read, column) => read(chunk, column, count, rows));
  return rows;
}

/** DuckDB's error text starts with its kind ("Binder Error: …"); all but resource and internal failures are the query's fault. */
function toExecutionError(error: unknown): Error {
  if (error instanceof CombineQueryRefusedError || error instanceof QueryExecutionError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const kind = /^([A-Za-z ]+?) Error:/.exec(message)?.[1];
  const correctable = kind !== undefined && !/^(Out of Memory|INTERRUPT|Interrupt|Fatal|Internal|IO|Permission|Connection)$/i.test(kind);
  return new QueryExecutionError(message, kind, correctable);
}
