/**
 * PostgreSQL through `pg` + `pg-cursor`: catalogue introspection (cached), read-only validation, an EXPLAIN cost
 * estimate, and execution inside `BEGIN READ ONLY` with a statement timeout, streaming rows in array mode.
 */
import { SnapshotCache } from '../schema/snapshotCache';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Cell, ResultColumn } from '../events';
import { FencedQueryExtractor } from '../llm/extract';
import { nl2sqlPrompt } from '../llm/prompts/nl2sql';
import type { CompletionRequest } from '../llm/provider';
import { formatSchemaForPrompt } from '../schema/format';
import { searchSchema } from '../schema/search';
import type { ColumnInfo, ForeignKey, RankedTable, SchemaSnapshot, TableInfo } from '../schema/types';
import { loadCatalog, type DatabaseCatalog } from './postgres-catalog';
import { validateReadOnlySql } from './postgres-validate';
import {
  QueryExecutionError,
  SourceFailureError,
  StatementTimeoutError,
  type CostEstimate,
  type DataSource,
  type ExecuteOptions,
  type GenerationInput,
  type IntrospectOptions,
  type QueryStreamingExtractor,
  type QueryValidation,
  type RowBatch,
} from './source';

export interface PostgresSourceOptions {
  id: string;
  name?: string;
  /** A connection URL, or a function that produces one (the embedded database starts on demand). */
  connection: string | ((onProgress: (fraction: number) => void) => Promise<string>);
  statementTimeoutMs?: number;
  /** Batching by size and by time (see BatchSizer). */
  batching?: Partial<BatchPolicy>;
  poolSize?: number;
  /** Whether to warn when the role could write (off for the embedded demo, a throwaway superuser database). */
  warnAboutPrivileges?: boolean;
}

export interface BatchPolicy {
  /** The first batch is small, so the first rows show at once. */
  firstRows: number;
  maxRows: number;
  minRows: number;
  /** A read that takes longer than this halves the next batch; a much quicker one doubles it. */
  targetMs: number;
}

export const DEFAULT_BATCHING: BatchPolicy = { firstRows: 100, minRows: 100, maxRows: 5000, targetMs: 50 };

/**
 * Rows are read in batches sized by count and by time: fast results grow to large batches (a cursor round trip
 * per 100 rows halves throughput), slow ones shrink so each batch still arrives within about `targetMs`.
 */
export class BatchSizer {
  private size: number;

  constructor(private readonly policy: BatchPolicy) {
    this.size = policy.firstRows;
  }

  get next(): number {
    return this.size;
  }

  /** Tells the sizer how long the last read took (ms). */
  record(elapsedMs: number): void {
    const { minRows, maxRows, targetMs } = this.policy;
    if (elapsedMs < targetMs / 2) this.size = Math.min(maxRows, this.size * 2);
    else if (elapsedMs > targetMs) this.size = Math.max(minRows, Math.floor(this.size / 2));
  }
}

const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

export class PostgresSource implements DataSource {
  readonly kind = 'postgres' as const;
  readonly language = 'sql' as const;
  readonly id: string;
  readonly name: string;
  private readonly options: PostgresSourceOptions;
  private poolPromise?: Promise<pg.Pool>;
  private readonly snapshots = new SnapshotCache((onProgress) => this.loadSnapshot(onProgress));
  private readonly typeNames = new Map<number, string>();
  /** What statements can invoke in this database (the owner's functions, operators, casts; readable relations). */
  private catalogPromise?: Promise<DatabaseCatalog>;
  private privilegePromise?: Promise<string | undefined>;

  constructor(options: PostgresSourceOptions) {
    this.options = options;
    this.id = options.id;
    this.name = options.name ?? options.id;
  }

  get statementTimeoutMs(): number {
    return this.options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  }

  introspect(options: IntrospectOptions = {}): Promise<SchemaSnapshot> {
    if (options.refresh) this.catalogPromise = undefined;
    return this.snapshots.get(options);
  }

  searchSchema(snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[] {
    return searchSchema(snapshot.tables, question, { limit });
  }

  generationPrompt(input: GenerationInput): CompletionRequest {
    const schemaText = formatSchemaForPrompt(input.tables, { sampleValues: input.includeSampleValues });
    return nl2sqlPrompt({ question: input.question, schemaText, dialect: 'PostgreSQL', maxRows: input.maxRows, history: input.history });
  }

  createExtractor(): QueryStreamingExtractor {
    return new FencedQueryExtractor();
  }

  async validate(query: string): Promise<QueryValidation> {
    const result = await validateReadOnlySql(query, await this.catalog());
    return { ok: result.ok, problems: result.problems, query: result.statement };
  }

  /** Read once per connection (and again after a schema refresh); a failed read is retried by the next question. */
  private catalog(): Promise<DatabaseCatalog> {
    if (!this.catalogPromise) {
      const loading = this.inReadOnlyTransaction(new AbortController().signal, (client) => loadCatalog(client)).catch((error: unknown) => {
        throw new SourceFailureError('source_unavailable', `could not read the catalog of ${this.name} to check the query: ${errorMessage(error)}`, `check that "${this.id}" is reachable and the role may read pg_catalog`);
      });
      this.catalogPromise = loading;
      loading.catch(() => {
        if (this.catalogPromise === loading) this.catalogPromise = undefined;
      });
    }
    return this.catalogPromise;
  }

  async estimateCost(query: string, signal: AbortSignal, params: readonly unknown[] = []): Promise<CostEstimate | undefined> {
    // EXPLAIN and SHOW cost nothing to run, and cannot themselves be EXPLAINed.
    if (!/^\s*(select|with|values|table|\()/i.test(query)) return undefined;
    const rows = await this.inReadOnlyTransaction(signal, async (client) => {
      const result = await client.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${query}`, [...params]);
      return result.rows;
    });
    const plan = readPlan(rows[0]?.['QUERY PLAN']);
    return { cost: plan['Total Cost'] ?? 0, estimatedRows: plan['Plan Rows'] ?? 0 };
  }

  async *execute(query: string, options: ExecuteOptions): AsyncIterable<RowBatch> {
    const pool = await this.pool();
    const client = await connectClient(pool);
    const { signal } = options;
    const stopWatching = this.cancelOnAbort(pool, client, signal);
    // Only a connection that reached its ROLLBACK goes back to the pool; an abandoned, failed or cancelled one
    // is destroyed so nothing of this query survives on the server.
    let finishedCleanly = false;
    try {
      await this.beginReadOnly(client);
      // Type names are read before the cursor opens: while it is open, this connection can run nothing else.
      await this.loadTypeNames(client);
      // Values from other operations of a plan arrive as bound parameters ($1 …), never pasted into the text.
      const cursor = client.query(new Cursor(query, [...(options.params ?? [])], { rowMode: 'array', types: CELL_TYPES }));
      const sizer = new BatchSizer({ ...DEFAULT_BATCHING, ...this.options.batching });
      let delivered = 0;
      let columns: ResultColumn[] | undefined;
      while (delivered < options.maxRows) {
        const size = Math.min(sizer.next, options.maxRows - delivered);
        const started = performance.now();
        const { rows, fields } = await readBatch(cursor, size);
        sizer.record(performance.now() - started);
        if (signal.aborted) throw signal.reason;
        const firstBatch = columns === undefined;
        if (firstBatch) columns = await this.describeColumns(pool, fields);
        if (rows.length === 0 && !firstBatch) break;
        delivered += rows.length;
        yield firstBatch ? { columns, rows } : { rows };
        if (rows.length < size) break;
      }
      await cursor.close();
      await client.query('ROLLBACK');
      finishedCleanly = !signal.aborted;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw this.toExecutionError(error);
    } finally {
      stopWatching();
      client.release(finishedCleanly ? undefined : true);
    }
  }

  privilegeWarning(): Promise<string | undefined> {
    if (this.options.warnAboutPrivileges === false) return Promise.resolve(undefined);
    if (!this.privilegePromise) {
      const checking = this.inReadOnlyTransaction(new AbortController().signal, async (client) => describePrivileges((await client.query<PrivilegeRow>(PRIVILEGES_SQL)).rows[0]));
      this.privilegePromise = checking;
      checking.catch(() => {
        if (this.privilegePromise === checking) this.privilegePromise = undefined;
      });
    }
    return this.privilegePromise;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    const pool = await this.pool();
    const client = await connectClient(pool);
    try {
      if (signal?.aborted) throw signal.reason;
      await client.query('SELECT 1');
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    const pool = this.poolPromise;
    this.poolPromise = undefined;
    this.catalogPromise = undefined;
    this.privilegePromise = undefined;
    this.snapshots.clear();
    if (pool) await (await pool.catch(() => undefined))?.end();
  }

  private pool(onProgress: (fraction: number) => void = () => undefined): Promise<pg.Pool> {
    if (!this.poolPromise) {
      const creating = this.createPool(onProgress);
      this.poolPromise = creating;
      creating.catch(() => {
        if (this.poolPromise === creating) this.poolPromise = undefined;
      });
    }
    return this.poolPromise;
  }

  private async createPool(onProgress: (fraction: number) => void): Promise<pg.Pool> {
    const { connection } = this.options;
    const connectionString = typeof connection === 'string' ? connection : await connection(onProgress);
    assertConnectionString(connectionString, this.id);
    const pool = new pg.Pool({ connectionString, max: this.options.poolSize ?? 4, application_name: 'ceneca', connectionTimeoutMillis: 10_000 });
    pool.on('error', () => undefined); // an idle client dying is not fatal; the next query reconnects
    return pool;
  }

  private async loadSnapshot(onProgress: (fraction: number) => void): Promise<SchemaSnapshot> {
    onProgress(0);
    const pool = await this.pool((fraction) => onProgress(fraction * 0.6));
    onProgress(0.6);
    const client = await connectClient(pool);
    try {
      const relations = await client.query<RelationRow>(RELATIONS_SQL);
      onProgress(0.75);
      const oids = relations.rows.map((r) => r.oid);
      const columns = await client.query<ColumnRow>(COLUMNS_SQL, [oids]);
      onProgress(0.9);
      const constraints = await client.query<ConstraintRow>(CONSTRAINTS_SQL, [oids]);
      const samples = await client.query<SampleRow>(SAMPLES_SQL, [oids]);
      onProgress(1);
      return { source: this.id, tables: assembleTables(relations.rows, columns.rows, constraints.rows, samples.rows), loadedAt: Date.now() };
    } catch (error) {
      throw new Error(`could not read the schema of ${this.name}: ${errorMessage(error)}`);
    } finally {
      client.release();
    }
  }

  private async inReadOnlyTransaction<T>(signal: AbortSignal, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = await this.pool();
    const client = await connectClient(pool);
    const stopWatching = this.cancelOnAbort(pool, client, signal);
    let broken = false;
    try {
      await this.beginReadOnly(client);
      const result = await work(client);
      await client.query('ROLLBACK');
      return result;
    } catch (error) {
      broken = true;
      if (signal.aborted) throw signal.reason;
      throw this.toExecutionError(error);
    } finally {
      stopWatching();
      client.release(broken ? true : undefined);
    }
  }

  private async beginReadOnly(client: pg.PoolClient): Promise<void> {
    await client.query('BEGIN READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(this.statementTimeoutMs))}`);
  }

  /** While `signal` may abort, an abort cancels this client's running statement; returns the un-watch function. */
  private cancelOnAbort(pool: pg.Pool, client: pg.PoolClient, signal: AbortSignal): () => void {
    const cancel = (): void => void this.cancelBackend(pool, backendPid(client));
    signal.addEventListener('abort', cancel, { once: true });
    return () => signal.removeEventListener('abort', cancel);
  }

  /** Stops a running statement from a second connection (the first is busy waiting for it). */
  private async cancelBackend(pool: pg.Pool, pid: number | undefined): Promise<void> {
    if (!pid) return;
    try {
      await pool.query('SELECT pg_cancel_backend($1)', [pid]);
    } catch {
      // the connection is destroyed on release anyway
    }
  }

  /** All type names once per source (a few hundred rows), so describing a result needs no round trip. */
  private async loadTypeNames(client: pg.PoolClient): Promise<void> {
    if (this.typeNames.size > 0) return;
    const result = await client.query<{ oid: number; name: string }>('SELECT oid::int AS oid, format_type(oid, NULL) AS name FROM pg_type');
    for (const row of result.rows) this.typeNames.set(row.oid, row.name);
  }

  private async describeColumns(pool: pg.Pool, fields: readonly pg.FieldDef[]): Promise<ResultColumn[]> {
    const unknown = [...new Set(fields.map((f) => f.dataTypeID).filter((oid) => !this.typeNames.has(oid)))];
    if (unknown.length > 0) {
      // A type created since the names were loaded; asked on another connection (this one is busy with the cursor).
      const result = await pool.query<{ oid: number; name: string }>('SELECT oid::int AS oid, format_type(oid, NULL) AS name FROM pg_type WHERE oid = ANY($1::oid[])', [unknown]);
      for (const row of result.rows) this.typeNames.set(row.oid, row.name);
    }
    return fields.map((f) => ({ name: f.name, type: this.typeNames.get(f.dataTypeID) ?? `oid ${f.dataTypeID}` }));
  }

  private toExecutionError(error: unknown): Error {
    if (error instanceof QueryExecutionError || error instanceof StatementTimeoutError) return error;
    const code = pgErrorCode(error);
    const message = errorMessage(error);
    if (code === '57014' && /statement timeout/i.test(message)) return new StatementTimeoutError(this.statementTimeoutMs);
    // Classes 42 (syntax, unknown table/column) and 22 (bad data for a type) are mistakes the model can fix.
    const correctable = code !== undefined && (code.startsWith('42') || code.startsWith('22') || code === '0A000');
    const position = positionOf(error);
    return new QueryExecutionError(`${message}${code ? ` (SQLSTATE ${code})` : ''}${position}`, code, correctable);
  }
}

/** Cells leave the driver as JSON-safe values with no per-cell work in JavaScript: numbers, booleans, text. */
const NUMBER_OIDS = new Set([21, 23, 26, 700, 701]);
const BOOLEAN_OID = 16;
export const CELL_TYPES = {
  getTypeParser: (oid: number): ((value: string) => Cell) => {
    if (NUMBER_OIDS.has(oid)) return parseFiniteNumber;
    if (oid === BOOLEAN_OID) return (value) => value === 't';
    return identity;
  },
} as unknown as pg.CustomTypesConfig;

function identity(value: string): string {
  return value;
}

function parseFiniteNumber(value: string): Cell {
  const n = Number(value);
  return Number.isFinite(n) ? n : value; // NaN and Infinity stay text: JSON cannot carry them
}

function readBatch(cursor: Cursor, size: number): Promise<{ rows: Cell[][]; fields: pg.FieldDef[] }> {
  return new Promise((resolve, reject) => {
    cursor.read(size, (error, rows, result) => {
      if (error) reject(error);
      else resolve({ rows: rows as Cell[][], fields: result?.fields ?? [] });
    });
  });
}

async function connectClient(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    throw new SourceUnavailableError(`could not connect to PostgreSQL: ${errorMessage(error)}`);
  }
}

export class SourceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceUnavailableError';
  }
}

function assertConnectionString(url: string, id: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SourceUnavailableError(`connection ${id}: not a valid PostgreSQL URL (expected postgres://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new SourceUnavailableError(`connection ${id}: URL scheme ${parsed.protocol} is not postgres:// or postgresql://`);
  }
}

function backendPid(client: pg.PoolClient): number | undefined {
  const pid = (client as unknown as { processID?: unknown }).processID;
  return typeof pid === 'number' ? pid : undefined;
}

function pgErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function positionOf(error: unknown): string {
  const position = (error as { position?: unknown } | null)?.position;
  return typeof position === 'string' && position ? ` at character ${position}` : '';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface PlanNode {
  'Total Cost'?: number;
  'Plan Rows'?: number;
}

function readPlan(queryPlan: unknown): PlanNode {
  const parsed: unknown = typeof queryPlan === 'string' ? JSON.parse(queryPlan) : queryPlan;
  const first = Array.isArray(parsed) ? (parsed[0] as { Plan?: PlanNode } | undefined) : undefined;
  return first?.Plan ?? {};
}

/**
 * One catalog query: is the role a superuser, may it write any table, create objects, or does it hold the
 * predefined roles that read files or write everything? (pg_write_all_data exists from PostgreSQL 14.)
 */
const PRIVILEGES_SQL = `
SELECT current_user AS role, r.rolsuper AS superuser,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                 AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS writes_tables,
       EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                 AND has_schema_privilege(n.oid, 'CREATE')) AS creates_objects,
       ARRAY(SELECT g.rolname::text FROM pg_roles g
             WHERE g.rolname IN ('pg_write_all_data', 'pg_write_server_files', 'pg_execute_server_program', 'pg_read_server_files')
               AND pg_has_role(current_user, g.oid, 'USAGE')) AS powerful_roles
FROM pg_roles r WHERE r.rolname = current_user`;

interface PrivilegeRow {
  role: string;
  superuser: boolean;
  writes_tables: boolean;
  creates_objects: boolean;
  powerful_roles: string[];
}

function describePrivileges(row: PrivilegeRow | undefined): string | undefined {
  if (!row) return undefined;
  const powers: string[] = [];
  if (row.superuser) powers.push('is a superuser');
  if (row.writes_tables) powers.push('may change tables');
  if (row.creates_objects) powers.push('may create objects in a schema');
  if (row.powerful_roles.length > 0) powers.push(`is a member of ${row.powerful_roles.join(', ')}`);
  if (powers.length === 0) return undefined;
  return `the role "${row.role}" ${powers.join(', ')}: Ceneca's read-only checks are then the only guard; connect with a read-only role (see "A read-only role" in the README)`;
}

const RELATIONS_SQL = `
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       obj_description(c.oid, 'pg_class') AS comment, c.reltuples::float8 AS estimate
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  AND NOT c.relispartition
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname`;

const COLUMNS_SQL = `
SELECT a.attrelid::int AS relid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, col_description(a.attrelid, a.attnum) AS comment
FROM pg_attribute a
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`;

const CONSTRAINTS_SQL = `
SELECT con.conrelid::int AS relid, con.contype::text AS kind, con.confrelid::int AS refrelid,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord) AS refcolumns
FROM pg_constraint con
WHERE con.contype IN ('p', 'f') AND con.conrelid = ANY($1::oid[])`;

/**
 * Most common values of low-cardinality columns, from the planner's statistics (no table scan). pg_stats only
 * shows columns the user may read.
 */
const SAMPLES_SQL = `
SELECT c.oid::int AS relid, s.attname::text AS name, array_to_json(s.most_common_vals) AS vals
FROM pg_stats s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
WHERE c.oid = ANY($1::oid[]) AND s.most_common_vals IS NOT NULL AND s.n_distinct BETWEEN 1 AND 25`;

interface SampleRow {
  relid: number;
  name: string;
  vals: unknown;
}

interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  comment: string | null;
  estimate: number;
}
interface ColumnRow {
  relid: number;
  name: string;
  type: string;
  nullable: boolean;
  comment: string | null;
}
interface ConstraintRow {
  relid: number;
  kind: 'p' | 'f';
  refrelid: number;
  columns: string[];
  refcolumns: string[];
}

function assembleTables(relations: RelationRow[], columns: ColumnRow[], constraints: ConstraintRow[], samples: SampleRow[]): TableInfo[] {
  const byOid = new Map<number, TableInfo>();
  for (const r of relations) {
    byOid.set(r.oid, {
      schema: r.schema,
      name: r.name,
      qualifiedName: r.schema === 'public' ? quoteIfNeeded(r.name) : `${quoteIfNeeded(r.schema)}.${quoteIfNeeded(r.name)}`,
      kind: r.relkind === 'v' || r.relkind === 'm' ? 'view' : 'table',
      comment: r.comment ?? undefined,
      rowEstimate: r.estimate < 0 ? -1 : Math.round(r.estimate),
      columns: [],
      primaryKey: [],
      foreignKeys: [],
    });
  }
  for (const c of columns) {
    const column: ColumnInfo = { name: c.name, type: c.type, nullable: c.nullable, isPrimaryKey: false, comment: c.comment ?? undefined };
    byOid.get(c.relid)?.columns.push(column);
  }
  for (const con of constraints) {
    const table = byOid.get(con.relid);
    if (!table) continue;
    if (con.kind === 'p') {
      table.primaryKey = con.columns;
      for (const column of table.columns) if (con.columns.includes(column.name)) column.isPrimaryKey = true;
      continue;
    }
    const target = byOid.get(con.refrelid);
    if (!target) continue;
    const fk: ForeignKey = { columns: con.columns, refTable: target.qualifiedName, refColumns: con.refcolumns };
    table.foreignKeys.push(fk);
    con.columns.forEach((name, i) => {
      const column = table.columns.find((c) => c.name === name);
      if (column && !column.references) column.references = { table: target.qualifiedName, column: con.refcolumns[i] ?? '' };
    });
  }
  for (const sample of samples) {
    const column = byOid.get(sample.relid)?.columns.find((c) => c.name === sample.name);
    if (column && Array.isArray(sample.vals)) {
      column.sampleValues = sample.vals.slice(0, 12).map((v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v)).slice(0, 80));
    }
  }
  return [...byOid.values()];
}

function quoteIfNeeded(identifier: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(identifier) ? identifier : `"${identifier.replace(/"/g, '""')}"`;
}
