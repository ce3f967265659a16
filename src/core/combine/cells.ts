/**
 * DuckDB values → event cells (JSON-safe scalars, as every source delivers them): integers beyond 2^53 and wide
 * decimals as text, dates and timestamps as ISO 8601 text, lists, structs and maps as JSON text.
 */
import {
  DuckDBDecimalValue,
  DuckDBTimestampTZValue,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { Cell } from '../events';

export type CellConverter = (value: DuckDBValue) => Cell;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
/** Decimal digits a double carries exactly: a DECIMAL this narrow reads back as the same number. */
const EXACT_DOUBLE_DIGITS = 15;

export function cellConverter(type: DuckDBType): CellConverter {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return (value) => value === true;
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return (value) => Number(value);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return integerCell;
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return doubleCell;
    case DuckDBTypeId.DECIMAL:
      return decimalCell;
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return (value) => String(value).replace(' ', 'T'); // DuckDB prints "YYYY-MM-DD HH:MM:SS[.ffffff]"
    case DuckDBTypeId.TIMESTAMP_TZ:
      return timestampTzCell;
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.STRUCT:
    case DuckDBTypeId.MAP:
    case DuckDBTypeId.ARRAY:
    case DuckDBTypeId.UNION:
    case DuckDBTypeId.VARIANT:
      return (value) => JSON.stringify(JsonDuckDBValueConverter(value, type, JsonDuckDBValueConverter));
    case DuckDBTypeId.SQLNULL:
      return () => null;
    default:
      // VARCHAR, DATE (already ISO), TIME, INTERVAL, UUID, ENUM, BLOB, BIT…: DuckDB's own text.
      return (value) => (typeof value === 'string' ? value : String(value));
  }
}

function integerCell(value: DuckDBValue): Cell {
  if (typeof value !== 'bigint') return String(value);
  return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
}

/** NaN and ±Infinity stay text: JSON cannot carry them (as in the PostgreSQL source). */
function doubleCell(value: DuckDBValue): Cell {
  const n = Number(value);
  return Number.isFinite(n) ? n : String(n);
}

function decimalCell(value: DuckDBValue): Cell {
  if (!(value instanceof DuckDBDecimalValue)) return String(value);
  return value.width <= EXACT_DOUBLE_DIGITS ? Number(value.toString()) : value.toString();
}

/** ISO 8601 in UTC ("2024-01-02T01:04:05.123456Z"), whatever time zone the session uses for display. */
function timestampTzCell(value: DuckDBValue): Cell {
  if (!(value instanceof DuckDBTimestampTZValue)) return String(value);
  if (!value.isFinite) return value.micros > 0n ? 'infinity' : '-infinity';
  const millis = floorDiv(value.micros, 1000n);
  const date = new Date(Number(millis));
  if (Number.isNaN(date.getTime())) return String(value);
  const micros = Number(value.micros - millis * 1000n);
  const iso = date.toISOString(); // …T01:04:05.123Z
  const fraction = `${iso.slice(-4, -1)}${micros ? String(micros).padStart(3, '0') : ''}`.replace(/0+$/, '');
  return `${iso.slice(0, -5)}${fraction ? `.${fraction}` : ''}Z`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}
