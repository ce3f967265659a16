/** The prompt that turns a question plus sampled collection fields into one read-only MongoDB query (a JSON object). */
import { formatCollectionsForPrompt } from '../../schema/format';
import type { RankedTable } from '../../schema/types';
import type { ChatMessage, CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export interface MongoPromptInput {
  question: string;
  tables: readonly RankedTable[];
  database: string;
  maxRows: number;
  includeSampleValues: boolean;
  history?: ChatMessage[];
}

export function mongoQueryPrompt(input: MongoPromptInput): CompletionRequest {
  const system = [
    `You write one read-only MongoDB query that answers the user's question about the "${input.database}" database.`,
    'The query is ONE JSON object, in one of two shapes:',
    '  {"collection": "<name>", "operation": "find", "filter": {...}, "projection": {...}, "sort": {...}, "limit": N}',
    '  {"collection": "<name>", "operation": "aggregate", "pipeline": [ {...stage...}, ... ]}',
    'Rules:',
    '- Use only the collections and fields given in the schema; nested fields use dotted paths ("shipping.address.city").',
    '- Allowed stages: $match $project $addFields $set $unset $group $sort $limit $skip $unwind $lookup $count $facet $bucket $bucketAuto $sortByCount $replaceRoot $replaceWith $sample.',
    '- Never write data ($out, $merge) and never run JavaScript ($where, $function, $accumulator).',
    '- Dates and ids use Extended JSON: {"$date": "2025-01-01T00:00:00Z"}, {"$oid": "64b7c0ffee0000000000abcd"}.',
    `- Return at most ${input.maxRows} documents unless the question needs an aggregate; sort results meaningfully.`,
    '- Give computed fields short, readable names.',
    '- Reply with one short sentence saying what the query does, then the query in a single ```json fenced block. Nothing after the block.',
    DATA_RULE,
  ].join('\n');
  const schemaText = formatCollectionsForPrompt(input.tables, { sampleValues: input.includeSampleValues, unit: 'documents' });
  const user = [`Collections of the relevant data (fields inferred from sampled documents):`, dataBlock('schema', schemaText), '', `Question: ${input.question}`].join('\n');
  return { system, messages: [...(input.history ?? []), { role: 'user', content: user }], maxTokens: 1500, temperature: 0 };
}
