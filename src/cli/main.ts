/**
 * `ceneca` command line: `ceneca ask "question" [--json] [--no-analysis] [--max-rows N] [--source ID]`, and
 * `ceneca serve` (the local HTTP API, src/cli/serve.ts).
 * Exit codes: 0 complete, 1 the question failed, 2 bad usage or configuration, 130 cancelled (Ctrl-C).
 */
import { parseArgs } from 'node:util';
import { Engine } from '../core/engine';
import { stopDemoDatabase } from '../core/sources/embedded-demo';
import { engineParts } from './engineParts';
import { followSession } from './follow';
import { classificationRenderer, humanRenderer, jsonRenderer, type Output } from './render';
import { serve, SERVE_USAGE } from './serve';

const USAGE = `Usage:
  ceneca ask "question" [--json] [--no-analysis] [--max-rows N] [--source ID]... [--config FILE]
  ceneca ask --classify-only "question" [--json] [--source ID]...   which sources the question needs, and why
  ceneca ask --cross "question" [...]   answer with a plan across the sources (automatic when several are needed)
${SERVE_USAGE}

Connections: CENECA_PG_URL, CENECA_MONGODB_URL, CENECA_QDRANT_URL (+ CENECA_QDRANT_API_KEY, CENECA_EMBEDDINGS_BASE_URL,
       CENECA_EMBEDDINGS_MODEL), CENECA_SLACK_TOKEN, or a ceneca.config.json (secrets as \${ENV_VAR}); with none, an embedded demo database.
Model: OPENAI_API_KEY (+ OPENAI_BASE_URL for any OpenAI-compatible server) or ANTHROPIC_API_KEY
       (+ ANTHROPIC_BASE_URL); CENECA_MODEL picks the model, CENECA_PROVIDER decides when both keys are set.`;

export async function main(argv: string[], output: Output): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    output.out.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === 'serve') return serve(rest, output);
  if (command !== 'ask') {
    output.err.write(`ceneca: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }
  return ask(rest, output);
}

async function ask(args: string[], output: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        'no-analysis': { type: 'boolean', default: false },
        'max-rows': { type: 'string' },
        source: { type: 'string', multiple: true },
        config: { type: 'string' },
        'classify-only': { type: 'boolean', default: false },
        cross: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    output.err.write(`ceneca ask: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const question = positionals.join(' ');
  const maxRows = values['max-rows'] === undefined ? undefined : Number(values['max-rows']);
  if (maxRows !== undefined && (!Number.isInteger(maxRows) || maxRows <= 0)) {
    output.err.write(`ceneca ask: --max-rows must be a positive whole number, not "${values['max-rows']}"\n`);
    return 2;
  }

  const parts = engineParts(process.env, values.config, output);
  if ('exitCode' in parts) return parts.exitCode;
  const { config } = parts;
  const engine = new Engine(parts.context);
  if (!values.json && config.connections.length === 0) output.err.write('• no connection configured: using the embedded demo database\n');
  const request = { question, maxRows, analysis: !values['no-analysis'], sources: values.source, cross: values.cross };
  const classifyOnly = values['classify-only'];
  const started = classifyOnly ? engine.classify(request) : engine.ask(request);
  const onInterrupt = (): void => started.session.cancel('cancelled with Ctrl-C');
  process.once('SIGINT', onInterrupt);
  try {
    const renderer = values.json ? jsonRenderer(output) : classifyOnly ? classificationRenderer(output) : humanRenderer(output);
    const terminal = await followSession(started.session, renderer);
    await started.done;
    if (terminal.type === 'complete') return 0;
    return terminal.code === 'cancelled' ? 130 : 1;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    await engine.close();
    await stopDemoDatabase();
  }
}

if (require.main === module) {
  const output: Output = { out: process.stdout, err: process.stderr, interactive: Boolean(process.stderr.isTTY) };
  main(process.argv.slice(2), output).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      output.err.write(`ceneca: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
