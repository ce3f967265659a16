/**
 * `cross_question_ms`: one cross-database question end to end — classification, plan, a PostgreSQL operation, a
 * MongoDB operation using its emails, the DuckDB combine step and the analysis — against the demo shop in
 * PostgreSQL and the MongoDB stand-in, with the model as the zero-delay OpenAI stand-in. For the record: what the
 * machinery costs around the model and the databases.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Engine } from '../src/core/engine';
import { OpenAIProvider } from '../src/core/llm/openai';
import { defaultEngineSettings } from '../src/core/pipeline/single';
import { demoDatabaseSql } from '../src/core/sources/demo-data';
import { MongoSource } from '../src/core/sources/mongodb';
import { PostgresSource } from '../src/core/sources/postgres';
import { MongoStandIn } from '../test/support/mongo-standin';
import type { OpenAIStandIn } from '../test/support/openai-standin';

export interface CrossFigure {
  name: string;
  value: number;
  unit: string;
  note: string;
}

const SHOP_DB = 'ceneca_bench_shop';
const QUESTION = 'bench cross: which top customers opened tickets';
const RUNS = 5;

export async function measureCrossQuestion(options: { serverUrl: string; standIn: OpenAIStandIn; log: (line: string) => void }): Promise<CrossFigure> {
  const url = await shopDatabase(options.serverUrl);
  const top = await topEmails(url);
  const mongo = new MongoStandIn();
  await mongo.start();
  mongo.seed('support', 'tickets', top.flatMap((email, i) => (i % 3 === 0 ? [{ email, subject: `Ticket ${i}` }] : [])));
  scriptModel(options.standIn);
  const engine = new Engine({
    sources: [new PostgresSource({ id: 'shop', connection: url }), new MongoSource({ id: 'support', url: mongo.url, database: 'support' })],
    llm: new OpenAIProvider({ apiKey: 'bench', baseURL: options.standIn.baseURL, model: 'stand-in' }),
    settings: { ...defaultEngineSettings },
  });
  try {
    const times: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const started = performance.now();
      const { session, done } = engine.ask({ question: QUESTION });
      let last = '';
      for await (const event of session.log.subscribe(0)) last = event.type;
      await done;
      if (last !== 'complete') throw new Error(`the cross-database question ended with ${last}`);
      if (i > 0) times.push(performance.now() - started); // the first run warms the schema caches and DuckDB
    }
    times.sort((a, b) => a - b);
    return { name: 'cross_question_ms', value: times[Math.floor(times.length / 2)]!, unit: 'ms', note: `classify → plan → PostgreSQL + MongoDB (bound emails) → DuckDB combine → analysis, zero-delay model, median of ${RUNS}` };
  } finally {
    await engine.close();
    await mongo.stop();
  }
}

function scriptModel(standIn: OpenAIStandIn): void {
  const fence = (lang: string, body: string): string => `Here it is.\n\n\`\`\`${lang}\n${body}\n\`\`\``;
  const plan = {
    operations: [
      { id: 'top_customers', source: 'shop', goal: 'bench top customers by revenue', dependsOn: [], produces: ['name', 'email', 'revenue'] },
      { id: 'tickets', source: 'support', goal: 'bench tickets of these customers', dependsOn: ['top_customers'], uses: ['top_customers.email'], produces: ['email', 'subject'] },
    ],
    combine: { goal: 'top customers with tickets' },
  };
  standIn.push(
    { match: /^You route a question[\s\S]*bench cross/, text: fence('json', '{"databases":[{"id":"shop","reason":"revenue"},{"id":"support","reason":"tickets"}]}'), times: Infinity },
    { match: /^You plan how to answer[\s\S]*bench cross/, text: fence('json', JSON.stringify(plan)), chunkSize: 16, times: Infinity },
    {
      match: /Question: bench top customers by revenue/,
      text: fence('sql', "SELECT c.name, c.email, sum(oi.quantity * oi.unit_price) AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id WHERE o.status NOT IN ('cancelled', 'refunded') GROUP BY c.id, c.name, c.email ORDER BY revenue DESC LIMIT 50"),
      times: Infinity,
    },
    { match: /Question: bench tickets of these customers/, text: fence('json', JSON.stringify({ collection: 'tickets', operation: 'find', filter: { email: { $in: { $param: 'top_customers.email' } } }, projection: { _id: 0, email: 1, subject: 1 } })), times: Infinity },
    { match: /^You write one read-only DuckDB[\s\S]*bench cross/, text: fence('sql', 'SELECT t.name, count(*) AS tickets FROM top_customers t JOIN tickets k ON k.email = t.email GROUP BY t.name ORDER BY tickets DESC, t.name'), times: Infinity },
  );
}

async function shopDatabase(serverUrl: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [SHOP_DB]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${SHOP_DB}`);
      const parsed = new URL(serverUrl);
      parsed.pathname = `/${SHOP_DB}`;
      const client = new pg.Client({ connectionString: parsed.toString() });
      await client.connect();
      try {
        for (const statement of demoDatabaseSql()) await client.query(statement);
      } finally {
        await client.end();
      }
    }
  } finally {
    await admin.end();
  }
  const parsed = new URL(serverUrl);
  parsed.pathname = `/${SHOP_DB}`;
  return parsed.toString();
}

async function topEmails(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ email: string }>('SELECT email FROM customers ORDER BY id LIMIT 200');
    return result.rows.map((r) => r.email);
  } finally {
    await client.end();
  }
}
