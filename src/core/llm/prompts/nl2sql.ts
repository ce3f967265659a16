/** The prompt that turns a question plus retrieved schema into one read-only PostgreSQL query. */
import type { ChatMessage, CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export interface Nl2SqlInput {
  question: string;
  /** Schema text for the retrieved tables (see formatSchemaForPrompt). */
  schemaText: string;
  dialect: string;
  maxRows: number;
  /** Earlier conversation for a follow-up question. */
  history?: ChatMessage[];
}

export function nl2sqlPrompt(input: Nl2SqlInput): CompletionRequest {
  const system = [
    `You write one read-only ${input.dialect} query that answers the user's question about their database.`,
    'Rules:',
    '- Only SELECT (WITH ... SELECT is fine). Never modify data or call functions with side effects.',
    '- Use only the tables and columns given in the schema; qualify columns when several tables are joined.',
    `- Return at most ${input.maxRows} rows unless the question needs an aggregate; order results meaningfully.`,
    '- Give result columns short, readable aliases.',
    '- Reply with one short sentence saying what the query does, then the query in a single ```sql fenced block. Nothing after the block.',
    DATA_RULE,
  ].join('\n');
  const user = [`Schema of the relevant tables:`, dataBlock('schema', input.schemaText), '', `Question: ${input.question}`].join('\n');
  return { system, messages: [...(input.history ?? []), { role: 'user', content: user }], maxTokens: 1500, temperature: 0 };
}

/** Appends the failed attempt and what was wrong with it, asking for one corrected query. */
export function correctionPrompt(previous: CompletionRequest, failedReply: string, problem: string): CompletionRequest {
  return {
    ...previous,
    messages: [
      ...previous.messages,
      { role: 'assistant', content: failedReply },
      {
        role: 'user',
        content: `That query cannot be used:\n${dataBlock('error', problem)}\nWrite a corrected query that answers the same question, in the same format.`,
      },
    ],
  };
}
