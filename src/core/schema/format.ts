/** Schema text as the model sees it: compact, one line per column, keys and comments kept (they help the most). */
import type { ColumnInfo, RankedTable } from './types';

export interface SchemaTextOptions {
  /** Include the most common values of low-cardinality columns (the user's choice of what reaches the model). */
  sampleValues: boolean;
}

export function formatSchemaForPrompt(tables: readonly RankedTable[], options: SchemaTextOptions): string {
  return tables.map((table) => formatTable(table, options)).join('\n\n');
}

function formatTable({ table, relevantColumns }: RankedTable, options: SchemaTextOptions): string {
  const rows = table.rowEstimate >= 0 ? ` (~${table.rowEstimate} rows)` : '';
  const header = `${table.kind} ${table.qualifiedName}${rows}${table.comment ? ` -- ${oneLine(table.comment)}` : ''}`;
  const columns = relevantColumns.map((column) => {
    const marks = [
      column.isPrimaryKey ? 'PK' : '',
      column.references ? `FK -> ${column.references.table}.${column.references.column}` : '',
      column.nullable ? '' : 'NOT NULL',
    ].filter(Boolean);
    return `  ${column.name} ${column.type}${marks.length ? ` ${marks.join(' ')}` : ''}${columnNotes(column, options)}`;
  });
  const hidden = table.columns.length - relevantColumns.length;
  if (hidden > 0) columns.push(`  … ${hidden} more column(s) not shown`);
  return [header, ...columns].join('\n');
}

/**
 * Collections of a document or vector store: one header line per collection (with its count in `unit`s, e.g.
 * documents or points), one line per field: `  path type -- note [common values: …]`.
 */
export function formatCollectionsForPrompt(tables: readonly RankedTable[], options: SchemaTextOptions & { unit: string }): string {
  return tables
    .map(({ table, relevantColumns }) => {
      const count = table.rowEstimate >= 0 ? ` (~${table.rowEstimate} ${options.unit})` : '';
      const header = `collection ${table.qualifiedName}${count}${table.comment ? ` -- ${oneLine(table.comment)}` : ''}`;
      const fields = relevantColumns.map((column) => `  ${column.name} ${column.type}${columnNotes(column, options)}`);
      const hidden = table.columns.length - relevantColumns.length;
      if (hidden > 0) fields.push(`  … ${hidden} more field(s) not shown`);
      return [header, ...fields].join('\n');
    })
    .join('\n\n');
}

/** ` -- comment [common values: …]`, each part only when there is one (and the values only when allowed). */
function columnNotes(column: ColumnInfo, options: SchemaTextOptions): string {
  const comment = column.comment ? ` -- ${oneLine(column.comment)}` : '';
  const samples = options.sampleValues && column.sampleValues?.length ? ` [common values: ${column.sampleValues.map((v) => JSON.stringify(oneLine(v))).join(', ')}]` : '';
  return `${comment}${samples}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}
