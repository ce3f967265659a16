/**
 * Terminal renderers for a session's events. Human mode: progress on stderr, the query as it streams, a result
 * table and the analysis on stdout. JSON mode: one event per line on stdout and nothing else there.
 * Every value from a database or a model is stripped of control characters before it reaches a terminal.
 */
import type { Writable } from 'node:stream';
import type { Cell, CenecaEvent, ResultColumn } from '../core/events';

export interface Output {
  out: Writable;
  err: Writable;
  /** stderr is a terminal: progress can redraw one line. */
  interactive: boolean;
}

export type Renderer = (event: CenecaEvent) => void | Promise<void>;

/** Writes each event as one JSON line, waiting when stdout's buffer is full (so rows never pile up in memory). */
export function jsonRenderer(output: Output): Renderer {
  return (event) => {
    const ok = output.out.write(`${JSON.stringify(event)}\n`);
    if (!ok) return new Promise<void>((resolve) => output.out.once('drain', resolve));
  };
}

/**
 * `--classify-only` in human mode: the chosen sources on stdout, one per line (`id<TAB>kind<TAB>reason`), so a
 * script can read them; everything else as the human renderer shows it, except the rows summary.
 */
export function classificationRenderer(output: Output): Renderer {
  const human = humanRenderer(output);
  return (event) => {
    if (event.type === 'databases_selected') {
      for (const d of event.databases) output.out.write(`${clean(d.id)}\t${d.kind}\t${clean(d.reason)}\n`);
      return;
    }
    if (event.type === 'complete') return;
    return human(event);
  };
}

const TABLE_ROWS_SHOWN = 40;
const CELL_WIDTH = 40;

export function humanRenderer(output: Output): Renderer {
  const { out, err } = output;
  let queryOpen = false;
  let analysisOpen = false;
  /** Each result's columns and first rows, by result id (a plan's operations stream several at once). */
  const results = new Map<string, { columns: ResultColumn[]; rows: Cell[][] }>();
  let progressLine = false;
  const queryText = new StreamCleaner();
  const analysisText = new StreamCleaner();

  const note = (text: string): void => {
    clearProgress();
    err.write(`${text}\n`);
  };
  const progress = (text: string): void => {
    if (!output.interactive) return;
    err.write(`\r\x1b[2K${text}`);
    progressLine = true;
  };
  const clearProgress = (): void => {
    if (progressLine) err.write('\r\x1b[2K');
    progressLine = false;
  };
  const closeQuery = (): void => {
    if (queryOpen) out.write('\n```\n');
    queryOpen = false;
  };

  return (event) => {
    switch (event.type) {
      case 'classifying':
        progress(`… ${clean(event.message)}`);
        break;
      case 'databases_selected':
        note(`✓ source: ${event.databases.map((d) => `${clean(d.id)} (${clean(d.reason)})`).join(', ')}`);
        break;
      case 'schema_loading':
        progress(`… loading the schema of ${clean(event.source)}: ${Math.round(event.fraction * 100)}%`);
        break;
      case 'schema_chunks':
        note(`✓ schema: ${event.chunks.map((c) => `${clean(c.name)} ${c.score.toFixed(2)}`).join(', ') || 'no tables found'}`);
        break;
      case 'status':
        note(`• ${clean(event.message)}`);
        break;
      case 'partial_query':
        // An operation's query is printed whole when complete: several may stream at once.
        if (event.operationId) break;
        if (!queryOpen) {
          clearProgress();
          out.write(`\`\`\`${event.language === 'sql' ? 'sql' : 'json'}\n`);
          queryOpen = true;
        }
        out.write(queryText.push(event.delta));
        break;
      case 'query_complete':
        if (event.operationId) {
          out.write(`-- ${clean(event.operationId)} (${clean(event.source)})\n\`\`\`${event.language === 'sql' ? 'sql' : 'json'}\n${clean(event.query, true)}\n\`\`\`\n`);
          break;
        }
        closeQuery();
        break;
      case 'query_validated':
        note(`${event.operationId ? `[${clean(event.operationId)}] ` : ''}${event.ok ? '✓ query is read-only and valid' : `✗ query refused: ${event.problems.map((p) => clean(p)).join('; ')}`}`);
        break;
      case 'execution_started':
        progress('… running the query');
        break;
      case 'partial_results': {
        const result = results.get(event.resultId) ?? { columns: [], rows: [] };
        if (event.columns) result.columns = event.columns;
        if (result.rows.length < TABLE_ROWS_SHOWN) result.rows.push(...event.rows.slice(0, TABLE_ROWS_SHOWN - result.rows.length));
        results.set(event.resultId, result);
        progress(`… ${event.offset + event.rows.length} rows`);
        break;
      }
      case 'result_complete': {
        clearProgress();
        const result = results.get(event.resultId) ?? { columns: [], rows: [] };
        if (event.operationId) out.write(`${clean(event.operationId)}: `);
        else if (event.source === 'combine') out.write('combined:\n');
        if (!event.operationId) out.write(formatTable(result.columns, result.rows));
        out.write(`${event.rowCount} row(s)${event.truncated ? ` — truncated at ${event.rowCount}` : ''} in ${event.elapsedMs} ms\n\n`);
        results.delete(event.resultId);
        break;
      }
      case 'planning':
        progress(`… ${clean(event.step)}`);
        break;
      case 'plan':
        if (event.final) note(`✓ plan: ${event.operations.map((o) => `${clean(o.id)} (${clean(o.source)}${o.uses?.length ? `, uses ${o.uses.map((u) => clean(u)).join(', ')}` : ''})`).join(' → ')}`);
        break;
      case 'operation_started':
        note(`▸ ${clean(event.operationId)} started`);
        break;
      case 'operation_completed':
        note(`✓ ${clean(event.operationId)} done`);
        break;
      case 'aggregating':
        progress(`… ${clean(event.step)}${event.rows !== undefined ? ` (${event.rows} rows)` : ''}`);
        break;
      case 'analysis_chunk':
        analysisOpen = true;
        out.write(analysisText.push(event.text));
        break;
      case 'analysis_complete':
        if (analysisOpen) out.write('\n');
        analysisOpen = false;
        break;
      case 'error':
        closeQuery();
        note(`${event.recoverable ? '! ' : '✗ '}${event.code}: ${clean(event.message)}${event.suggestion ? `\n  suggestion: ${clean(event.suggestion)}` : ''}`);
        break;
      case 'complete':
        note(`✓ done: ${event.summary.rowCount} row(s) from ${event.summary.sources.map((s) => clean(s)).join(', ')} in ${event.summary.elapsedMs} ms${event.summary.usage ? `; tokens ${event.summary.usage.inputTokens} in / ${event.summary.usage.outputTokens} out` : ''}`);
        break;
      default:
        break;
    }
  };
}

/**
 * `clean` for text that arrives in pieces: an escape sequence split across two pieces is held back until it is
 * complete, so its tail never shows as stray characters (and its head never reaches the terminal).
 */
export class StreamCleaner {
  private pending = '';

  push(piece: string): string {
    const text = this.pending + piece;
    const escape = text.lastIndexOf('\x1b');
    const tail = escape >= 0 ? text.slice(escape) : '';
    const unfinished = tail.length > 0 && tail.length < 256 && UNFINISHED_ESCAPE.test(tail);
    this.pending = unfinished ? tail : '';
    return clean(unfinished ? text.slice(0, escape) : text, true);
  }
}

/** The start of a CSI or OSC sequence whose end has not arrived yet. */
const UNFINISHED_ESCAPE = /^\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?)?$/;

/** Removes terminal control sequences and control characters (a hostile cell must not drive the terminal). */
export function clean(text: string, keepNewlines = false): string {
  const withoutEscapes = text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b./g, '');
  return keepNewlines
    ? withoutEscapes.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '')
    : withoutEscapes.replace(/[\x00-\x1f\x7f-\x9f]/g, ' ');
}

export function formatTable(columns: readonly ResultColumn[], rows: readonly Cell[][]): string {
  if (columns.length === 0) return '(no columns)\n';
  const cells = rows.map((row) => columns.map((_, i) => formatCell(row[i])));
  const widths = columns.map((c, i) => Math.min(CELL_WIDTH, Math.max(clean(c.name).length, ...cells.map((r) => r[i]!.length))));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join(' │ ');
  const header = line(columns.map((c) => truncate(clean(c.name))));
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [header, rule, ...cells.map(line)].join('\n') + '\n';
}

function formatCell(value: Cell | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  return truncate(clean(String(value)));
}

function truncate(text: string): string {
  return text.length > CELL_WIDTH ? `${text.slice(0, CELL_WIDTH - 1)}…` : text;
}
