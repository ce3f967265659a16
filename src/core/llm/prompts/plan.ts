/** The prompts of a cross-database question: the plan, and the combine step's SQL over the operations' results. */
import type { CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export interface PlannedSource {
  id: string;
  kind: string;
  name: string;
  /** The tables, collections or channels retrieved for the question, with their columns. */
  schemaText: string;
}

export function planPrompt(question: string, sources: readonly PlannedSource[]): CompletionRequest {
  const system = [
    'You plan how to answer a question whose data lives in several databases. Each operation asks ONE source one simpler question; a final combine step joins their results with SQL.',
    'Reply with one short sentence, then the plan as JSON in a single ```json fenced block:',
    '{"operations":[{"id":"<lower_snake_case>","source":"<source id>","goal":"<what to fetch, in plain words>","dependsOn":["<ids>"],"uses":["<operationId.column>"],"produces":["<column>", …]}],"combine":{"goal":"<how to join or merge the results into the answer>"}}',
    'Rules:',
    '- Use only the source ids listed. Use as few operations as the question needs (at most 8).',
    '- "produces" lists the exact column names the operation\'s result will have; later steps may only name those.',
    '- When an operation needs values found by another (ids, emails, dates, names), list that operation in "dependsOn" and the column in "uses" as operationId.column; independent operations run in parallel.',
    '- Each operation\'s result becomes a table named after its id; the combine step joins those tables, so produce the join keys (e.g. email, id, date) in both operations.',
    DATA_RULE,
  ].join('\n');
  const listing = sources.map((s) => `## source ${s.id} (${s.kind}: ${s.name})\n${s.schemaText}`).join('\n\n');
  const user = [`Sources and their relevant schema:`, dataBlock('schema', listing), '', `Question: ${question}`].join('\n');
  return { system, messages: [{ role: 'user', content: user }], maxTokens: 1500, temperature: 0 };
}

/** Asks again for a plan, saying what was wrong with the first. */
export function planCorrectionPrompt(previous: CompletionRequest, failedReply: string, problems: readonly string[]): CompletionRequest {
  return {
    ...previous,
    messages: [
      ...previous.messages,
      { role: 'assistant', content: failedReply || '(an empty reply)' },
      { role: 'user', content: `That plan cannot be used:\n${dataBlock('error', problems.map((p) => `- ${p}`).join('\n'))}\nWrite a corrected plan for the same question, in the same format.` },
    ],
  };
}

export interface CombineInput {
  question: string;
  goal: string;
  /** The operation tables and their columns with DuckDB types. */
  tablesText: string;
  /** A few rows of each table, so the model sees the values' shapes (dates, case, ids). */
  samplesText: string;
  maxRows: number;
}

export function combinePrompt(input: CombineInput): CompletionRequest {
  const system = [
    'You write one read-only DuckDB SQL query that combines the results of earlier steps (one table per step) into the answer to the question.',
    'Rules:',
    '- One SELECT (WITH … SELECT is fine) over the tables listed, and nothing else: no COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, no file or network functions (read_csv, read_parquet, glob, …), no table functions.',
    '- Values may differ in type or form between tables (an id as text in one and a number in the other, a timestamp and a date): CAST or normalise before comparing.',
    `- Return at most ${input.maxRows} rows; order them meaningfully; give columns short readable aliases.`,
    '- Reply with one short sentence, then the query in a single ```sql fenced block. Nothing after the block.',
    DATA_RULE,
  ].join('\n');
  const user = [
    'Tables:',
    dataBlock('tables', input.tablesText),
    'A few rows of each:',
    dataBlock('rows', input.samplesText),
    '',
    `Question: ${input.question}`,
    `Combine step: ${input.goal}`,
  ].join('\n');
  return { system, messages: [{ role: 'user', content: user }], maxTokens: 1500, temperature: 0 };
}
