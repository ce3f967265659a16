/**
 * Turning an operation's result (JSON-safe cells) into a DuckDB table: one type per column, inferred from the
 * values, and the rows written column by column into data chunks for the appender (no SQL text is built from
 * cell values).
 */
import { BIGINT, BOOLEAN, DOUBLE, DuckDBDataChunk, VARCHAR, type DuckDBType } from '@duckdb/node-api';
import type { Cell, ResultColumn } from '../events';

export type LoadType = 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'VARCHAR';

export interface LoadColumn {
  /** The column's name in DuckDB (unique, case-insensitively, within its table). */
  name: string;
  type: LoadType;
  /** The type the source reported, kept for the model's prompt. */
  sourceType: string;
}

const DUCKDB_TYPES: Record<LoadType, DuckDBType> = { BIGINT, DOUBLE, BOOLEAN, VARCHAR };
const INT64_LIMIT = 2 ** 63;
/** Canonical integer text, as PostgreSQL prints int8 (which reaches us as a string). No leading zeros: "007" is a code, not a number. */
const INTEGER_TEXT = /^-?(0|[1-9][0-9]{0,18})$/;
/** Source types whose values are integers even when they arrive as text. */
const INTEGER_SOURCE_TYPE = /^(bigint|int8|integer|int4|int|smallint|int2|int64|long|bigserial|serial)$/i;

/** Picks a type per column: BIGINT, DOUBLE, BOOLEAN, or VARCHAR for text, mixed kinds and all-null columns. */
export function inferColumnTypes(columns: readonly ResultColumn[], rows: readonly (readonly Cell[])[]): LoadType[] {
  return columns.map((column, index) => inferColumnType(rows, index, INTEGER_SOURCE_TYPE.test(column.type.trim())));
}

function inferColumnType(rows: readonly (readonly Cell[])[], index: number, declaredInteger: boolean): LoadType {
  let numbers = false;
  let fractional = false;
  let booleans = false;
  let integerTexts = false;
  for (const row of rows) {
    const value = row[index];
    if (value === null || value === undefined) continue;
    if (typeof value === 'number') {
      numbers = true;
      if (!isInt64(value)) fractional = true;
    } else if (typeof value === 'boolean') {
      booleans = true;
    } else if (declaredInteger && isInt64Text(value)) {
      integerTexts = true;
    } else {
      return 'VARCHAR';
    }
    if (booleans && (numbers || integerTexts)) return 'VARCHAR';
  }
  if (integerTexts) return fractional ? 'VARCHAR' : 'BIGINT';
  if (numbers) return fractional ? 'DOUBLE' : 'BIGINT';
  return booleans ? 'BOOLEAN' : 'VARCHAR';
}

function isInt64(value: number): boolean {
  return Number.isInteger(value) && value >= -INT64_LIMIT && value < INT64_LIMIT;
}

function isInt64Text(value: string): boolean {
  return INTEGER_TEXT.test(value) && BigInt.asIntN(64, BigInt(value)) === BigInt(value);
}

/** Column names DuckDB accepts and can tell apart: empty names get one, case-insensitive duplicates a suffix. */
export function uniqueColumnNames(columns: readonly ResultColumn[]): string[] {
  const taken = new Set<string>();
  return columns.map((column, index) => {
    const base = column.name.replace(/\0/g, '').trim() || `column_${index + 1}`;
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function createTableSql(table: string, columns: readonly LoadColumn[]): string {
  return `CREATE TABLE ${quoteIdentifier(table)} (${columns.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ')})`;
}

/** Fills a data chunk with rows [start, start + count) of the table, converting each cell to its column's type. */
export function fillChunk(types: readonly LoadType[], rows: readonly (readonly Cell[])[], start: number, count: number): DuckDBDataChunk {
  const chunk = DuckDBDataChunk.create(types.map((type) => DUCKDB_TYPES[type]), count);
  types.forEach((type, column) => {
    const vector = chunk.getColumnVector(column);
    const convert = CONVERTERS[type];
    for (let i = 0; i < count; i++) {
      const cell = rows[start + i]![column];
      vector.setItem(i, cell === null || cell === undefined ? null : convert(cell));
    }
    vector.flush();
  });
  return chunk;
}

// Inference guarantees each converter sees only values its type accepts (integers for BIGINT, and so on).
const CONVERTERS: Record<LoadType, (cell: string | number | boolean) => bigint | number | boolean | string> = {
  BIGINT: (cell) => BigInt(cell),
  DOUBLE: (cell) => Number(cell),
  BOOLEAN: (cell) => cell === true,
  VARCHAR: (cell) => String(cell),
};
