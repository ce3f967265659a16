/** Shared test fixtures: a seeded database on the test server, an engine wired to a stand-in, stream collection. */
import assert from 'node:assert/strict';
import pg from 'pg';
import { assertStreamContract } from '../../src/core/contract';
import type { CenecaEvent, EventOf, EventType } from '../../src/core/events';
import { Engine } from '../../src/core/engine';
import { AnthropicProvider } from '../../src/core/llm/anthropic';
import { OpenAIProvider } from '../../src/core/llm/openai';
import type { LlmProvider } from '../../src/core/llm/provider';
import { defaultEngineSettings, type EngineSettings, type QuestionRequest } from '../../src/core/pipeline/single';
import type { SessionOptions } from '../../src/core/session/session';
import { demoDatabaseSql } from '../../src/core/sources/demo-data';
import { PostgresSource, type PostgresSourceOptions } from '../../src/core/sources/postgres';
import type { DataSource } from '../../src/core/sources/source';
import { AnthropicStandIn } from './anthropic-standin';
import { OpenAIStandIn } from './openai-standin';

export function testServerUrl(): string {
  const url = process.env.CENECA_TEST_PG_URL ?? process.env.CENECA_PG_URL;
  if (!url) throw new Error('no test PostgreSQL server: run the suite with `npm test` (it starts one) or set CENECA_PG_URL');
  return url;
}

/** Creates (once per name) a database on the test server seeded with the demo shop; returns its URL. */
export async function seededDatabase(name = 'ceneca_shop'): Promise<string> {
  const admin = new pg.Client({ connectionString: testServerUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(testServerUrl(), name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of demoDatabaseSql()) await client.query(statement);
  } finally {
    await client.end();
  }
  return url;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export function openAIProvider(standIn: OpenAIStandIn): LlmProvider {
  return new OpenAIProvider({ apiKey: 'test', baseURL: standIn.baseURL, model: 'stand-in-model' });
}

export function anthropicProvider(standIn: AnthropicStandIn): LlmProvider {
  return new AnthropicProvider({ apiKey: 'test', baseURL: standIn.baseURL, model: 'stand-in-model' });
}

export function postgresSource(url: string, options: Partial<PostgresSourceOptions> = {}): PostgresSource {
  return new PostgresSource({ id: 'shop', name: 'Test shop', connection: url, ...options });
}

export function makeEngine(sources: DataSource[], llm: LlmProvider, settings: Partial<EngineSettings> = {}): Engine {
  return new Engine({ sources, llm, settings: { ...defaultEngineSettings, ...settings } });
}

/** Runs a question to its terminal event, checks the stream contract, and returns every event. */
export async function askAndCollect(engine: Engine, request: QuestionRequest, options: SessionOptions = {}, onEvent?: (event: CenecaEvent, cancel: () => void) => void): Promise<CenecaEvent[]> {
  const { session, done } = engine.ask(request, options);
  const events: CenecaEvent[] = [];
  for await (const event of session.log.subscribe(0)) {
    events.push(event);
    onEvent?.(event, () => session.cancel());
  }
  await done;
  assertStreamContract(events);
  return events;
}

export function ofType<T extends EventType>(events: readonly CenecaEvent[], type: T): EventOf<T>[] {
  return events.filter((e): e is EventOf<T> => e.type === type);
}

export function terminal(events: readonly CenecaEvent[]): EventOf<'complete'> | EventOf<'error'> {
  const last = events[events.length - 1];
  if (!last || (last.type !== 'complete' && last.type !== 'error')) throw new Error('stream has no terminal event');
  return last;
}

/** Parses `--json` stdout: every line must be one JSON event, and stdout must end with a newline. */
export function parseJsonLines(stdout: string): CenecaEvent[] {
  assert.ok(stdout.length > 0, 'stdout is empty');
  assert.ok(stdout.endsWith('\n'), 'stdout ends with a newline');
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      try {
        return JSON.parse(line) as CenecaEvent;
      } catch {
        assert.fail(`stdout line ${i + 1} is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
      }
    });
}

export function sqlReply(query: string, preface = 'This query answers the question.'): string {
  return `${preface}\n\n\`\`\`sql\n${query}\n\`\`\``;
}

/** A model reply holding a JSON query (MongoDB, Qdrant, Slack) or plan; a string goes in as it is (e.g. broken JSON). */
export function jsonReply(value: unknown, preface = 'This query answers the question.'): string {
  return `${preface}\n\n\`\`\`json\n${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n\`\`\``;
}

/** Every row the stream delivered, of one result or of all. */
export function rowsOf(events: readonly CenecaEvent[], resultId?: string): unknown[][] {
  return ofType(events, 'partial_results')
    .filter((e) => resultId === undefined || e.resultId === resultId)
    .flatMap((e) => e.rows);
}

/** Rows as objects keyed by the final column names. */
export function recordsOf(events: readonly CenecaEvent[]): Record<string, unknown>[] {
  const withColumns = ofType(events, 'partial_results').filter((e) => e.columns);
  const columns = withColumns[withColumns.length - 1]?.columns ?? [];
  return rowsOf(events).map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i] ?? null])));
}

export { OpenAIStandIn, AnthropicStandIn };
