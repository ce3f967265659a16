/**
 * What the pipeline does when the model misbehaves or its server fails: real SDKs, real stand-ins, a real database.
 * Each case must end in exactly one clear terminal event (checked by askAndCollect), never a crash or a hang.
 */
import assert from 'node:assert/strict';
import type { Engine } from '../../src/core/engine';
import { MAX_QUESTION_LENGTH } from '../../src/core/pipeline/single';
import {
  AnthropicStandIn,
  OpenAIStandIn,
  anthropicProvider,
  askAndCollect,
  makeEngine,
  ofType,
  openAIProvider,
  postgresSource,
  seededDatabase,
  sqlReply,
  terminal,
} from '../support/fixtures';

const QUERY = 'SELECT id, name FROM customers ORDER BY id LIMIT 3';

describe('model and provider faults', function () {
  this.timeout(30_000);
  let url: string;
  let openai: OpenAIStandIn;
  let engine: Engine;

  before(async () => {
    url = await seededDatabase('ceneca_faults');
    openai = new OpenAIStandIn([]);
    await openai.start();
  });
  beforeEach(() => {
    engine = makeEngine([postgresSource(url)], openAIProvider(openai));
  });
  afterEach(async () => {
    await engine.close();
  });
  after(async () => {
    await openai.stop();
  });

  it('a 500 in the middle of the stream ends with a clear llm_failed error, not a retry of half an answer', async () => {
    openai.push({ match: /Question: mid-stream 500/, text: sqlReply(QUERY), chunkSize: 4, failure: { kind: 'stream-error', afterChunks: 5, message: 'The server had an error' } });
    const events = await askAndCollect(engine, { question: 'mid-stream 500' });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'llm_failed');
    assert.match(done.type === 'error' ? done.message : '', /broke off after \d+ characters/);
    assert.equal(openai.requests.filter((r) => r.text.includes('mid-stream 500')).length, 1, 'no retry after the first token');
    assert.ok(!events.some((e) => e.type === 'execution_started'));
  });

  it('a dropped connection mid-stream ends with llm_failed within a second', async () => {
    openai.push({ match: /Question: dropped/, text: sqlReply(QUERY), chunkSize: 4, failure: { kind: 'drop', afterChunks: 14 } });
    const started = Date.now();
    const events = await askAndCollect(engine, { question: 'dropped connection' });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'llm_failed');
    assert.ok(done.type === 'error' && done.suggestion);
    assert.ok(Date.now() - started < 1000);
    assert.ok(ofType(events, 'partial_query').length > 0, 'the partial query had started to show');
  });

  it('429 with retry-after, then success: a status tells of the retry and the answer completes', async () => {
    openai.push(
      { match: /Question: rate limited/, text: '', failure: { kind: 'http', status: 429, retryAfterSeconds: 0, message: 'Rate limit reached' } },
      { match: /Question: rate limited/, text: sqlReply(QUERY) },
      { match: /You analyse the result/, text: 'Three customers.' },
    );
    const events = await askAndCollect(engine, { question: 'rate limited question' });
    assert.equal(terminal(events).type, 'complete');
    assert.ok(ofType(events, 'status').some((s) => /retry 1/.test(s.message) && /429/.test(s.message)));
    assert.equal(ofType(events, 'partial_results').flatMap((b) => b.rows).length, 3);
  });

  it('500 before the first token is retried with backoff, then reported when it persists', async () => {
    openai.push({ match: /Question: always 500/, text: '', failure: { kind: 'http', status: 500, message: 'boom' }, times: 3 });
    const events = await askAndCollect(engine, { question: 'always 500' });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'llm_failed');
    assert.match(done.type === 'error' ? done.message : '', /500/);
    assert.equal(ofType(events, 'status').filter((s) => /retry/.test(s.message)).length, 2, 'three attempts in all');
  });

  it('a 401 is not retried', async () => {
    openai.push({ match: /Question: bad key/, text: '', failure: { kind: 'http', status: 401, message: 'Incorrect API key provided' } });
    const events = await askAndCollect(engine, { question: 'bad key' });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'llm_failed');
    assert.match(done.type === 'error' ? done.message : '', /401/);
    assert.equal(ofType(events, 'status').filter((s) => /retry/.test(s.message)).length, 0);
  });

  it('a reply with no query gives a clear llm_no_query error that quotes the model', async () => {
    openai.push({ match: /Question: what is love/, text: 'I am sorry, but the schema has no data about love.' });
    const events = await askAndCollect(engine, { question: 'what is love' });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'llm_no_query');
    assert.match(done.type === 'error' ? done.message : '', /no data about love/);
    assert.equal(done.type === 'error' && done.phase, 'generate');
  });

  it('an analysis that fails after the rows arrived is a recoverable error and the question still completes', async () => {
    openai.push(
      { match: /Question: analysis breaks/, text: sqlReply(QUERY) },
      { match: /You analyse the result/, text: 'The first', chunkSize: 3, failure: { kind: 'drop', afterChunks: 2 } },
    );
    const events = await askAndCollect(engine, { question: 'analysis breaks' });
    assert.equal(terminal(events).type, 'complete');
    const failure = ofType(events, 'error')[0]!;
    assert.equal(failure.code, 'analysis_failed');
    assert.equal(failure.recoverable, true);
    assert.equal(ofType(events, 'result_complete')[0]!.rowCount, 3);
  });

  it('Anthropic: an overloaded error mid-stream ends with llm_failed', async () => {
    const anthropic = new AnthropicStandIn([{ match: /Question: overloaded/, text: sqlReply(QUERY), chunkSize: 4, failure: { kind: 'stream-error', afterChunks: 3 } }]);
    await anthropic.start();
    const anthropicEngine = makeEngine([postgresSource(url)], anthropicProvider(anthropic));
    try {
      const done = terminal(await askAndCollect(anthropicEngine, { question: 'overloaded' }));
      assert.equal(done.type === 'error' && done.code, 'llm_failed');
    } finally {
      await anthropicEngine.close();
      await anthropic.stop();
    }
  });

  it('cancel while the model is streaming stops the request and ends with error{cancelled}', async () => {
    openai.push({ match: /Question: slow model/, text: sqlReply(QUERY), chunkSize: 2, chunkDelayMs: 30 });
    let partials = 0;
    const events = await askAndCollect(engine, { question: 'slow model' }, {}, (event, cancel) => {
      if (event.type === 'partial_query' && ++partials === 3) cancel();
    });
    const done = terminal(events);
    assert.equal(done.type === 'error' && done.code, 'cancelled');
    assert.equal(done.type === 'error' && done.phase, 'generate');
    for (let i = 0; i < 40 && openai.activeStreams > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(openai.activeStreams, 0, 'the HTTP stream to the model was closed');
  });

  it('an empty or over-long question is refused with invalid_question before any model call', async () => {
    const before = openai.requests.length;
    for (const question of ['', '   \n\t ', 'x'.repeat(100 * 1024), 'y'.repeat(MAX_QUESTION_LENGTH + 1)]) {
      const events = await askAndCollect(engine, { question });
      const done = terminal(events);
      assert.equal(done.type === 'error' && done.code, 'invalid_question');
      assert.ok(done.type === 'error' && done.suggestion);
    }
    assert.equal(openai.requests.length, before, 'the model was not called');
  });

  it('with two sources, garbage from the classifier is asked for once more; twice garbage between equal sources ends with llm_failed', async () => {
    const twoSources = makeEngine([postgresSource(url, { id: 'first' }), postgresSource(url, { id: 'second' })], openAIProvider(openai));
    openai.push(
      { match: /You route a question/, text: 'Sure! {not json at all' },
      { match: /You route a question/, text: '```json\n{"databases":[{"id":"second","reason":"it has the orders"}]}\n```' },
      { match: /Question: which source/, text: sqlReply(QUERY) },
      { match: /You analyse the result/, text: 'ok' },
      { match: /You route a question/, text: 'no idea, sorry', times: 2 },
    );
    try {
      const events = await askAndCollect(twoSources, { question: 'which source answers this' });
      assert.equal(terminal(events).type, 'complete');
      assert.ok(ofType(events, 'status').some((e) => e.phase === 'classify' && /asking again/.test(e.message)));
      assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases, [{ id: 'second', kind: 'postgres', reason: 'it has the orders' }]);

      // Two identical schemas: no lexical match can break the tie, so the question stops with a clear error.
      const failed = await askAndCollect(twoSources, { question: 'which source answers that' });
      const done = terminal(failed);
      assert.equal(done.type === 'error' && done.code, 'llm_failed');
      assert.equal(done.type === 'error' && done.phase, 'classify');
      assert.match(done.type === 'error' ? done.suggestion ?? '' : '', /--source \(first, second\)/);
    } finally {
      await twoSources.close();
    }
  });

  it('with two sources, the classifier picks one and says why', async () => {
    const twoSources = makeEngine([postgresSource(url, { id: 'first' }), postgresSource(url, { id: 'second' })], openAIProvider(openai));
    openai.push(
      { match: /You route a question/, text: '```json\n{"databases":[{"id":"second","reason":"it holds customers"},{"id":"ghost","reason":"x"}]}\n```' },
      { match: /Question: pick second/, text: sqlReply(QUERY) },
      { match: /You analyse the result/, text: 'ok' },
    );
    try {
      const events = await askAndCollect(twoSources, { question: 'pick second please' });
      assert.equal(terminal(events).type, 'complete');
      assert.deepEqual(ofType(events, 'databases_selected')[0]!.databases, [{ id: 'second', kind: 'postgres', reason: 'it holds customers' }]);
      assert.deepEqual(terminal(events).type === 'complete' && (terminal(events) as { summary: { sources: string[] } }).summary.sources, ['second']);
    } finally {
      await twoSources.close();
    }
  });
});
