/**
 * Reading result chunks into rows of cells, fast for the common column types.
 *
 * The API's per-value path (DuckDBVector.getItem) allocates a view per string, a BigInt per BIGINT and BigInt
 * arithmetic per validity check; on a million-row join that costs more than the join itself. For BOOLEAN, the
 * integer types, BIGINT, FLOAT, DOUBLE and VARCHAR this module reads the vector's memory directly (the layout the
 * API itself reads: DuckDB's C vectors, flat in fetched result chunks; strings as 16-byte string_t, inlined up to
 * 12 bytes), and converts on the way to the same cells ./cells.ts produces. Every other type goes through the API.
 */
import { endianness } from 'node:os';
import * as bindings from '@duckdb/node-bindings';
import { DuckDBTypeId, type DuckDBDataChunk, type DuckDBType } from '@duckdb/node-api';
import type { Cell } from '../events';
import { cellConverter } from './cells';

/** Writes column `column` of the chunk's first `count` rows into `rows[i][column]`. */
export type ColumnReader = (chunk: DuckDBDataChunk, column: number, count: number, rows: Cell[][]) => void;

const LITTLE_ENDIAN = endianness() === 'LE';
const TWO_POW_32 = 2 ** 32;
/** A high word in [-2^21, 2^21) keeps a 64-bit integer within [-2^53, 2^53), where the arithmetic below is exact. */
const SAFE_HIGH_WORD = 2 ** 21;
const STRING_T_BYTES = 16;
const INLINE_STRING_BYTES = 12;

export function columnReader(type: DuckDBType): ColumnReader {
  if (!LITTLE_ENDIAN) return apiReader(type); // the raw layouts below are little-endian
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return rawReader((data, count) => {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, count);
        return (i) => bytes[i] !== 0;
      }, 1);
    case DuckDBTypeId.TINYINT:
      return typedArrayReader(Int8Array);
    case DuckDBTypeId.UTINYINT:
      return typedArrayReader(Uint8Array);
    case DuckDBTypeId.SMALLINT:
      return typedArrayReader(Int16Array);
    case DuckDBTypeId.USMALLINT:
      return typedArrayReader(Uint16Array);
    case DuckDBTypeId.INTEGER:
      return typedArrayReader(Int32Array);
    case DuckDBTypeId.UINTEGER:
      return typedArrayReader(Uint32Array);
    case DuckDBTypeId.BIGINT:
      return rawReader(bigintValues, 8);
    case DuckDBTypeId.FLOAT:
      return rawReader((data, count) => finiteOrText(new Float32Array(data.buffer, data.byteOffset, count)), 4);
    case DuckDBTypeId.DOUBLE:
      return rawReader((data, count) => finiteOrText(new Float64Array(data.buffer, data.byteOffset, count)), 8);
    case DuckDBTypeId.VARCHAR:
      return rawReader(stringValues, STRING_T_BYTES);
    default:
      return apiReader(type);
  }
}

/** The API's own per-value path, for every type without a fast path. */
function apiReader(type: DuckDBType): ColumnReader {
  const convert = cellConverter(type);
  return (chunk, column, count, rows) => {
    const vector = chunk.getColumnVector(column);
    for (let i = 0; i < count; i++) {
      const value = vector.getItem(i);
      rows[i]![column] = value === null ? null : convert(value);
    }
  };
}

type ValueAt = (index: number) => Cell;

/** Reads a flat vector's data (`width` bytes per value) and its validity mask, then each valid value via `valuesOf`. */
function rawReader(valuesOf: (data: Uint8Array, count: number) => ValueAt, width: number): ColumnReader {
  return (chunk, column, count, rows) => {
    if (count === 0) return;
    const vector = bindings.data_chunk_get_vector(chunk.chunk, column);
    const valueAt = valuesOf(bindings.vector_get_data(vector, count * width), count);
    const validity = validityMask(vector, count);
    for (let i = 0; i < count; i++) {
      rows[i]![column] = validity && ((validity[i >> 3]! >> (i & 7)) & 1) === 0 ? null : valueAt(i);
    }
  };
}

/** DuckDB's validity mask (one bit per row, little-endian 64-bit words), or undefined when every row is valid. */
function validityMask(vector: bindings.Vector, count: number): Uint8Array | undefined {
  const bytes = bindings.vector_get_validity(vector, Math.ceil(count / 64) * 8) as Uint8Array | null | undefined;
  return bytes ?? undefined;
}

type TypedArrayOf = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayLike<number>;

function typedArrayReader(TypedArray: TypedArrayOf & { BYTES_PER_ELEMENT: number }): ColumnReader {
  return rawReader((data, count) => {
    const values = new TypedArray(data.buffer, data.byteOffset, count);
    return (i) => values[i]!;
  }, TypedArray.BYTES_PER_ELEMENT);
}

/** NaN and ±Infinity stay text: JSON cannot carry them. */
function finiteOrText(values: ArrayLike<number>): ValueAt {
  return (i) => {
    const value = values[i]!;
    return Number.isFinite(value) ? value : String(value);
  };
}

/** BIGINT as a number when it is exact in a double (|v| < 2^53, no BigInt allocated), else as text. */
function bigintValues(data: Uint8Array, count: number): ValueAt {
  const words = new Int32Array(data.buffer, data.byteOffset, count * 2);
  return (i) => {
    const high = words[2 * i + 1]!;
    if (high >= -SAFE_HIGH_WORD && high < SAFE_HIGH_WORD) {
      const value = high * TWO_POW_32 + (words[2 * i]! >>> 0);
      if (Number.isSafeInteger(value)) return value; // all but -2^53 itself
    }
    return new BigInt64Array(data.buffer, data.byteOffset + i * 8, 1)[0]!.toString();
  };
}

/** string_t: a 4-byte length, then the bytes inline (≤ 12) or a 4-byte prefix and a pointer to them. */
function stringValues(data: Uint8Array, count: number): ValueAt {
  const buffer = Buffer.from(data.buffer, data.byteOffset, count * STRING_T_BYTES);
  return (i) => {
    const offset = i * STRING_T_BYTES;
    const length = buffer.readUInt32LE(offset);
    if (length <= INLINE_STRING_BYTES) return buffer.toString('utf8', offset + 4, offset + 4 + length);
    const bytes = bindings.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + offset + 8, length);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  };
}
