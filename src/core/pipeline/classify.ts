/**
 * Which configured sources a question needs (DESIGN §2 step 1). A cheap lexical pass ranks every source's
 * catalogue first — how many of the question's terms its schema (and its name and kind) contain, and which of
 * its tables match best — so the model sees a compact catalogue however large the schemas are. One candidate
 * source needs no model call at all.
 */
import { extractJson } from '../llm/extract';
import { classifyPrompt, type SourceSummary } from '../llm/prompts/classify';
import type { CompletionRequest } from '../llm/provider';
import { searchSchema, tokenize } from '../schema/search';
import type { SchemaSnapshot } from '../schema/types';
import type { DataSource } from '../sources/source';

/** Sources listed to the model at most (the best lexical matches); the rest are not candidates. */
export const MAX_CATALOGUE_SOURCES = 12;
/** Tables named per source in the catalogue, and columns named per table. */
const TABLES_PER_SOURCE = 6;
const COLUMNS_PER_TABLE = 6;
/** A table's own description, cut to this many characters. */
const COMMENT_LENGTH = 80;
/** Words that name a kind of source in a question ("in Slack", "the vector index"). */
const KIND_WORDS: Record<DataSource['kind'], string[]> = {
  postgres: ['postgres', 'postgresql', 'sql', 'database', 'table'],
  mongodb: ['mongo', 'mongodb', 'collection', 'document'],
  qdrant: ['qdrant', 'vector', 'similar', 'similarity', 'semantic', 'embedding'],
  slack: ['slack', 'channel', 'message', 'said', 'saying', 'discuss', 'thread', 'chat'],
};

export interface CatalogueEntry {
  source: DataSource;
  /** Share of the question's terms found in this source's names, kinds and schema (0–1). */
  lexicalScore: number;
  summary: SourceSummary;
}

export interface SourceChoice {
  source: DataSource;
  reason: string;
}

/** Builds the catalogue of candidate sources, best lexical match first, at most MAX_CATALOGUE_SOURCES. */
export async function buildCatalogue(question: string, candidates: readonly DataSource[], signal: AbortSignal): Promise<CatalogueEntry[]> {
  const terms = new Set(tokenize(question));
  const entries = await Promise.all(candidates.map((source) => catalogueEntry(source, question, terms, signal)));
  return entries.sort((a, b) => b.lexicalScore - a.lexicalScore).slice(0, MAX_CATALOGUE_SOURCES);
}

async function catalogueEntry(source: DataSource, question: string, terms: ReadonlySet<string>, signal: AbortSignal): Promise<CatalogueEntry> {
  let snapshot: SchemaSnapshot | undefined;
  try {
    snapshot = await source.introspect({ signal });
  } catch {
    // An unreachable source stays a candidate the model can name; the schema step reports the failure clearly.
  }
  const vocabulary = sourceVocabulary(source, snapshot);
  const matched = [...terms].filter((t) => vocabulary.has(t)).length;
  return {
    source,
    lexicalScore: terms.size === 0 ? 0 : matched / terms.size,
    summary: { id: source.id, kind: source.kind, name: source.name, contents: describeContents(source, snapshot, question) },
  };
}

function sourceVocabulary(source: DataSource, snapshot: SchemaSnapshot | undefined): Set<string> {
  const words = new Set<string>([...tokenize(`${source.id} ${source.name}`, 'schema'), ...KIND_WORDS[source.kind].flatMap((w) => tokenize(w, 'schema'))]);
  for (const table of snapshot?.tables ?? []) {
    for (const w of tokenize(`${table.qualifiedName} ${table.comment ?? ''}`, 'schema')) words.add(w);
    for (const column of table.columns) for (const w of tokenize(column.name, 'schema')) words.add(w);
  }
  return words;
}

/** "orders (id, customer_id, total…), customers (…) — 42 tables" : the tables that match the question best. */
function describeContents(source: DataSource, snapshot: SchemaSnapshot | undefined, question: string): string {
  if (!snapshot) return 'schema not available (the source could not be reached)';
  if (snapshot.tables.length === 0) return 'no tables';
  const ranked = searchSchema(snapshot.tables, question, { limit: TABLES_PER_SOURCE, maxColumnsPerTable: COLUMNS_PER_TABLE });
  const listed = ranked.map(({ table, relevantColumns }) => {
    const columns = relevantColumns.map((c) => c.name);
    const more = table.columns.length > columns.length ? ', …' : '';
    const about = table.comment ? ` "${truncate(table.comment, COMMENT_LENGTH)}"` : '';
    return `${table.qualifiedName}${about} (${columns.join(', ')}${more})`;
  });
  const rest = snapshot.tables.length - listed.length;
  const noun = source.kind === 'slack' ? 'channel' : source.kind === 'postgres' ? 'table' : 'collection';
  return `${listed.join('; ')}${rest > 0 ? ` — and ${rest} more ${noun}${rest === 1 ? '' : 's'}` : ''}`;
}

function truncate(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

export function classificationPrompt(question: string, catalogue: readonly CatalogueEntry[]): CompletionRequest {
  return classifyPrompt(question, catalogue.map((e) => e.summary));
}

/** Reads the model's `{databases:[{id, reason}]}`; ids not in the catalogue are ignored, duplicates dropped. */
export function readClassification(reply: string, catalogue: readonly CatalogueEntry[]): SourceChoice[] {
  const list = (extractJson(reply) as { databases?: unknown } | undefined)?.databases;
  if (!Array.isArray(list)) return [];
  const picks: SourceChoice[] = [];
  for (const entry of list as unknown[]) {
    const { id, reason } = (entry ?? {}) as { id?: unknown; reason?: unknown };
    const source = catalogue.find((e) => e.source.id === id)?.source;
    if (source && !picks.some((p) => p.source === source)) picks.push({ source, reason: typeof reason === 'string' && reason.trim() ? reason.trim() : 'chosen by the model' });
  }
  return picks;
}

/** The source a lexical match alone would choose, when the model's answer cannot be used; none when nothing matched. */
export function lexicalChoice(catalogue: readonly CatalogueEntry[]): SourceChoice | undefined {
  const best = catalogue[0];
  if (!best || best.lexicalScore === 0) return undefined;
  const runnerUp = catalogue[1]?.lexicalScore ?? 0;
  if (best.lexicalScore === runnerUp) return undefined;
  return { source: best.source, reason: `its schema matches the most words of the question (${Math.round(best.lexicalScore * 100)}%)` };
}
