/**
 * Formats a result for `Ceneca: Export Results…` as CSV (RFC 4180) or JSON. Pure: no vscode import, so it is
 * unit-tested in plain Node.
 */

export type ExportCell = string | number | boolean | null;

export interface ExportTable {
  columns: string[];
  rows: ExportCell[][];
}

/** RFC 4180 asks for CRLF between records. */
const CRLF = '\r\n';

/**
 * A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection"); a leading tab or CR
 * can hide such a start from a reader.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A plain negative number, e.g. `-12`, `-0.5`, `-1.5e+20`: safe to leave as it is (numerics arrive as strings). */
const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The whole result as CSV: a header row, then one record per row, each record ended by CRLF. */
export function toCsv(table: ExportTable): string {
  if (table.columns.length === 0) return '';
  const lines = [table.columns.map((name) => csvField(name))];
  for (const row of table.rows) lines.push(table.columns.map((_, i) => csvField(row[i] ?? null)));
  return lines.map((fields) => fields.join(',') + CRLF).join('');
}

/** One CSV field: NULL is empty, an empty string is `""` (as PostgreSQL's COPY tells them apart), text is guarded and quoted. */
export function csvField(value: ExportCell): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  if (value === '') return '""';
  const text = neutraliseFormula(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Prefixes `'` to text a spreadsheet would run as a formula, but leaves plain negative numbers alone. */
export function neutraliseFormula(text: string): string {
  return FORMULA_START.test(text) && !NEGATIVE_NUMBER.test(text) ? `'${text}` : text;
}

/** The whole result as a JSON array of objects keyed by column name (duplicate names made unique). */
export function toJson(table: ExportTable): string {
  const keys = uniqueColumnNames(table.columns);
  // Object.fromEntries defines own properties, so a column named `__proto__` stays a plain key.
  const objects = table.rows.map((row) => Object.fromEntries(keys.map((key, i) => [key, row[i] ?? null])));
  return `${JSON.stringify(objects, null, 2)}\n`;
}

/**
 * `name`, `name` → `name`, `name_2`. A suffix never takes a name another column already has, so every column
 * that was unique keeps its own name.
 */
export function uniqueColumnNames(columns: readonly string[]): string[] {
  const original = new Set(columns);
  const used = new Set<string>();
  return columns.map((name) => {
    let unique = name;
    for (let n = 2; used.has(unique); n++) {
      const candidate = `${name}_${n}`;
      if (!original.has(candidate)) unique = candidate;
    }
    used.add(unique);
    return unique;
  });
}
