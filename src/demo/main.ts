/**
 * `npm run demo`: the full pipeline on the embedded demo database for the sample questions. With no model key
 * set, the model's output is replayed from recordings by the OpenAI stand-in (and labelled as a replay); the SQL
 * really runs and the rows are real. With a key set, the real model answers. `--json`: events only on stdout.
 */
import { parseArgs } from 'node:util';
import { followSession } from '../cli/follow';
import { humanRenderer, jsonRenderer, type Output } from '../cli/render';
import { loadConfig } from '../core/config';
import { findContractProblems } from '../core/contract';
import type { CenecaEvent } from '../core/events';
import { Engine } from '../core/engine';
import { OpenAIProvider } from '../core/llm/openai';
import type { LlmProvider } from '../core/llm/provider';
import { defaultEngineSettings } from '../core/pipeline/single';
import { createProvider } from '../core/setup';
import { createDemoSource, stopDemoDatabase } from '../core/sources/embedded-demo';
import { OpenAIStandIn } from '../../test/support/openai-standin';
import { demoRecordings } from './recordings';
import { replayScript } from './replay';

async function main(output: Output): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { json: { type: 'boolean', default: false } } });
  const label = (text: string): boolean => output.err.write(`${text}\n`);
  const config = loadConfig(process.env);
  let standIn: OpenAIStandIn | undefined;
  let llm: LlmProvider;
  if (config.provider) {
    llm = createProvider(config.provider);
    label(`LIVE: questions go to ${config.provider.provider} (${config.provider.model})`);
  } else {
    standIn = new OpenAIStandIn(replayScript());
    await standIn.start();
    llm = new OpenAIProvider({ apiKey: 'replay', baseURL: standIn.baseURL, model: 'recorded-replay' });
    label('REPLAY: no model key is set, so the model\'s output is replayed from recordings (src/demo/recordings.ts).');
    label('        The SQL really runs on the embedded demo database and every row is real.');
  }
  const engine = new Engine({ sources: [createDemoSource()], llm, settings: { ...defaultEngineSettings, maxRows: 200 } });
  const failures: string[] = [];
  try {
    for (const [index, recording] of demoRecordings.entries()) {
      label(`\n━━ ${index + 1}/${demoRecordings.length}  ${recording.question}${standIn ? '  [replay]' : ''}`);
      const events: CenecaEvent[] = [];
      const render = values.json ? jsonRenderer(output) : humanRenderer(output);
      const { session, done } = engine.ask({ question: recording.question }, { idleTimeoutMs: 60_000 });
      await followSession(session, (event) => {
        events.push(event);
        return render(event);
      });
      await done;
      const problem = checkDemoStream(events);
      if (problem) failures.push(`${recording.question}: ${problem}`);
    }
  } finally {
    await engine.close();
    await stopDemoDatabase();
    await standIn?.stop();
  }
  if (failures.length > 0) {
    label(`\n✗ ${failures.length} sample question(s) failed:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  label(`\n✓ all ${demoRecordings.length} sample questions completed with real rows and an analysis; every stream kept the event contract`);
  return 0;
}

/** What the demo promises for each question: a contract-valid stream that completes with rows and an analysis. */
function checkDemoStream(events: readonly CenecaEvent[]): string | undefined {
  const problems = findContractProblems(events);
  if (problems.length > 0) return problems.join('; ');
  const last = events[events.length - 1];
  if (last?.type !== 'complete') return `ended with ${last?.type === 'error' ? `error ${last.code}: ${last.message}` : 'no terminal event'}`;
  if (last.summary.rowCount === 0) return 'returned no rows';
  if (!events.some((e) => e.type === 'analysis_complete')) return 'has no analysis';
  return undefined;
}

const output: Output = { out: process.stdout, err: process.stderr, interactive: Boolean(process.stderr.isTTY) };
main(output).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    output.err.write(`demo failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
