/** The prompt for the written analysis of a result. */
import type { CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export interface AnalyzeInput {
  question: string;
  query: string;
  columns: string[];
  /** The first rows of the result, at most the user's chosen number. */
  rows: ReadonlyArray<ReadonlyArray<unknown>>;
  rowCount: number;
  truncated: boolean;
}

export function analyzePrompt(input: AnalyzeInput): CompletionRequest {
  const system = [
    'You analyse the result of a database query for the person who asked the question.',
    'Write a short answer in Markdown: lead with the direct answer, then 2-4 bullet points with the notable figures, patterns or caveats.',
    'Quote figures exactly as they appear in the rows; do not invent data you were not given. If the rows shown are only part of the result, say so.',
    DATA_RULE,
  ].join('\n');
  const shown = input.rows.length;
  const table = [input.columns.join('\t'), ...input.rows.map((row) => row.map(formatCell).join('\t'))].join('\n');
  const user = [
    `Question: ${input.question}`,
    'Query that was run:',
    dataBlock('query', input.query),
    `Result: ${input.rowCount} row(s)${input.truncated ? ' (truncated at the row cap)' : ''}; ${shown < input.rowCount ? `the first ${shown} are shown` : 'all are shown'}.`,
    dataBlock('rows', table),
  ].join('\n');
  return { system, messages: [{ role: 'user', content: user }], maxTokens: 800, temperature: 0.2 };
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[\t\n\r]/g, ' ').slice(0, 200);
}

export interface CrossAnalyzeInput extends AnalyzeInput {
  /** One line per operation: id, source, goal, how many rows it found. */
  operations: string[];
}

/** The analysis of a cross-database answer: it sees the plan, each operation's summary and the combined rows. */
export function crossAnalyzePrompt(input: CrossAnalyzeInput): CompletionRequest {
  const base = analyzePrompt(input);
  const steps = dataBlock('plan', input.operations.join('\n'));
  const first = base.messages[0]!;
  const content = first.content.replace('Query that was run:', `The answer was put together from several databases. Steps:\n${steps}\nCombining query:`);
  return { ...base, messages: [{ ...first, content }] };
}
