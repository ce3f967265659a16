/**
 * The "vector_search" prompt: a question plus Qdrant collections (vectors, payload fields) in, one JSON search out —
 * `{collection, query_text, using, filter, limit, with_payload}`. The model never writes a vector: `query_text`
 * is embedded by the connection's embedding model when the search runs.
 */
import { formatCollectionsForPrompt } from '../../schema/format';
import type { RankedTable } from '../../schema/types';
import type { ChatMessage, CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export const VECTOR_SEARCH_TEMPLATE = 'vector_search';

export interface VectorSearchPromptInput {
  question: string;
  tables: readonly RankedTable[];
  /** Names of the collections not in `tables`, so the model does not invent one. */
  otherCollections: readonly string[];
  maxRows: number;
  includeSampleValues: boolean;
  history?: ChatMessage[];
}

export function vectorSearchPrompt(input: VectorSearchPromptInput): CompletionRequest {
  const system = [
    'You turn the user\'s question about a Qdrant vector database into one search, written as a JSON object:',
    '  {"collection": "<name>", "query_text": "<what to look for>" | null, "using": "<vector name>", "filter": {...}, "limit": N, "with_payload": true}',
    '- "collection": one of the listed collections.',
    '- "query_text": a short description of what the wanted points are about, in the words their text would use; it is embedded and',
    '  the nearest points come first (each row gets a similarity "score"). Use null when the question only selects, lists or counts',
    '  points by their payload fields: then the points matching the filter are listed in id order.',
    '- "using": only for a collection with several named vectors: the vector that fits the question. Leave it out otherwise.',
    '- "filter" (optional): Qdrant filter syntax over payload fields:',
    '    {"must": [cond, ...], "should": [cond, ...], "must_not": [cond, ...], "min_should": {"conditions": [cond, ...], "min_count": N}}',
    '  where a cond is one of:',
    '    {"key": "<field>", "match": {"value": "text" | integer | true}}      exact value (for numbers with decimals use range)',
    '    {"key": "<field>", "match": {"any": [v1, v2]}}  /  {"match": {"except": [v1, v2]}}',
    '    {"key": "<field>", "match": {"text": "words"}}                        full-text match in a text field',
    '    {"key": "<field>", "range": {"gt": n, "gte": n, "lt": n, "lte": n}}    numbers, or RFC 3339 date-times as strings',
    '    {"is_empty": {"key": "<field>"}}   {"is_null": {"key": "<field>"}}   {"has_id": [1, 2]}',
    '    {"nested": {"key": "<array field>", "filter": {...}}}                  conditions on one element of an array of objects',
    '    or a whole filter object, to combine must/should/must_not.',
    '  Nested fields use dotted keys ("brand.country"); a condition on an array field matches when any element matches.',
    `- "limit": how many points to return, 1 to ${Math.max(1, input.maxRows)}. For "the most similar", "top N" questions keep it small (e.g. 5 or 10);`,
    '  leave it out to list every point a filter-only search matches.',
    '- "with_payload": true (default) returns all payload fields; a list of field names returns only those.',
    'Rules:',
    '- Use only the collections, vectors and payload fields given in the schema.',
    '- Reply with one short sentence saying what the search does, then the object in a single ```json fenced block. Nothing after the block.',
    DATA_RULE,
  ].join('\n');
  const sections = [formatCollectionsForPrompt(input.tables, { sampleValues: input.includeSampleValues, unit: 'points' })];
  if (input.otherCollections.length > 0) sections.push(`Other collections: ${input.otherCollections.join(', ')}`);
  const user = ['Collections of the vector database (payload fields from indexes and sampled points):', dataBlock('schema', sections.join('\n\n')), '', `Question: ${input.question}`].join('\n');
  return { system, messages: [...(input.history ?? []), { role: 'user', content: user }], maxTokens: 1000, temperature: 0 };
}
