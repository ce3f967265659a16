/**
 * The short texts the Connections and History views show. Pure: no vscode import, so it is unit-tested in plain
 * Node.
 */
import type { ColumnInfo, TableInfo } from '../core/schema/types';

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

/** `~1.2K rows` from the planner's estimate; undefined when the estimate is unknown (-1). */
export function rowEstimateText(table: Pick<TableInfo, 'rowEstimate'>): string | undefined {
  const estimate = table.rowEstimate;
  if (!Number.isFinite(estimate) || estimate < 0) return undefined;
  const rounded = Math.round(estimate);
  return `~${compact.format(rounded)} ${rounded === 1 ? 'row' : 'rows'}`;
}

/** `integer · PK · FK → customers.id`: the type, then the key marks. */
export function columnDescription(column: Pick<ColumnInfo, 'type' | 'isPrimaryKey' | 'references'>): string {
  const parts = [column.type];
  if (column.isPrimaryKey) parts.push('PK');
  if (column.references) parts.push(`FK → ${column.references.table}.${column.references.column}`);
  return parts.join(' · ');
}

/** `just now`, `5 min ago`, `3 h ago`, `yesterday`, `4 days ago`, then the date. */
export function relativeTime(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return 'yesterday';
  if (days < 30) return `${days} days ago`;
  return new Date(at).toISOString().slice(0, 10);
}

/** `12 rows`, `1 row`; undefined when the count is unknown. */
export function rowCountText(rowCount: number | undefined): string | undefined {
  if (rowCount === undefined) return undefined;
  return `${rowCount.toLocaleString('en')} ${rowCount === 1 ? 'row' : 'rows'}`;
}

/** A history entry's description: `12 rows · 5 min ago`, `error · 5 min ago`, or just the time. */
export function historyDescription(entry: { rowCount?: number; error?: string; at: number }, now: number): string {
  const outcome = entry.error ? 'error' : rowCountText(entry.rowCount);
  return [outcome, relativeTime(entry.at, now)].filter(Boolean).join(' · ');
}

/** Whitespace collapsed to single spaces and cut at `length` characters with an ellipsis. */
export function oneLine(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}
