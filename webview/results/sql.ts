/**
 * A tiny query highlighter: splits the text into tokens and builds spans and text nodes — never markup from the
 * data. SQL gets keywords, strings, numbers, comments and quoted identifiers; the JSON languages (MongoDB,
 * Qdrant, Slack) get strings, keys, numbers and literals. Unterminated strings and comments are fine: the text
 * is still growing.
 */
import type { QueryLanguage } from '../../src/core/events';

export type TokenKind = 'keyword' | 'string' | 'number' | 'comment' | 'ident' | 'operator' | 'key' | 'literal' | 'text';
export interface Token {
  kind: TokenKind;
  text: string;
}

const SQL_KEYWORDS = new Set(
  (
    'select from where and or not in is null as on join left right inner outer full cross natural using group by order ' +
    'having limit offset distinct all union intersect except with recursive case when then else end asc desc nulls first last ' +
    'between like ilike similar exists any some cast interval true false explain analyze show values insert update delete into set ' +
    'create drop alter table view index over partition window filter within lateral fetch next rows row only date time timestamp ' +
    'extract coalesce count sum avg min max array returning materialized'
  ).split(' '),
);

const SQL_TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)|([A-Za-z_][A-Za-z0-9_$]*)|([(),;.*=<>!+\-/%|:]+)|(\s+|.)/gy;
const JSON_TOKEN = /("(?:[^"\\]|\\.)*"?)(\s*:)?|(-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)|(\btrue\b|\bfalse\b|\bnull\b)|(\s+|[\s\S])/gy;

export function tokenize(text: string, language: QueryLanguage): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, piece: string): void => {
    const last = tokens[tokens.length - 1];
    if (last && last.kind === kind && kind === 'text') last.text += piece;
    else tokens.push({ kind, text: piece });
  };
  if (language === 'sql') {
    SQL_TOKEN.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (SQL_TOKEN.lastIndex < text.length && (m = SQL_TOKEN.exec(text))) {
      if (m[1] !== undefined) push('comment', m[1]);
      else if (m[2] !== undefined) push('string', m[2]);
      else if (m[3] !== undefined) push('ident', m[3]);
      else if (m[4] !== undefined) push('number', m[4]);
      else if (m[5] !== undefined) push(SQL_KEYWORDS.has(m[5].toLowerCase()) ? 'keyword' : 'text', m[5]);
      else if (m[6] !== undefined) push('operator', m[6]);
      else push('text', m[0]);
    }
  } else {
    JSON_TOKEN.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (JSON_TOKEN.lastIndex < text.length && (m = JSON_TOKEN.exec(text))) {
      if (m[1] !== undefined) {
        push(m[2] !== undefined ? 'key' : 'string', m[1]);
        if (m[2] !== undefined) push('text', m[2]);
      } else if (m[3] !== undefined) push('number', m[3]);
      else if (m[4] !== undefined) push('literal', m[4]);
      else push('text', m[0]);
    }
  }
  return tokens;
}

/** Fills `target` with the highlighted text: spans with a class per token kind, plain text as text nodes. */
export function renderHighlighted(target: HTMLElement, text: string, language: QueryLanguage): void {
  const fragment = document.createDocumentFragment();
  for (const token of tokenize(text, language)) {
    if (token.kind === 'text') {
      fragment.appendChild(document.createTextNode(token.text));
    } else {
      const span = document.createElement('span');
      span.className = `tok-${token.kind}`;
      span.textContent = token.text;
      fragment.appendChild(span);
    }
  }
  target.replaceChildren(fragment);
}
