/**
 * The Slack source end to end: the real `@slack/web-api` client against the Slack stand-in, the real pipeline and
 * the OpenAI stand-in. A user token searches (`search.messages`), a bot token scans `conversations.history`; both
 * must give the same rows for the same search.
 */
import assert from 'node:assert/strict';
import type { Engine } from '../../src/core/engine';
import { SlackSource } from '../../src/core/sources/slack';
import { SlackStandIn, type StandInChannel, type StandInMessage } from '../support/slack-standin';
import { OpenAIStandIn, askAndCollect, makeEngine, ofType, openAIProvider, terminal, jsonReply, rowsOf } from '../support/fixtures';

const USER_TOKEN = 'xoxp-user';
const BOT_TOKEN = 'xoxb-bot';
const DAY = 86_400;
/** 2024-03-01T00:00:00Z */
const MARCH_1 = Date.UTC(2024, 2, 1) / 1000;

function at(day: number, hour: number, minute = 0): string {
  return `${MARCH_1 + (day - 1) * DAY + hour * 3600 + minute * 60}.000100`;
}

function msg(day: number, hour: number, user: string, text: string): StandInMessage {
  return { ts: at(day, hour), user, text };
}

function seedChannels(): StandInChannel[] {
  const random: StandInMessage[] = [];
  // 450 messages over several days: more than one page of history (200) and of search results (100).
  for (let i = 0; i < 450; i++) random.push({ ts: `${MARCH_1 + i * 600}.000200`, user: 'U2', text: `chatter number ${i} about lunch` });
  return [
    {
      id: 'C0INCIDENT',
      name: 'incidents',
      topic: 'Production incidents',
      purpose: 'Report and track outages',
      members: ['U1', 'U2', 'U3'],
      messages: [
        msg(1, 9, 'U1', 'Database outage in eu-west, investigating'),
        msg(2, 10, 'U1', 'Database failover completed, latency is back'),
        msg(3, 11, 'U2', 'Database disk almost full on replica'),
        msg(4, 8, 'U1', 'Postmortem for the database outage is up'),
        msg(5, 15, 'U3', 'Deploy rolled back after errors'),
      ],
    },
    {
      id: 'C0GENERAL',
      name: 'general',
      topic: 'Company-wide announcements',
      members: ['U1', 'U2', 'U3'],
      messages: [msg(1, 12, 'U3', 'Welcome to the team'), msg(3, 9, 'U1', 'The database migration talk is on Friday')],
    },
    { id: 'C0RANDOM', name: 'random', purpose: 'Anything goes', members: ['U2', 'U3'], messages: random },
  ];
}

const USERS = [
  { id: 'U1', name: 'alice', real_name: 'Alice Adams' },
  { id: 'U2', name: 'bob', real_name: 'Bob Brown' },
  { id: 'U3', name: 'carol', real_name: 'Carol Chen' },
];

/** alice's database messages in #incidents from 2024-03-02 on (after:2024-03-01), newest first. */
const ALICE_DB_SEARCH = { channels: ['#incidents'], query: 'database', from: '@alice', after: '2024-03-01', limit: 50 };
const ALICE_DB_ROWS = [
  ['#incidents', 'alice', '2024-03-04T08:00:00.000Z', 'Postmortem for the database outage is up', `https://example.slack.com/archives/C0INCIDENT/p${at(4, 8).replace('.', '')}`],
  ['#incidents', 'alice', '2024-03-02T10:00:00.000Z', 'Database failover completed, latency is back', `https://example.slack.com/archives/C0INCIDENT/p${at(2, 10).replace('.', '')}`],
];

describe('Slack source', function () {
  this.timeout(30_000);
  let slack: SlackStandIn;
  let openai: OpenAIStandIn;
  const engines: Engine[] = [];

  function engineFor(token: string): Engine {
    const engine = makeEngine([new SlackSource({ id: 'slack', name: 'Example Slack', token, slackApiUrl: slack.apiUrl })], openAIProvider(openai), { analysis: false });
    engines.push(engine);
    return engine;
  }

  beforeEach(async () => {
    slack = new SlackStandIn({ tokens: { [USER_TOKEN]: 'user', [BOT_TOKEN]: 'bot' }, channels: seedChannels(), users: USERS });
    await slack.start();
    openai = new OpenAIStandIn([]);
    await openai.start();
  });
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    await openai.stop();
    await slack.stop();
  });

  it('a user token searches with in:/from:/after: modifiers and streams rows with ISO times and permalinks', async () => {
    openai.push({ match: /Question: What did alice say about the database in incidents/, text: jsonReply(ALICE_DB_SEARCH), chunkSize: 6 });
    const events = await askAndCollect(engineFor(USER_TOKEN), { question: 'What did alice say about the database in incidents since March 1st?' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));

    const partial = ofType(events, 'partial_query');
    assert.ok(partial.length > 1, 'the JSON streams in several deltas');
    assert.ok(partial.every((e) => e.language === 'slack'));
    assert.equal(ofType(events, 'query_complete')[0]!.language, 'slack');
    assert.deepEqual(JSON.parse(ofType(events, 'query_complete')[0]!.query), ALICE_DB_SEARCH);

    const results = ofType(events, 'partial_results');
    assert.deepEqual(results[0]!.columns?.map((c) => c.name), ['channel', 'user', 'ts', 'text', 'permalink']);
    assert.deepEqual(rowsOf(events), ALICE_DB_ROWS);
    assert.ok(slack.calls.includes('search.messages'));
    assert.ok(!slack.calls.includes('conversations.history'));
    assert.ok(!slack.calls.includes('chat.getPermalink'), 'permalinks come with the search results');

    const prompt = openai.requests.find((r) => r.text.includes('What did alice say'))!.text;
    assert.match(prompt, /<data kind="schema">[\s\S]*#incidents — Production incidents — Report and track outages; 3 members[\s\S]*<\/data>/);
    assert.match(prompt, /```json/);
    const chunks = ofType(events, 'schema_chunks')[0]!.chunks;
    assert.equal(chunks[0]!.name, '#incidents');
    assert.equal(chunks[0]!.kind, 'collection');
  });

  it('a bot token scans conversations.history and gives the same rows for the same search', async () => {
    openai.push({ match: /Question: What did alice say about the database in incidents/, text: jsonReply(ALICE_DB_SEARCH) });
    const events = await askAndCollect(engineFor(BOT_TOKEN), { question: 'What did alice say about the database in incidents since March 1st?' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    assert.deepEqual(rowsOf(events), ALICE_DB_ROWS);
    assert.ok(slack.calls.includes('conversations.history'));
    assert.ok(!slack.calls.includes('search.messages'), 'a bot token never tries search.messages');
    assert.ok(!slack.calls.includes('chat.getPermalink'), 'permalinks are built from the workspace URL');
  });

  it('both paths agree on a search across all channels with a date window', async () => {
    const search = { query: 'database', before: '2024-03-04' };
    const answers: unknown[][][] = [];
    for (const token of [USER_TOKEN, BOT_TOKEN]) {
      openai.push({ match: /Question: database talk before March 4/, text: jsonReply(search) });
      const events = await askAndCollect(engineFor(token), { question: 'database talk before March 4' });
      assert.equal(terminal(events).type, 'complete');
      answers.push(rowsOf(events).sort((a, b) => String(a[2]).localeCompare(String(b[2]))));
    }
    assert.equal(answers[0]!.length, 4);
    assert.deepEqual(answers[1], answers[0]);
  });

  it('an unknown channel is corrected once by the model', async () => {
    openai.push(
      { match: /Question: Show the outage reports/, text: jsonReply({ channels: ['#outages'], query: 'outage' }) },
      { match: /unknown channel #outages; the channels are: #incidents, #general, #random/, text: jsonReply({ channels: ['#incidents'], query: 'outage' }) },
    );
    const events = await askAndCollect(engineFor(USER_TOKEN), { question: 'Show the outage reports' });
    const done = terminal(events);
    assert.equal(done.type, 'complete', JSON.stringify(done));
    const validations = ofType(events, 'query_validated');
    assert.equal(validations.length, 2);
    assert.equal(validations[0]!.ok, false);
    assert.equal(validations[1]!.ok, true);
    assert.equal(ofType(events, 'query_complete').length, 2);
    assert.deepEqual(rowsOf(events).map((r) => r[3]), ['Postmortem for the database outage is up', 'Database outage in eu-west, investigating']);
  });

  it('an invalid token ends with source_unavailable at the schema phase', async () => {
    const events = await askAndCollect(engineFor('xoxp-wrong'), { question: 'anything in incidents?' });
    const done = terminal(events);
    assert.equal(done.type, 'error');
    assert.equal(done.type === 'error' && done.code, 'source_unavailable');
    assert.equal(done.type === 'error' && done.phase, 'schema');
    assert.match(done.type === 'error' ? done.message : '', /invalid_auth/);
    assert.equal(openai.requests.length, 0, 'the model is never asked');
  });

  it('waits out a 429 with Retry-After 1 and completes', async () => {
    openai.push({ match: /Question: What did alice say about the database in incidents/, text: jsonReply(ALICE_DB_SEARCH) });
    slack.rateLimit('search.messages', 1, 1);
    const started = Date.now();
    const events = await askAndCollect(engineFor(USER_TOKEN), { question: 'What did alice say about the database in incidents?' });
    assert.equal(terminal(events).type, 'complete', JSON.stringify(terminal(events)));
    assert.deepEqual(rowsOf(events), ALICE_DB_ROWS);
    assert.ok(Date.now() - started >= 900, 'Retry-After was honoured');
    const waiting = ofType(events, 'status').filter((e) => e.phase === 'execute');
    assert.deepEqual(waiting.map((e) => e.message), ['Slack rate-limited search.messages; waiting 1 s as it asks (retry 1 of 3)']);
    assert.equal(slack.calls.filter((c) => c === 'search.messages').length, 2);
  });

  it('a Retry-After beyond the 30 s budget fails at once with a clear message', async () => {
    openai.push({ match: /Question: What did alice say about the database in incidents/, text: jsonReply(ALICE_DB_SEARCH) });
    slack.rateLimit('search.messages', 5, 100);
    const started = Date.now();
    const events = await askAndCollect(engineFor(USER_TOKEN), { question: 'What did alice say about the database in incidents?' });
    const done = terminal(events);
    assert.ok(Date.now() - started < 5_000, 'no 100 s wait');
    assert.equal(done.type, 'error');
    assert.equal(done.type === 'error' && done.phase, 'execute');
    assert.match(done.type === 'error' ? done.message : '', /rate-limited search\.messages.*100 s.*30 s budget/);
    assert.equal(slack.calls.filter((c) => c === 'search.messages').length, 1);
  });

  it('a rate limit during introspection is retried too', async () => {
    slack.rateLimit('conversations.list', 1, 1);
    openai.push({ match: /Question: What did alice say about the database in incidents/, text: jsonReply(ALICE_DB_SEARCH) });
    const events = await askAndCollect(engineFor(BOT_TOKEN), { question: 'What did alice say about the database in incidents?' });
    assert.equal(terminal(events).type, 'complete');
    assert.equal(slack.calls.filter((c) => c === 'conversations.list').length, 2);
  });

  it('cancel during a rate-limit wait ends cancelled at once and asks nothing more', async () => {
    openai.push({ match: /Question: What did alice say about the database in incidents/, text: jsonReply(ALICE_DB_SEARCH) });
    slack.rateLimit('search.messages', 3, 2);
    const started = Date.now();
    const events = await askAndCollect(engineFor(USER_TOKEN), { question: 'What did alice say about the database in incidents?' }, {}, (event, cancel) => {
      if (event.type === 'execution_started') setTimeout(cancel, 300);
    });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'cancelled');
    assert.ok(Date.now() - started < 1_800, 'the 2 s wait was cut short');
    await new Promise((resolve) => setTimeout(resolve, 2_600));
    assert.equal(slack.calls.filter((c) => c === 'search.messages').length, 1, 'no retry after the cancel');
  });

  for (const [label, token, method] of [
    ['search', USER_TOKEN, 'search.messages'],
    ['history', BOT_TOKEN, 'conversations.history'],
  ] as const) {
    it(`cancel while paging (${label}) stops the paging and ends cancelled`, async () => {
      openai.push({ match: /Question: all the lunch chatter/, text: jsonReply({ channels: ['#random'], query: 'lunch', limit: 1000 }) });
      let cancelled = false;
      const started = Date.now();
      const events = await askAndCollect(engineFor(token), { question: 'all the lunch chatter', maxRows: 1000 }, {}, (event, cancel) => {
        if (event.type === 'partial_results' && !cancelled) {
          cancelled = true;
          // The next page is rate-limited (Retry-After 2 s), so the cancel lands mid-paging, during the wait.
          slack.rateLimit(method, 3, 2);
          cancel();
        }
      });
      const done = terminal(events);
      assert.equal(done.type, 'error');
      assert.equal(done.type === 'error' && done.code, 'cancelled');
      const rows = rowsOf(events).length;
      assert.ok(rows > 0 && rows < 450, `only part of the result arrived (${rows} rows)`);
      // A page request already on the wire when the cancel landed may still arrive; after that, nothing more.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const pagesAsked = slack.calls.filter((c) => c === method).length;
      // Past the 2 s Retry-After: a wait the cancel did not cut short would ask again by now.
      await new Promise((resolve) => setTimeout(resolve, 2_600));
      assert.equal(slack.calls.filter((c) => c === method).length, pagesAsked, 'no page is asked after the cancel');
      assert.ok(pagesAsked <= 2, `paging stopped at once (${pagesAsked} calls; a full read takes ${label === 'search' ? 5 : 3})`);
      assert.ok(Date.now() - started < 5_000);
    });
  }
});
