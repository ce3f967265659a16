/** The demo's recorded model output as stand-in script: one reply per (prompt kind, question), replayable forever. */
import type { ScriptedReply } from '../../test/support/llm-script';
import { demoRecordings } from './recordings';

export function replayScript(): ScriptedReply[] {
  return demoRecordings.flatMap((recording) => {
    const question = escapeRegExp(`Question: ${recording.question}`);
    return [
      { match: new RegExp(`^You write one read-only[\\s\\S]*${question}`), text: recording.sqlReply, times: Infinity, chunkSize: 6, chunkDelayMs: 8 },
      { match: new RegExp(`^You analyse the result[\\s\\S]*${question}`), text: recording.analysisReply, times: Infinity, chunkSize: 10, chunkDelayMs: 8 },
    ];
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
