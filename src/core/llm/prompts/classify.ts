/** The prompt that picks which configured sources a question needs. */
import type { CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export interface SourceSummary {
  id: string;
  kind: string;
  name: string;
  /** A one-line summary of what it holds: the tables that match the question best, and how many more. */
  contents: string;
}

export function classifyPrompt(question: string, sources: SourceSummary[]): CompletionRequest {
  const system = [
    'You route a question to the data sources that can answer it.',
    'Reply with JSON only, in a ```json fenced block: {"databases":[{"id":"<source id>","reason":"<why, one sentence>"}]}.',
    'Choose the fewest sources that can answer; when the question combines data held in different sources, list every one it needs.',
    'Use only the ids listed. Each source lists the tables, collections or channels that match the question best, then how many more it has.',
    DATA_RULE,
  ].join('\n');
  const listing = sources.map((s) => `- id: ${s.id} | kind: ${s.kind} | name: ${s.name} | holds: ${s.contents}`).join('\n');
  const user = `Sources:\n${dataBlock('sources', listing)}\n\nQuestion: ${question}`;
  return { system, messages: [{ role: 'user', content: user }], maxTokens: 400, temperature: 0 };
}
