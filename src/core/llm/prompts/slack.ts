/** The prompt that turns a question plus the workspace's channels into one Slack message search (a JSON object). */
import type { ChatMessage, CompletionRequest } from '../provider';
import { DATA_RULE, dataBlock } from './data';

export interface SlackPromptInput {
  question: string;
  /** One line per channel: `#name — topic/purpose (N members)`; the most relevant first. */
  channelText: string;
  maxRows: number;
  /** Today's date (YYYY-MM-DD, UTC), so relative dates in the question can be resolved. */
  today: string;
  history?: ChatMessage[];
}

export function slackSearchPrompt(input: SlackPromptInput): CompletionRequest {
  const system = [
    'You turn the user\'s question about their Slack workspace into one message search, written as a JSON object.',
    'The object has these keys (only "query" is required):',
    '- "channels": channel names to search, e.g. ["#incidents"]; leave it out to search every channel.',
    '- "query": the words a matching message must contain (all of them, case-insensitive); "" when the channel, person or dates alone select the messages.',
    '- "from": only messages by this person, e.g. "@alice".',
    '- "after": only messages from the day after this date on, "YYYY-MM-DD".',
    '- "before": only messages before this date, "YYYY-MM-DD".',
    '- "on": only messages of this one day, "YYYY-MM-DD" (instead of "after"/"before").',
    `- "limit": the most messages to return, 1 to ${Math.min(1000, Math.max(1, input.maxRows))}.`,
    'Rules:',
    '- Use only channels listed in the channel list. Keep "query" to a few distinctive words; no search operators inside it.',
    `- Today is ${input.today} (UTC); resolve relative dates ("last week", "yesterday") against it.`,
    '- Reply with one short sentence saying what the search does, then the object in a single ```json fenced block. Nothing after the block.',
    DATA_RULE,
  ].join('\n');
  const user = ['Channels of the workspace:', dataBlock('schema', input.channelText), '', `Question: ${input.question}`].join('\n');
  return { system, messages: [...(input.history ?? []), { role: 'user', content: user }], maxTokens: 600, temperature: 0 };
}
