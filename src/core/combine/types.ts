/** The combine step's public shapes, free of DuckDB imports (so importing them loads nothing native). */
import type { Cell, ResultColumn } from '../events';

export interface OperationTable {
  /** A plain identifier: the operation id. */
  name: string;
  columns: ResultColumn[];
  rows: Cell[][];
}

export interface CombineOptions {
  /** DuckDB's memory_limit, e.g. "1GB" (default). Nothing spills to disk: a larger join fails with a clear error. */
  memoryLimit?: string;
  /** Worker threads (default: the cores, at most 4, to leave the editor responsive). */
  threads?: number;
}

/** The combine SQL was refused by validation (execute() checks it again, whatever the caller did). */
export class CombineQueryRefusedError extends Error {
  constructor(readonly problems: string[]) {
    super(`combine query refused: ${problems.join('; ')}`);
    this.name = 'CombineQueryRefusedError';
  }
}
