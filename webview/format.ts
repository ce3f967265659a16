/** Formatting of numbers, durations and cells for display (pure). */
import type { Cell } from '../src/core/events';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCount(n: number): string {
  return integer.format(n);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** What a cell shows. `null` shows as NULL (styled apart); a missing cell (a column added later) shows empty. */
export function cellText(value: Cell | undefined): string {
  if (value === undefined) return '';
  if (value === null) return 'NULL';
  return typeof value === 'string' ? value : String(value);
}

/** What a copied cell holds: like cellText, but NULL copies as an empty string. */
export function cellCopyText(value: Cell | undefined): string {
  return value === null || value === undefined ? '' : typeof value === 'string' ? value : String(value);
}
