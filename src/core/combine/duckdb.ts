/**
 * The combine step of a cross-database plan (issue 7 item 3): each operation's result becomes a table in an
 * embedded, in-memory DuckDB, and the model's combine SQL runs over those tables only.
 *
 * Two layers keep that SQL in its box. validate() checks DuckDB's own parse tree (./validate.ts): one SELECT, only
 * the operation tables, only side-effect-free built-in functions. And the database itself can reach nothing:
 * external access is off, the local file system is disabled, extensions neither install nor autoload, and the
 * configuration is locked, so not even a query the validator missed could read a file or turn these back on.
 *
 * This file is a facade: DuckDB itself (./engine.ts and its native library, ~60 ms and ~25 MB to load) is loaded by
 * the first create(), so the CLI and the extension start without it and a single-source question never loads it.
 */
import type { DuckDBInstance } from '@duckdb/node-api';
import type { QueryValidation, RowBatch } from '../sources/source';
import type { DuckDBCombineEngine } from './engine';
import type { CombineOptions, OperationTable } from './types';

export { CombineQueryRefusedError, type CombineOptions, type OperationTable } from './types';

export class CombineEngine {
  private constructor(private readonly engine: DuckDBCombineEngine) {}

  static async create(options: CombineOptions = {}): Promise<CombineEngine> {
    const { DuckDBCombineEngine } = await import('./engine');
    return new CombineEngine(await DuckDBCombineEngine.create(options));
  }

  /**
   * Creates the table `name` (a plain identifier: the operation id) and appends its rows through DuckDB's appender
   * (never as SQL text). Column types are inferred from the values: BIGINT when every non-null number is an integer
   * within range (also integer text, when the source declares an integer type: PostgreSQL sends int8 as text),
   * DOUBLE for other numbers, BOOLEAN, VARCHAR otherwise (a column of nulls too). `onProgress(rowsLoaded)` about
   * every 10,000 rows.
   */
  load(table: OperationTable, onProgress?: (rowsLoaded: number) => void): Promise<void> {
    return this.engine.load(table, onProgress);
  }

  /** The loaded tables and their columns with DuckDB types, as text for the model's prompt. */
  describeTables(): string {
    return this.engine.describeTables();
  }

  /** One read-only SELECT over the loaded tables only. */
  validate(sql: string): Promise<QueryValidation> {
    return this.engine.validate(sql);
  }

  /**
   * Validates again, then streams the result as row batches (the first carries the columns), at most maxRows rows;
   * aborting `signal` interrupts DuckDB. Refused SQL throws CombineQueryRefusedError; a database error a corrected
   * query could avoid throws QueryExecutionError with `correctable`.
   */
  execute(sql: string, options: { maxRows: number; signal: AbortSignal }): AsyncIterable<RowBatch> {
    return this.engine.execute(sql, options);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

/** The locked-down database CombineEngine runs on, for tests that prove the lock-down without the validator. */
export async function openCombineDatabase(options: CombineOptions = {}): Promise<DuckDBInstance> {
  const { openLockedDatabase } = await import('./engine');
  return openLockedDatabase(options);
}
