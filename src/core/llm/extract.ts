/**
 * Pulls the query out of a model reply while it streams: the body of the first fenced block whose language tag
 * is one of the source's (or bare ```); blocks in other languages are skipped. A fence marker split across deltas
 * is handled because the extractor works on the whole text so far and holds back any tail that could still turn
 * out to be a closing fence.
 */
import { parse as parsePartial, Allow } from 'partial-json';

/** Tags a model may put on a SQL block; the dialect does not matter for extraction. */
export const SQL_FENCE_TAGS = ['sql', 'postgresql', 'postgres', 'psql', 'pgsql', 'plpgsql', 'mysql', 'sqlite', 'tsql', 'plsql'];

const OPENING_FENCE = /```[ \t]*([\w+#.-]*)[ \t]*\r?\n/g;

export class FencedQueryExtractor {
  private text = '';
  private emitted = '';
  private readonly tags: ReadonlySet<string>;

  constructor(tags: readonly string[] = SQL_FENCE_TAGS) {
    this.tags = new Set(tags.map((t) => t.toLowerCase()));
  }

  /** Feeds a delta of the reply; returns the newly visible part of the query (possibly empty). */
  push(delta: string): string {
    this.text += delta;
    const visible = this.visibleQuery();
    if (visible.length <= this.emitted.length) return '';
    const fresh = visible.slice(this.emitted.length);
    this.emitted = visible;
    return fresh;
  }

  /** The query text shown so far. */
  get queryText(): string {
    return this.emitted;
  }

  /** The final query once the reply is complete, or undefined when it holds none. */
  finish(): string | undefined {
    const body = this.fenceBody();
    // Only a fence left open (a cut-off reply) can end in part of the closing fence; a closed body is the query.
    const query = body !== undefined ? (body.closed ? body.text : stripClosingFence(body.text)) : unfencedQuery(this.text);
    const trimmed = query?.trim();
    return trimmed ? trimmed : undefined;
  }

  private fenceBody(): { text: string; closed: boolean } | undefined {
    let from = 0;
    for (;;) {
      OPENING_FENCE.lastIndex = from;
      const open = OPENING_FENCE.exec(this.text);
      if (!open) return undefined;
      const bodyStart = open.index + open[0].length;
      const close = this.text.indexOf('```', bodyStart);
      const tag = open[1]!.toLowerCase();
      if (tag === '' || this.tags.has(tag)) {
        return close >= 0 ? { text: this.text.slice(bodyStart, close), closed: true } : { text: this.text.slice(bodyStart), closed: false };
      }
      if (close < 0) return undefined; // inside a block in another language: wait for its end
      from = close + 3;
    }
  }

  private visibleQuery(): string {
    const body = this.fenceBody();
    if (!body) return '';
    if (body.closed) return body.text.replace(/\s+$/, '');
    // Hold back trailing backticks: they may be the start of the closing fence.
    return body.text.replace(/`{1,2}$/, '');
  }
}

function stripClosingFence(text: string): string {
  return text.replace(/`{1,3}\s*$/, '');
}

/** A reply without a fence counts only when it is a bare statement and nothing else. */
function unfencedQuery(text: string): string | undefined {
  const trimmed = text.trim();
  return /^(select|with|explain|show|values|table)\b/i.test(trimmed) ? trimmed : undefined;
}

/** Parses JSON that may still be growing; undefined while nothing parseable has arrived. */
export function parsePartialJson(text: string): unknown {
  const start = text.search(/[{[]/);
  if (start < 0) return undefined;
  try {
    // Numbers only once complete: a partial number such as `0.` would make its key vanish for a moment.
    return parsePartial(text.slice(start), Allow.ALL & ~Allow.NUM);
  } catch {
    return undefined;
  }
}

/** The JSON value of a complete reply: the first ```json fence, else the outermost object in the text. */
export function extractJson(text: string): unknown {
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/i.exec(text);
  const candidate = fenced ? fenced[1]! : outermostJson(text);
  try {
    return JSON.parse(candidate.trim());
  } catch {
    return undefined;
  }
}

/** From the first `{` or `[` to the last matching closer, so prose after the JSON does not spoil it. */
function outermostJson(text: string): string {
  const start = text.search(/[{[]/);
  if (start < 0) return text;
  const end = text.lastIndexOf(text[start] === '{' ? '}' : ']');
  return end > start ? text.slice(start, end + 1) : text.slice(start);
}

/** Streams the JSON inside a ```json fence; a reply holding only a bare JSON object is accepted at the end. */
export class JsonObjectExtractor {
  private readonly fenced = new FencedQueryExtractor(['json']);
  private text = '';

  push(delta: string): string {
    this.text += delta;
    return this.fenced.push(delta);
  }

  finish(): string | undefined {
    const fenced = this.fenced.finish();
    if (fenced) return fenced;
    const value = extractJson(this.text);
    return value && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : undefined;
  }
}
