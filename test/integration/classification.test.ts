/**
 * Classification across sources, end to end: a real PostgreSQL database, the MongoDB and Slack stand-ins through
 * their official clients, and the OpenAI stand-in scripting the model. Checks what the model is shown (a compact,
 * lexically ranked catalogue), what it may answer, and what happens when its answer is useless.
 */
import assert from 'node:assert/strict';
import { assertStreamContract } from '../../src/core/contract';
import type { Engine } from '../../src/core/engine';
import type { CenecaEvent } from '../../src/core/events';
import { MongoSource } from '../../src/core/sources/mongodb';
import { SlackSource } from '../../src/core/sources/slack';
import type { DataSource } from '../../src/core/sources/source';
import { MongoStandIn } from '../support/mongo-standin';
import { SlackStandIn } from '../support/slack-standin';
import { OpenAIStandIn, askAndCollect, makeEngine, ofType, openAIProvider, postgresSource, seededDatabase, terminal, jsonReply } from '../support/fixtures';

const SLACK_TOKEN = 'xoxp-classify';
const MARCH_1 = Date.UTC(2024, 2, 1) / 1000;
const CLASSIFY = /^You route a question to the data sources/;

function catalogueOf(openai: OpenAIStandIn, index = 0): string {
  const request = openai.requests.filter((r) => CLASSIFY.test(r.text))[index];
  assert.ok(request, 'a classification request');
  return request.text;
}

describe('Classification across sources', function () {
  this.timeout(30_000);
  let pgUrl: string;
  let mongo: MongoStandIn;
  let slack: SlackStandIn;
  let openai: OpenAIStandIn;
  const engines: Engine[] = [];

  before(async function () {
    this.timeout(60_000);
    pgUrl = await seededDatabase('ceneca_classify');
  });

  beforeEach(async () => {
    mongo = new MongoStandIn();
    await mongo.start();
    mongo.seed('web', 'pageviews', Array.from({ length: 30 }, (_, i) => ({ path: `/p/${i % 3}`, visitor: `v${i % 7}`, durationMs: 1000 + i })));
    mongo.seed('web', 'experiments', [{ name: 'new-checkout', variant: 'B', conversions: 12 }]);
    slack = new SlackStandIn({
      tokens: { [SLACK_TOKEN]: 'user' },
      users: [{ id: 'U1', name: 'alice', real_name: 'Alice Adams' }],
      channels: [
        { id: 'C1', name: 'incidents', topic: 'Production outages', members: ['U1'], messages: [{ ts: `${MARCH_1}.000100`, user: 'U1', text: 'Outage in eu-west, investigating' }] },
        { id: 'C2', name: 'general', members: ['U1'], messages: [] },
      ],
    });
    await slack.start();
    openai = new OpenAIStandIn([]);
    await openai.start();
  });

  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    await openai.stop();
    await slack.stop();
    await mongo.stop();
  });

  function sources(): DataSource[] {
    return [
      postgresSource(pgUrl, { id: 'shop', name: 'Shop database' }),
      new MongoSource({ id: 'analytics', name: 'Web analytics', url: mongo.url, database: 'web' }),
      new SlackSource({ id: 'slack', name: 'Company Slack', token: SLACK_TOKEN, slackApiUrl: slack.apiUrl }),
    ];
  }

  function engineWith(list: DataSource[] = sources()): Engine {
    const engine = makeEngine(list, openAIProvider(openai), { analysis: false });
    engines.push(engine);
    return engine;
  }

  async function collect(engine: Engine, question: string, extra: { sources?: string[] } = {}): Promise<CenecaEvent[]> {
    const events = await askAndCollect(engine, { question, ...extra });
    assertStreamContract(events);
    return events;
  }

  it('shows the model a compact catalogue, best lexical match first, and answers from the source it picks', async () => {
    openai.push(
      { match: CLASSIFY, text: jsonReply({ databases: [{ id: 'slack', reason: 'outages are discussed in #incidents' }] }) },
      { match: /Question: What was said about the outage in incidents/, text: jsonReply({ channels: ['#incidents'], query: 'outage', limit: 20 }) },
    );
    const events = await collect(engineWith(), 'What was said about the outage in incidents?');
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases, [{ id: 'slack', kind: 'slack', reason: 'outages are discussed in #incidents' }]);
    assert.deepEqual(ofType(events, 'partial_results').flatMap((e) => e.rows).map((r) => r[3]), ['Outage in eu-west, investigating']);

    const prompt = catalogueOf(openai);
    const order = ['id: slack', 'id: shop', 'id: analytics'].map((needle) => prompt.indexOf(needle));
    assert.ok(order.every((i) => i >= 0), prompt);
    assert.ok(order[0]! < order[1]! && order[0]! < order[2]!, `the Slack source, whose channels match, is listed first:\n${prompt}`);
    assert.match(prompt, /id: slack \| kind: slack \| name: Company Slack \| holds: #incidents "[^"]*Production outages[^"]*" \(.*\) — and 1 more channel\n/);
    assert.match(prompt, /id: shop \| kind: postgres \| name: Shop database \| holds: support_tickets "Customer-service tickets raised by customers\." \(id, /);
    assert.match(prompt, /<data kind="sources">/);
  });

  it('a question needing two sources selects both and goes on to a cross-database plan over them', async () => {
    openai.push(
      { match: CLASSIFY, text: jsonReply({ databases: [{ id: 'shop', reason: 'orders per day' }, { id: 'slack', reason: 'incident talk' }] }) },
      { match: /^You plan how to answer/, text: 'I cannot plan this.', times: 2 },
    );
    const events = await collect(engineWith(), 'What did people say in #incidents on the days our orders dropped?');
    assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases.map((d) => d.id), ['shop', 'slack']);
    assert.deepEqual(ofType(events, 'schema_chunks').map((e) => e.source), ['shop', 'slack'], 'the schema of each chosen source');
    assert.equal(ofType(events, 'planning').length, 1);
    const plan = openai.requests.find((r) => /^You plan how to answer/.test(r.text))!.text;
    assert.match(plan, /## source shop \(postgres: Shop database\)[\s\S]*## source slack \(slack: Company Slack\)/);
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'plan_invalid', 'a plan that never comes ends clearly');
  });

  it('an unreadable answer is asked for once more, then the best lexical match is used with a recoverable error', async () => {
    openai.push(
      { match: CLASSIFY, text: 'The pageviews one, I think.' },
      { match: CLASSIFY, text: jsonReply({ databases: [{ id: 'warehouse', reason: 'made up' }] }) },
      { match: /Question: Average duration of pageviews per path/, text: jsonReply({ collection: 'pageviews', operation: 'aggregate', pipeline: [{ $group: { _id: '$path', avg: { $avg: '$durationMs' } } }, { $sort: { _id: 1 } }] }) },
    );
    const events = await collect(engineWith(), 'Average duration of pageviews per path');
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assert.match(catalogueOf(openai, 1), /did not name any of the listed source ids \(analytics, /);
    const recoverable = ofType(events, 'error');
    assert.equal(recoverable.length, 1);
    assert.equal(recoverable[0]!.recoverable, true);
    assert.match(recoverable[0]!.message, /using analytics, whose schema matches the question best/);
    assert.equal(ofType(events, 'databases_selected')[0]!.databases[0]!.id, 'analytics');
    assert.equal(ofType(events, 'partial_results').flatMap((e) => e.rows).length, 3);
  });

  it('with no lexical match either, two useless answers end the question with llm_failed', async () => {
    openai.push({ match: CLASSIFY, text: 'no idea', times: 2 });
    const events = await collect(engineWith(), 'zorblax quintessence flumph');
    const done = terminal(events);
    assert.equal(done.type, 'error');
    assert.equal(done.type === 'error' && done.code, 'llm_failed');
    assert.equal(done.type === 'error' && done.phase, 'classify');
    assert.match(done.type === 'error' ? done.suggestion ?? '' : '', /--source/);
    assert.equal(openai.requests.length, 2);
  });

  it('one candidate source needs no model call', async () => {
    openai.push({ match: /Question: Which experiments ran/, text: jsonReply({ collection: 'experiments', operation: 'find', filter: {}, limit: 10 }) });
    const events = await collect(engineWith(), 'Which experiments ran?', { sources: ['analytics'] });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assert.equal(openai.requests.filter((r) => CLASSIFY.test(r.text)).length, 0);
    assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases, [{ id: 'analytics', kind: 'mongodb', reason: 'chosen by the request' }]);
  });

  it('an unreachable source stays in the catalogue, marked, and the others still answer', async () => {
    const broken = postgresSource('postgres://nobody:secret@127.0.0.1:1/none', { id: 'legacy', name: 'Legacy database' });
    openai.push(
      { match: CLASSIFY, text: jsonReply({ databases: [{ id: 'analytics', reason: 'experiments live there' }] }) },
      { match: /Question: Which experiments ran/, text: jsonReply({ collection: 'experiments', operation: 'find', filter: {}, limit: 10 }) },
    );
    const events = await collect(engineWith([...sources(), broken]), 'Which experiments ran?');
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assert.match(catalogueOf(openai), /id: legacy \| kind: postgres \| name: Legacy database \| holds: schema not available/);
    assert.ok(!catalogueOf(openai).includes('secret'), 'no password reaches the model');
  });

  it('classify only: the choice and its reasons, then complete, with no schema or query work', async () => {
    openai.push({ match: CLASSIFY, text: jsonReply({ databases: [{ id: 'shop', reason: 'revenue is in orders' }, { id: 'analytics', reason: 'visits' }] }) });
    const engine = engineWith();
    const started = engine.classify({ question: 'Revenue per visit last month' });
    const events: CenecaEvent[] = [];
    for await (const event of started.session.log.subscribe(0)) events.push(event);
    await started.done;
    assertStreamContract(events);
    const done = terminal(events);
    assert.equal(done.type, 'complete');
    assert.deepEqual(done.type === 'complete' && done.summary.sources, ['shop', 'analytics']);
    assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases.map((d) => d.reason), ['revenue is in orders', 'visits']);
    assert.equal(ofType(events, 'schema_chunks').length, 0);
    assert.equal(ofType(events, 'partial_query').length, 0);
  });
});
