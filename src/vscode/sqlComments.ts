/**
 * Reads the shape of a SQL document for the editor features, with no vscode import (unit-tested in plain Node):
 * - question comments: a line `-- ? top customers by revenue` (or `--? …`) asks Ceneca to write the SQL below it;
 * - statements: the ranges a "Run with Ceneca" lens runs, split on top-level semicolons.
 *
 * Splitting uses PostgreSQL's own lexer (libpg-query's scanner, WebAssembly, loaded lazily on first use), so quotes,
 * E'' escapes, dollar quoting, quoted identifiers and nested comments are read exactly as the server reads them.
 * The scanner rejects a whole text with a lexical error — an unterminated quote while the user is still typing,
 * `1abc` — and a file being edited is often in that state, so a small hand-written lexer with the same rules
 * (an unterminated literal runs to the end of the text, as it does for the server) takes over then.
 */

export interface QuestionComment {
  /** Zero-based line of the comment. */
  line: number;
  question: string;
  /** Offsets (UTF-16, as `TextDocument.offsetAt`) of the comment itself. */
  start: number;
  end: number;
}

/** A statement's text without the leading comments and the terminating semicolon: `text.slice(start, end)`. */
export interface StatementRange {
  start: number;
  end: number;
}

export interface SqlOutline {
  questions: QuestionComment[];
  statements: StatementRange[];
}

export type SqlTokenKind = 'semicolon' | 'line_comment' | 'block_comment' | 'code';

export interface SqlToken {
  kind: SqlTokenKind;
  start: number;
  end: number;
}

/** The question in one line of text when it is a question comment (`-- ? …` or `--? …`), else undefined. */
export function readQuestionComment(lineText: string): string | undefined {
  const trimmed = lineText.trim();
  if (!trimmed.startsWith('--')) return undefined;
  const afterDashes = trimmed.slice(2).trimStart();
  if (!afterDashes.startsWith('?')) return undefined;
  const question = afterDashes.slice(1).trim();
  return question || undefined;
}

/** The question comments and the statements of a SQL text, from one pass of the lexer. */
export async function outlineSql(text: string): Promise<SqlOutline> {
  return outlineFromTokens(text, await tokenizeSql(text));
}

export async function findQuestionComments(text: string): Promise<QuestionComment[]> {
  return (await outlineSql(text)).questions;
}

export async function findSqlStatements(text: string): Promise<StatementRange[]> {
  return (await outlineSql(text)).statements;
}

/** The outline from a token list (exported so both lexers can be tested through the same rules). */
export function outlineFromTokens(text: string, tokens: readonly SqlToken[]): SqlOutline {
  const lines = new LineIndex(text);
  const questions: QuestionComment[] = [];
  const statements: StatementRange[] = [];
  let current: StatementRange | undefined;
  const close = (): void => {
    if (current) statements.push(current);
    current = undefined;
  };
  for (const token of tokens) {
    if (token.kind === 'semicolon') {
      close();
    } else if (token.kind === 'line_comment') {
      const question = startsItsLine(text, token.start) ? readQuestionComment(text.slice(token.start, token.end)) : undefined;
      if (question !== undefined) {
        // A question comment ends the statement before it: generated queries are written without a semicolon.
        close();
        questions.push({ line: lines.lineOf(token.start), question, start: token.start, end: token.end });
      }
    } else if (token.kind === 'code') {
      if (current) current.end = token.end;
      else current = { start: token.start, end: token.end };
    }
  }
  close();
  return { questions, statements };
}

/**
 * The statement the cursor is in, or just after on the same line (`select 1;|`); undefined when the cursor is
 * elsewhere (a blank line between statements, a comment).
 */
export function statementAt(text: string, statements: readonly StatementRange[], offset: number): StatementRange | undefined {
  let candidate: StatementRange | undefined;
  for (const statement of statements) {
    if (statement.start > offset) break;
    candidate = statement;
  }
  if (!candidate) return undefined;
  if (offset <= candidate.end) return candidate;
  const between = text.slice(candidate.end, offset);
  return /^[ \t;]*$/.test(between) ? candidate : undefined;
}

/**
 * The question comment on the cursor's line, or the nearest one above it when nothing but blank lines and other
 * comments lie between (the user wrote the question, pressed Enter, and asked for the SQL).
 */
export function questionAtOrAbove(text: string, outline: SqlOutline, line: number): QuestionComment | undefined {
  const lines = new LineIndex(text);
  let nearest: QuestionComment | undefined;
  for (const question of outline.questions) {
    if (question.line > line) break;
    nearest = question;
  }
  if (!nearest) return undefined;
  const found = nearest;
  const cursorLineEnd = lines.lineEnd(line);
  const codeBetween = outline.statements.some((s) => s.start > found.end && s.start < cursorLineEnd);
  return codeBetween ? undefined : found;
}

// ---------------------------------------------------------------------------------------------------------------
// Lexing.

/** Tokens of a SQL text: PostgreSQL's scanner when it accepts the text, else the fallback lexer. */
export async function tokenizeSql(text: string): Promise<SqlToken[]> {
  // The scanner reads a C string: a NUL would silently end the text early.
  if (text.includes('\0')) return lexSqlFallback(text);
  const scanner = await loadScanner().catch(() => undefined);
  if (!scanner) return lexSqlFallback(text);
  let scanned: ScanOutput;
  try {
    scanned = scanner(text);
  } catch {
    return lexSqlFallback(text);
  }
  return tokensFromScan(text, scanned);
}

interface ScanOutput {
  tokens: Array<{ start: number; end: number; tokenName: string }>;
}

type Scanner = (text: string) => ScanOutput;

let scannerPromise: Promise<Scanner> | undefined;

/** Loads the WebAssembly scanner once, on first use (not at activation). */
function loadScanner(): Promise<Scanner> {
  if (!scannerPromise) {
    scannerPromise = import('libpg-query')
      .then(async (parser) => {
        await parser.loadModule();
        return (text: string) => parser.scanSync(text);
      })
      .catch((error: unknown) => {
        scannerPromise = undefined; // a later call may try again
        throw error;
      });
  }
  return scannerPromise;
}

/** The scanner reports UTF-8 byte offsets; the editor counts UTF-16 code units. */
function tokensFromScan(text: string, scanned: ScanOutput): SqlToken[] {
  const toIndex = utf8ToUtf16(text);
  return scanned.tokens.map((token) => ({ kind: scannedKind(token.tokenName), start: toIndex(token.start), end: toIndex(token.end) }));
}

function scannedKind(tokenName: string): SqlTokenKind {
  if (tokenName === 'ASCII_59') return 'semicolon';
  if (tokenName === 'SQL_COMMENT') return 'line_comment';
  if (tokenName === 'C_COMMENT') return 'block_comment';
  return 'code';
}

/** Maps rising byte offsets to string indexes in one forward walk (tokens arrive in order). */
function utf8ToUtf16(text: string): (byteOffset: number) => number {
  let byte = 0;
  let index = 0;
  return (byteOffset) => {
    if (byteOffset < byte) {
      byte = 0;
      index = 0;
    }
    while (byte < byteOffset && index < text.length) {
      const codePoint = text.codePointAt(index)!;
      byte += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
      index += codePoint > 0xffff ? 2 : 1;
    }
    return index;
  };
}

/**
 * PostgreSQL's lexical rules for what matters to splitting, for text the real scanner rejects. An unterminated
 * string, identifier, dollar quote or block comment runs to the end of the text.
 */
export function lexSqlFallback(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    const start = i;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && next === '-') {
      i = endOfLine(text, i);
      tokens.push({ kind: 'line_comment', start, end: i });
    } else if (c === '/' && next === '*') {
      i = endOfBlockComment(text, i);
      tokens.push({ kind: 'block_comment', start, end: i });
    } else if (c === ';') {
      i++;
      tokens.push({ kind: 'semicolon', start, end: i });
    } else if (c === "'") {
      i = endOfQuoted(text, i, "'", false);
      tokens.push({ kind: 'code', start, end: i });
    } else if (c === '"') {
      i = endOfQuoted(text, i, '"', false);
      tokens.push({ kind: 'code', start, end: i });
    } else if (c === '$' && dollarTagAt(text, i) !== undefined) {
      i = endOfDollarQuoted(text, i, dollarTagAt(text, i)!);
      tokens.push({ kind: 'code', start, end: i });
    } else if (isWordChar(c)) {
      while (i < text.length && isWordChar(text[i]!)) i++;
      // E'…' strings take backslash escapes; other prefixes (B, X, N, U&) use the standard rules.
      if ((text.slice(start, i) === 'e' || text.slice(start, i) === 'E') && text[i] === "'") i = endOfQuoted(text, i, "'", true);
      tokens.push({ kind: 'code', start, end: i });
    } else {
      i++;
      tokens.push({ kind: 'code', start, end: i });
    }
  }
  return tokens;
}

function isWordChar(c: string): boolean {
  return /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80;
}

function endOfLine(text: string, from: number): number {
  let i = from;
  while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
  return i;
}

/** Block comments nest in PostgreSQL. */
function endOfBlockComment(text: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < text.length) {
    if (text.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (text.startsWith('*/', i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return text.length;
}

/** A quoted literal or identifier: a doubled quote is an escaped quote; with `backslashes`, so is `\'`. */
function endOfQuoted(text: string, from: number, quote: string, backslashes: boolean): number {
  let i = from + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (backslashes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return text.length;
}

/** `$$` or `$tag$` opening a dollar quote (a tag never starts with a digit: `$1` is a parameter). */
function dollarTagAt(text: string, at: number): string | undefined {
  // `a$b$` is one identifier: a dollar inside a word opens nothing.
  if (at > 0 && isWordChar(text[at - 1]!)) return undefined;
  let i = at + 1;
  if (i < text.length && /[0-9]/.test(text[i]!)) return undefined;
  while (i < text.length && text[i] !== '$' && isWordChar(text[i]!)) i++;
  if (text[i] !== '$') return undefined;
  return text.slice(at, i + 1);
}

function endOfDollarQuoted(text: string, from: number, tag: string): number {
  const close = text.indexOf(tag, from + tag.length);
  return close < 0 ? text.length : close + tag.length;
}

// ---------------------------------------------------------------------------------------------------------------
// Lines, counted as the editor counts them (\r\n, \n or a lone \r ends a line).

class LineIndex {
  private readonly starts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (c === '\n' || c === '\r') this.starts.push(i + 1);
    }
  }

  lineOf(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** Offset of the end of a line's content (before its line break). */
  lineEnd(line: number): number {
    if (line + 1 >= this.starts.length) return this.text.length;
    let end = this.starts[line + 1]!;
    if (this.text[end - 1] === '\n') end--;
    if (this.text[end - 1] === '\r') end--;
    return end;
  }
}

function startsItsLine(text: string, offset: number): boolean {
  for (let i = offset - 1; i >= 0; i--) {
    const c = text[i];
    if (c === '\n' || c === '\r') return true;
    if (c !== ' ' && c !== '\t') return false;
  }
  return true;
}
