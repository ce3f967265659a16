/**
 * What the @ceneca chat participant writes for each engine event, with no vscode import: the participant hands
 * its ChatResponseStream over as a ChatSink, and tests hand a recording double.
 *
 * Everything that came from the database or the model is untrusted text in a markdown response: table cells, column
 * names and messages are escaped (entities for `<` `>` `&`, backslashes for markdown punctuation, `|` kept inside
 * its cell), the query sits in a code fence longer than any backtick run in it, and images are disarmed in the
 * analysis so a crafted row cannot make the model emit a picture that carries data to a remote server.
 */
import type { Cell, CenecaEvent, ResultColumn } from '../../core/events';

/** The slice of `vscode.ChatResponseStream` the renderer writes to. */
export interface ChatSink {
  progress(text: string): void;
  markdown(text: string): void;
  button(command: string, title: string): void;
}

export interface ChatRenderOptions {
  /** Rows shown in the chat's table; the Results view has them all. */
  tableRows?: number;
}

/** What the answer came to, for the chat result's metadata. */
export interface ChatRenderOutcome {
  query?: string;
  rowCount?: number;
  error?: { code: string; message: string };
}

export const SHOW_RESULTS_COMMAND = 'ceneca.showResults';
export const SHOW_RESULTS_TITLE = 'Open results in the sidebar';

const DEFAULT_TABLE_ROWS = 20;
/** Longest cell shown in the chat table; the full value is in the Results view. */
const MAX_CELL_LENGTH = 200;
/** The growing query is shown again after this many more characters (or a new line). */
const QUERY_PROGRESS_STEP = 40;

export async function renderToChat(events: AsyncIterable<CenecaEvent>, sink: ChatSink, options: ChatRenderOptions = {}): Promise<ChatRenderOutcome> {
  const renderer = new ChatRenderer(sink, options);
  for await (const event of events) renderer.accept(event);
  renderer.finish();
  return renderer.outcome;
}

export class ChatRenderer {
  readonly outcome: ChatRenderOutcome = {};
  private readonly tableRows: number;
  private readonly schemaAnnounced = new Set<string>();
  private queryShownLength = 0;
  private queryShownLines = 0;
  private resultId?: string;
  private columns: ResultColumn[] = [];
  private rows: Cell[][] = [];
  private resultShown = false;
  private analysisStarted = false;
  private readonly analysis = new ImageDisarmer();
  /** Whether the markdown written so far ends a block, so the next block needs no blank line before it. */
  private atBlockStart = true;

  constructor(
    private readonly sink: ChatSink,
    options: ChatRenderOptions = {},
  ) {
    this.tableRows = options.tableRows ?? DEFAULT_TABLE_ROWS;
  }

  accept(event: CenecaEvent): void {
    switch (event.type) {
      case 'status':
        this.sink.progress(escapeMarkdownText(event.message));
        break;
      case 'classifying':
        this.sink.progress('Choosing the data source…');
        break;
      case 'databases_selected':
        this.sink.progress(`Answering from ${event.databases.map((d) => escapeMarkdownText(d.id)).join(', ')}…`);
        break;
      case 'schema_loading':
        if (!this.schemaAnnounced.has(event.source)) {
          this.schemaAnnounced.add(event.source);
          this.sink.progress(`Reading the schema of ${escapeMarkdownText(event.source)}…`);
        }
        break;
      case 'partial_query':
        this.showQueryGrowing(event.text);
        break;
      case 'query_complete':
        this.outcome.query = event.query;
        this.queryShownLength = 0;
        this.queryShownLines = 0;
        this.block(sqlBlock(event.query));
        this.sink.progress('Checking the query…');
        break;
      case 'execution_started':
        this.sink.progress(`Running the query on ${escapeMarkdownText(event.source)}…`);
        break;
      case 'partial_results':
        this.collectRows(event.resultId, event.columns, event.rows);
        break;
      case 'result_complete':
        this.outcome.rowCount = event.rowCount;
        this.showResult(event.resultId, event.rowCount, event.truncated);
        break;
      case 'analysis_chunk':
        this.writeAnalysis(event.text);
        break;
      case 'analysis_complete':
        // Streamed already, chunk by chunk; a stream without chunks gets the whole text now.
        if (!this.analysisStarted) this.writeAnalysis(event.text);
        this.endAnalysis();
        break;
      case 'error':
        this.showError(event.code, event.message, event.recoverable, event.suggestion);
        break;
      default:
        break;
    }
  }

  /** The stream ended: anything held back is written, and the way to the full result offered. */
  finish(): void {
    this.endAnalysis();
    if (this.resultShown) this.sink.button(SHOW_RESULTS_COMMAND, SHOW_RESULTS_TITLE);
  }

  private showQueryGrowing(text: string): void {
    // A correction round starts the query again.
    if (text.length < this.queryShownLength) {
      this.queryShownLength = 0;
      this.queryShownLines = 0;
    }
    // Lines with something on them: a new line shows once its first characters arrive.
    const lines = text.trimEnd().split('\n').length;
    const first = this.queryShownLength === 0;
    if (!first && lines === this.queryShownLines && text.length - this.queryShownLength < QUERY_PROGRESS_STEP) return;
    this.queryShownLength = Math.max(1, text.length);
    this.queryShownLines = lines;
    const lastLine = text.trimEnd().split('\n').pop()?.trim() ?? '';
    const tail = lastLine.length > 80 ? `…${lastLine.slice(-79)}` : lastLine;
    this.sink.progress(tail ? `Writing the query: ${codeSpan(tail)}` : 'Writing the query…');
  }

  private collectRows(resultId: string, columns: ResultColumn[] | undefined, rows: Cell[][]): void {
    if (resultId !== this.resultId) {
      this.resultId = resultId;
      this.columns = [];
      this.rows = [];
    }
    if (columns) this.columns = columns; // the column list only grows
    const room = this.tableRows - this.rows.length;
    if (room > 0) this.rows.push(...rows.slice(0, room));
  }

  private showResult(resultId: string, rowCount: number, truncated: boolean): void {
    const sameResult = resultId === this.resultId;
    const columns = sameResult ? this.columns : [];
    const rows = sameResult ? this.rows : [];
    const parts: string[] = [];
    if (columns.length > 0 && rows.length > 0) parts.push(markdownTable(columns, rows));
    parts.push(rowCountLine(rowCount, rows.length, truncated));
    this.block(parts.join('\n\n'));
    this.resultShown = true;
  }

  private writeAnalysis(text: string): void {
    if (!this.analysisStarted) {
      this.analysisStarted = true;
      this.sink.progress('Writing the analysis…');
      this.block('');
    }
    const safe = this.analysis.push(text);
    if (safe) this.write(safe);
  }

  private endAnalysis(): void {
    const rest = this.analysis.flush();
    if (rest) this.write(rest);
  }

  private showError(code: string, message: string, recoverable: boolean, suggestion: string | undefined): void {
    this.endAnalysis();
    const advice = suggestion ? `\n\n*Suggestion:* ${escapeMarkdownText(suggestion)}` : '';
    if (recoverable) {
      this.block(`> ⚠️ ${escapeMarkdownText(message)}${suggestion ? ` (${escapeMarkdownText(suggestion)})` : ''}`);
      return;
    }
    this.outcome.error = { code, message };
    if (code === 'cancelled') this.block('*Cancelled.*');
    else this.block(`**Ceneca could not answer:** ${escapeMarkdownText(message)}${advice}`);
  }

  /** Markdown that must start a block of its own (a fence, a table, a quote). */
  private block(text: string): void {
    if (!this.atBlockStart) this.write('\n\n');
    if (text) this.write(`${text}\n\n`);
  }

  private write(text: string): void {
    this.sink.markdown(text);
    this.atBlockStart = text.endsWith('\n\n');
  }
}

/** A SQL code block whose fence no backtick run in the query can close early. */
export function sqlBlock(query: string): string {
  const longestRun = Math.max(0, ...(query.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}sql\n${query}\n${fence}`;
}

function codeSpan(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = '`'.repeat(longestRun + 1);
  return `${ticks} ${text} ${ticks}`;
}

export function markdownTable(columns: readonly ResultColumn[], rows: ReadonlyArray<readonly Cell[]>): string {
  const header = `| ${columns.map((c) => escapeMarkdownText(c.name) || ' ').join(' | ')} |`;
  const divider = `| ${columns.map(() => '---').join(' | ')} |`;
  const body = rows.map((row) => `| ${columns.map((_, i) => cellText(row[i])).join(' | ')} |`);
  return [header, divider, ...body].join('\n');
}

/** A cell as plain text in a table: never markup, never a line break, never a column break. */
function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return ' ';
  if (cell === null) return '*NULL*';
  const text = String(cell);
  const shown = text.length > MAX_CELL_LENGTH ? `${text.slice(0, MAX_CELL_LENGTH - 1)}…` : text;
  return escapeMarkdownText(shown) || ' ';
}

/**
 * Text shown as itself in markdown: HTML-significant characters become entities, markdown punctuation is
 * backslash-escaped, and line breaks become spaces (a table row is one line).
 */
export function escapeMarkdownText(text: string): string {
  return text
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~!#]/g, (c) => `\\${c}`);
}

function rowCountLine(rowCount: number, shown: number, truncated: boolean): string {
  const count = (n: number): string => `${n.toLocaleString('en-US')} row${n === 1 ? '' : 's'}`;
  if (rowCount === 0) return '*The query returned no rows.*';
  const cut = truncated ? ` The result was cut at ${count(rowCount)} (the row cap, \`ceneca.maxRows\`).` : '';
  if (shown > 0 && shown < rowCount) return `*Showing the first ${shown.toLocaleString('en-US')} of ${count(rowCount)}.${cut}*`;
  return `*${count(rowCount)}.${cut}*`;
}

/**
 * Streams the analysis with its images disarmed: `![` becomes `!\[`, which markdown shows as text. A chunk ending
 * in `!` is held back until the next chunk says whether a `[` follows.
 */
class ImageDisarmer {
  private held = '';

  push(chunk: string): string {
    const text = (this.held + chunk).replace(/!\[/g, '!\\[');
    this.held = text.endsWith('!') ? '!' : '';
    return this.held ? text.slice(0, -1) : text;
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}
