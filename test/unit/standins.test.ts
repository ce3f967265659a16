/**
 * The LLM stand-ins, exercised through the REAL `openai` and `@anthropic-ai/sdk` clients: if a stand-in's wire format
 * drifts from what the SDKs parse, these fail.
 */
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { AnthropicStandIn } from '../support/anthropic-standin';
import { OpenAIStandIn } from '../support/openai-standin';
import { prepareReply, ReplyScript, splitByCharacters, type ScriptedReply } from '../support/llm-script';

const TEXT = 'naïve café 😀 日本';
const MODEL_OPENAI = 'gpt-4o-mini';
const MODEL_ANTHROPIC = 'claude-haiku-4-5';

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** A `fetch` for the SDKs that notes every body chunk they are handed, to prove what reached them over TCP. */
function recordingFetch(seen: Uint8Array[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.body) return response;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen.push(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return condition();
}

function openai(standIn: OpenAIStandIn, options: { maxRetries?: number; fetch?: typeof fetch } = {}): OpenAI {
  return new OpenAI({ apiKey: 'test', baseURL: standIn.baseURL, maxRetries: options.maxRetries ?? 0, fetch: options.fetch });
}

function anthropic(standIn: AnthropicStandIn, options: { maxRetries?: number; fetch?: typeof fetch } = {}): Anthropic {
  return new Anthropic({ apiKey: 'test', baseURL: standIn.baseURL, maxRetries: options.maxRetries ?? 0, fetch: options.fetch });
}

interface Collected {
  deltas: string[];
  /** ms since the request was made, per delta. */
  times: number[];
  usage?: { input: number; output: number };
  error?: unknown;
}

async function streamOpenAI(
  client: OpenAI,
  prompt = 'hello',
  options: { includeUsage?: boolean; signal?: AbortSignal; onDelta?: (collected: Collected) => void } = {},
): Promise<Collected> {
  const started = Date.now();
  const collected: Collected = { deltas: [], times: [] };
  try {
    const stream = await client.chat.completions.create(
      {
        model: MODEL_OPENAI,
        stream: true,
        ...(options.includeUsage ? { stream_options: { include_usage: true } } : {}),
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: prompt },
        ],
      },
      { signal: options.signal },
    );
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta?.content;
      if (text) {
        collected.deltas.push(text);
        collected.times.push(Date.now() - started);
        options.onDelta?.(collected);
      }
      if (chunk.usage) collected.usage = { input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens };
    }
  } catch (error) {
    collected.error = error;
  }
  return collected;
}

async function streamAnthropic(
  client: Anthropic,
  prompt = 'hello',
  options: { signal?: AbortSignal; onDelta?: (collected: Collected) => void } = {},
): Promise<Collected> {
  const started = Date.now();
  const collected: Collected = { deltas: [], times: [] };
  let input = -1;
  try {
    const stream = await client.messages.create(
      { model: MODEL_ANTHROPIC, max_tokens: 256, stream: true, system: 'You are terse.', messages: [{ role: 'user', content: prompt }] },
      { signal: options.signal },
    );
    for await (const event of stream) {
      if (event.type === 'message_start') input = event.message.usage.input_tokens;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        collected.deltas.push(event.delta.text);
        collected.times.push(Date.now() - started);
        options.onDelta?.(collected);
      }
      if (event.type === 'message_delta') collected.usage = { input, output: event.usage.output_tokens };
    }
  } catch (error) {
    collected.error = error;
  }
  return collected;
}

// ---------------------------------------------------------------------------------------------------------------
// the script

describe('LLM stand-in scripts', function () {
  it('splits by characters without splitting a surrogate pair', function () {
    assert.deepEqual(splitByCharacters('ab😀cd', 3), ['ab😀', 'cd']);
    assert.deepEqual(splitByCharacters('😀😀', 1), ['😀', '😀']);
    assert.deepEqual(splitByCharacters(TEXT, 8).join(''), TEXT);
    assert.deepEqual(prepareReply({ text: 'abcdefghij' }).chunks, ['abcdefgh', 'ij']); // default chunkSize 8
    assert.deepEqual(prepareReply({ text: 'abcdef', byteSplit: 2 }).chunks, ['abcdef']); // byteSplit alone: one chunk
  });

  it('rejects chunks that do not join to the text, and failures past the last chunk', function () {
    assert.throws(() => prepareReply({ text: 'hello', chunks: ['hel', 'p'] }), /do not equal text/);
    assert.throws(() => new OpenAIStandIn([{ text: 'hello', chunks: ['he', 'llo!'] }]), /do not equal text/);
    assert.throws(() => prepareReply({ text: 'hello', chunkSize: 1, failure: { kind: 'drop', afterChunks: 6 } }), /afterChunks/);
    assert.throws(() => prepareReply({ text: 'x', failure: { kind: 'http', status: 200 } }), /400-599/);
  });

  it('takes the first matching reply with uses left, in script order', function () {
    const script = new ReplyScript([
      { match: 'weather', text: 'A' },
      { match: /sales/g, text: 'B', times: 2 },
      { text: 'C', times: Infinity },
    ]);
    assert.equal(script.take('total sales?')?.reply.text, 'B');
    assert.equal(script.take('sales again')?.reply.text, 'B'); // a /g pattern must not keep lastIndex between requests
    assert.equal(script.take('sales thrice')?.reply.text, 'C');
    assert.equal(script.take('the weather')?.reply.text, 'A');
    assert.equal(script.take('the weather')?.reply.text, 'C');
    const strict = new ReplyScript([{ match: 'only this', text: 'x' }]);
    assert.equal(strict.take('something else'), undefined);
    strict.push({ match: 'else', text: 'y' });
    assert.equal(strict.take('something else')?.reply.text, 'y');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// OpenAI

describe('OpenAIStandIn through the openai SDK', function () {
  this.timeout(2000);
  let standIn: OpenAIStandIn;

  async function begin(script: ScriptedReply[]): Promise<OpenAIStandIn> {
    standIn = new OpenAIStandIn(script);
    await standIn.start();
    return standIn;
  }

  afterEach(async function () {
    await standIn?.stop();
  });

  it('serves on 127.0.0.1 under /v1', async function () {
    await begin([]);
    assert.match(standIn.baseURL, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it('reassembles chunks split inside a word and inside a surrogate pair, delta by delta', async function () {
    const chunks = ['na', 'ïve caf', 'é \ud83d', '\ude00 日', '本'];
    await begin([{ text: TEXT, chunks }]);
    const got = await streamOpenAI(openai(standIn));
    assert.equal(got.error, undefined);
    assert.deepEqual(got.deltas, chunks);
    assert.equal(got.deltas.join(''), TEXT);
  });

  it('splits by chunkSize characters, keeping the emoji whole', async function () {
    await begin([{ text: TEXT, chunkSize: 1 }]);
    const got = await streamOpenAI(openai(standIn));
    assert.equal(got.deltas.join(''), TEXT);
    assert.equal(got.deltas.length, [...TEXT].length);
    assert.ok(got.deltas.includes('😀'));
  });

  it('reassembles text whose UTF-8 bytes arrive one byte per TCP write (byteSplit: 1)', async function () {
    await begin([{ text: TEXT, byteSplit: 1 }]);
    const seen: Uint8Array[] = [];
    const got = await streamOpenAI(openai(standIn, { fetch: recordingFetch(seen) }));
    assert.equal(got.error, undefined);
    assert.equal(got.deltas.join(''), TEXT);
    assert.ok(seen.length >= Buffer.byteLength(TEXT), `the SDK read only ${seen.length} body chunks`);
    assert.ok(seen.some((chunk) => !isValidUtf8(chunk)), 'no body chunk split a multi-byte character');
  });

  it('reassembles byteSplit: 2 combined with chunkSize', async function () {
    await begin([{ text: TEXT, byteSplit: 2, chunkSize: 5 }]);
    const got = await streamOpenAI(openai(standIn));
    assert.equal(got.deltas.join(''), TEXT);
    assert.equal(got.deltas.length, splitByCharacters(TEXT, 5).length);
  });

  it('sends usage as a final choice-less chunk when stream_options.include_usage is set', async function () {
    await begin([
      { text: 'Forty-two.', usage: { inputTokens: 31, outputTokens: 4 } },
      { text: 'Again.', usage: { inputTokens: 5, outputTokens: 2 } },
    ]);
    const client = openai(standIn);
    const stream = await client.chat.completions.create({
      model: MODEL_OPENAI,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'answer?' }],
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.prompt_tokens, 31);
    assert.equal(last.usage?.completion_tokens, 4);
    assert.equal(last.usage?.total_tokens, 35);
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '', refusal: null });
    assert.equal(chunks[chunks.length - 2].choices[0].finish_reason, 'stop');
    assert.ok(chunks.every((chunk) => chunk.model === MODEL_OPENAI && chunk.id === chunks[0].id && chunk.object === 'chat.completion.chunk'));

    const without = await streamOpenAI(client, 'answer?');
    assert.equal(without.deltas.join(''), 'Again.');
    assert.equal(without.usage, undefined);
  });

  it('waits firstByteDelayMs before the headers and chunkDelayMs before each chunk', async function () {
    await begin([{ text: 'abc', chunkSize: 1, firstByteDelayMs: 150, chunkDelayMs: 60 }]);
    const client = openai(standIn);
    const started = Date.now();
    const stream = await client.chat.completions.create({ model: MODEL_OPENAI, stream: true, messages: [{ role: 'user', content: 'x' }] });
    assert.ok(Date.now() - started >= 140, `headers after ${Date.now() - started} ms`);
    const times: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) times.push(Date.now() - started);
    assert.equal(times.length, 3);
    assert.ok(times[0] >= 200, `first chunk at ${times[0]} ms`);
    assert.ok(times[2] - times[0] >= 100, `chunks spread over only ${times[2] - times[0]} ms`);
  });

  it('drop: the SDK iteration throws after the first chunks instead of hanging or ending quietly', async function () {
    await begin([{ text: 'abcdefgh', chunkSize: 2, failure: { kind: 'drop', afterChunks: 2 } }]);
    const got = await streamOpenAI(openai(standIn));
    assert.deepEqual(got.deltas, ['ab', 'cd']);
    assert.ok(got.error instanceof Error, 'the dropped stream did not throw');
    assert.ok(!(got.error instanceof OpenAI.APIError), 'a drop is a transport error, not an API error');
    assert.ok(await waitFor(() => standIn.activeStreams === 0, 300));
  });

  it('stream-error: the SDK throws an APIError carrying the message', async function () {
    await begin([{ text: 'abcdef', chunkSize: 3, failure: { kind: 'stream-error', afterChunks: 1, message: 'model melted' } }]);
    const got = await streamOpenAI(openai(standIn));
    assert.deepEqual(got.deltas, ['abc']);
    assert.ok(got.error instanceof OpenAI.APIError, `threw ${String(got.error)}`);
    assert.match(got.error.message, /model melted/);
    assert.equal(got.error.type, 'server_error');
  });

  it('429 with retry-after: 0, then success, through the SDK\'s own maxRetries: 1', async function () {
    await begin([
      { failure: { kind: 'http', status: 429, retryAfterSeconds: 0 }, text: '' },
      { text: 'second time lucky' },
    ]);
    const got = await streamOpenAI(openai(standIn, { maxRetries: 1 }));
    assert.equal(got.error, undefined);
    assert.equal(got.deltas.join(''), 'second time lucky');
    assert.equal(standIn.requests.length, 2);
    assert.equal(standIn.requests[1].headers['x-stainless-retry-count'], '1');
  });

  it('429 surfaces as a RateLimitError with the retry-after header and OpenAI\'s error fields', async function () {
    await begin([{ failure: { kind: 'http', status: 429, retryAfterSeconds: 7 }, text: '' }]);
    const got = await streamOpenAI(openai(standIn));
    assert.ok(got.error instanceof OpenAI.RateLimitError, `threw ${String(got.error)}`);
    assert.equal(got.error.headers?.get('retry-after'), '7');
    assert.equal(got.error.code, 'rate_limit_exceeded');
    assert.equal(standIn.requests.length, 1);
  });

  it('500 surfaces as an APIError with status 500', async function () {
    await begin([{ failure: { kind: 'http', status: 500, message: 'boom' }, text: '' }]);
    const got = await streamOpenAI(openai(standIn));
    assert.ok(got.error instanceof OpenAI.APIError, `threw ${String(got.error)}`);
    assert.equal(got.error.status, 500);
    assert.match(got.error.message, /boom/);
  });

  it('an AbortSignal stops the stream and the stand-in closes it', async function () {
    await begin([{ text: 'x'.repeat(40), chunkSize: 1, chunkDelayMs: 30 }]);
    const controller = new AbortController();
    let openWhileStreaming = -1;
    const got = await streamOpenAI(openai(standIn), 'hello', {
      signal: controller.signal,
      onDelta: (collected) => {
        if (collected.deltas.length === 2) {
          openWhileStreaming = standIn.activeStreams;
          controller.abort();
        }
      },
    });
    assert.equal(openWhileStreaming, 1);
    assert.ok(got.deltas.length < 40);
    assert.ok(await waitFor(() => standIn.activeStreams === 0, 300), 'the stand-in still has the stream open');
  });

  it('breaking out of the iteration closes the stream too', async function () {
    await begin([{ text: 'y'.repeat(40), chunkSize: 1, chunkDelayMs: 30 }]);
    const stream = await openai(standIn).chat.completions.create({ model: MODEL_OPENAI, stream: true, messages: [{ role: 'user', content: 'x' }] });
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) break;
    assert.ok(await waitFor(() => standIn.activeStreams === 0, 300));
  });

  it('an unmatched request gets a 400 naming the request text', async function () {
    await begin([{ match: 'revenue', text: 'nope' }]);
    const got = await streamOpenAI(openai(standIn), 'how many users signed up?');
    assert.ok(got.error instanceof OpenAI.BadRequestError, `threw ${String(got.error)}`);
    assert.match(got.error.message, /stand-in: no scripted reply matches/);
    assert.match(got.error.message, /how many users signed up\?/);
  });

  it('records each request: path, headers and body, and matches on system + messages', async function () {
    await begin([{ match: /terse[\s\S]*weekly sales/, text: 'ok' }]);
    const got = await streamOpenAI(openai(standIn), 'weekly sales', { includeUsage: true });
    assert.equal(got.error, undefined);
    assert.equal(standIn.requests.length, 1);
    const [request] = standIn.requests;
    assert.equal(request.path, '/v1/chat/completions');
    assert.equal(request.headers.authorization, 'Bearer test');
    assert.deepEqual(request.body, {
      model: MODEL_OPENAI,
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'weekly sales' },
      ],
    });
    assert.equal(request.text, 'You are terse.\nweekly sales');
  });

  it('answers a non-streaming request with a chat.completion', async function () {
    await begin([{ text: 'whole answer', usage: { inputTokens: 3, outputTokens: 2 } }]);
    const completion = await openai(standIn).chat.completions.create({ model: MODEL_OPENAI, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices[0].message.content, 'whole answer');
    assert.equal(completion.usage?.total_tokens, 5);
  });

  it('push() adds replies after start', async function () {
    await begin([]);
    standIn.push({ text: 'late' });
    assert.equal((await streamOpenAI(openai(standIn))).deltas.join(''), 'late');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Anthropic

describe('AnthropicStandIn through @anthropic-ai/sdk', function () {
  this.timeout(2000);
  let standIn: AnthropicStandIn;

  async function begin(script: ScriptedReply[]): Promise<AnthropicStandIn> {
    standIn = new AnthropicStandIn(script);
    await standIn.start();
    return standIn;
  }

  afterEach(async function () {
    await standIn?.stop();
  });

  it('reassembles chunks split inside a word and inside a surrogate pair, delta by delta', async function () {
    const chunks = ['naï', 've ca', 'fé \ud83d', '\ude00', ' 日本'];
    await begin([{ text: TEXT, chunks }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.equal(got.error, undefined);
    assert.deepEqual(got.deltas, chunks);
  });

  it('reassembles text whose UTF-8 bytes arrive one byte per TCP write (byteSplit: 1)', async function () {
    await begin([{ text: TEXT, byteSplit: 1 }]);
    const seen: Uint8Array[] = [];
    const got = await streamAnthropic(anthropic(standIn, { fetch: recordingFetch(seen) }));
    assert.equal(got.error, undefined);
    assert.equal(got.deltas.join(''), TEXT);
    assert.ok(seen.some((chunk) => !isValidUtf8(chunk)), 'no body chunk split a multi-byte character');
  });

  it('reassembles byteSplit: 3 combined with explicit chunks', async function () {
    const chunks = ['naïve ', 'café 😀', ' 日本'];
    await begin([{ text: TEXT, chunks, byteSplit: 3 }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.deepEqual(got.deltas, chunks);
  });

  it('sends input tokens in message_start and output tokens in message_delta', async function () {
    await begin([{ text: 'Forty-two.', usage: { inputTokens: 31, outputTokens: 4 } }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.deepEqual(got.usage, { input: 31, output: 4 });
  });

  it('works with the SDK\'s messages.stream() helper (final message, text and usage)', async function () {
    await begin([{ text: TEXT, chunkSize: 3, usage: { inputTokens: 9, outputTokens: 6 } }]);
    const stream = anthropic(standIn).messages.stream({ model: MODEL_ANTHROPIC, max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    const texts: string[] = [];
    stream.on('text', (text) => texts.push(text));
    const message = await stream.finalMessage();
    assert.equal(texts.join(''), TEXT);
    assert.deepEqual(message.content, [{ type: 'text', text: TEXT }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.usage.input_tokens, 9);
    assert.equal(message.usage.output_tokens, 6);
    assert.equal(message.model, MODEL_ANTHROPIC);
    assert.match(message.id, /^msg_/);
  });

  it('waits firstByteDelayMs before the headers and chunkDelayMs before each chunk', async function () {
    await begin([{ text: 'abc', chunkSize: 1, firstByteDelayMs: 150, chunkDelayMs: 60 }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.equal(got.times.length, 3);
    assert.ok(got.times[0] >= 200, `first chunk at ${got.times[0]} ms`);
    assert.ok(got.times[2] - got.times[0] >= 100, `chunks spread over only ${got.times[2] - got.times[0]} ms`);
  });

  it('drop: the SDK iteration throws after the first chunks', async function () {
    await begin([{ text: 'abcdefgh', chunkSize: 2, failure: { kind: 'drop', afterChunks: 3 } }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.deepEqual(got.deltas, ['ab', 'cd', 'ef']);
    assert.ok(got.error instanceof Error, 'the dropped stream did not throw');
    assert.ok(!(got.error instanceof Anthropic.APIError), 'a drop is a transport error, not an API error');
  });

  it('stream-error: the SDK throws an APIError of type overloaded_error carrying the message', async function () {
    await begin([{ text: 'abcdef', chunkSize: 3, failure: { kind: 'stream-error', afterChunks: 1, message: 'model melted' } }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.deepEqual(got.deltas, ['abc']);
    assert.ok(got.error instanceof Anthropic.APIError, `threw ${String(got.error)}`);
    assert.match(got.error.message, /model melted/);
    assert.equal(got.error.type, 'overloaded_error');
  });

  it('429 with retry-after: 0, then success, through the SDK\'s own maxRetries: 1', async function () {
    await begin([
      { failure: { kind: 'http', status: 429, retryAfterSeconds: 0 }, text: '' },
      { text: 'second time lucky' },
    ]);
    const got = await streamAnthropic(anthropic(standIn, { maxRetries: 1 }));
    assert.equal(got.error, undefined);
    assert.equal(got.deltas.join(''), 'second time lucky');
    assert.equal(standIn.requests.length, 2);
  });

  it('429 surfaces as a RateLimitError with retry-after and type rate_limit_error', async function () {
    await begin([{ failure: { kind: 'http', status: 429, retryAfterSeconds: 3, message: 'slow down' }, text: '' }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.ok(got.error instanceof Anthropic.RateLimitError, `threw ${String(got.error)}`);
    assert.equal(got.error.headers?.get('retry-after'), '3');
    assert.equal(got.error.type, 'rate_limit_error');
    assert.match(got.error.message, /slow down/);
  });

  it('500 surfaces as an APIError with status 500 and type api_error', async function () {
    await begin([{ failure: { kind: 'http', status: 500 }, text: '' }]);
    const got = await streamAnthropic(anthropic(standIn));
    assert.ok(got.error instanceof Anthropic.APIError, `threw ${String(got.error)}`);
    assert.equal(got.error.status, 500);
    assert.equal(got.error.type, 'api_error');
  });

  it('an AbortSignal stops the stream and the stand-in closes it', async function () {
    await begin([{ text: 'x'.repeat(40), chunkSize: 1, chunkDelayMs: 30 }]);
    const controller = new AbortController();
    let openWhileStreaming = -1;
    const got = await streamAnthropic(anthropic(standIn), 'hello', {
      signal: controller.signal,
      onDelta: (collected) => {
        if (collected.deltas.length === 2) {
          openWhileStreaming = standIn.activeStreams;
          controller.abort();
        }
      },
    });
    assert.equal(openWhileStreaming, 1);
    assert.ok(got.deltas.length < 40);
    assert.ok(await waitFor(() => standIn.activeStreams === 0, 300), 'the stand-in still has the stream open');
  });

  it('an AbortSignal during firstByteDelayMs closes the waiting stream', async function () {
    await begin([{ text: 'never', firstByteDelayMs: 1500 }]);
    const controller = new AbortController();
    const pending = streamAnthropic(anthropic(standIn), 'hello', { signal: controller.signal });
    assert.ok(await waitFor(() => standIn.activeStreams === 1, 300));
    controller.abort();
    const got = await pending;
    assert.ok(got.error instanceof Anthropic.APIUserAbortError, `threw ${String(got.error)}`);
    assert.ok(await waitFor(() => standIn.activeStreams === 0, 300));
  });

  it('an unmatched request gets a 400 naming the request text', async function () {
    await begin([{ match: 'revenue', text: 'nope' }]);
    const got = await streamAnthropic(anthropic(standIn), 'how many users signed up?');
    assert.ok(got.error instanceof Anthropic.BadRequestError, `threw ${String(got.error)}`);
    assert.match(got.error.message, /stand-in: no scripted reply matches/);
    assert.match(got.error.message, /how many users signed up\?/);
    assert.equal(got.error.type, 'invalid_request_error');
  });

  it('records each request: path, headers and body, and matches on system + messages', async function () {
    await begin([{ match: 'You are terse.\nquarterly', text: 'ok' }]);
    const got = await streamAnthropic(anthropic(standIn), 'quarterly');
    assert.equal(got.error, undefined);
    const [request] = standIn.requests;
    assert.equal(request.path, '/v1/messages');
    assert.equal(request.headers.authorization, 'Bearer test'); // SDK 1.x sends the API key as a bearer token, not x-api-key
    assert.ok(request.headers['anthropic-version']);
    assert.deepEqual(request.body, {
      model: MODEL_ANTHROPIC,
      max_tokens: 256,
      stream: true,
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'quarterly' }],
    });
  });

  it('answers a non-streaming request with a message', async function () {
    await begin([{ text: 'whole answer', usage: { inputTokens: 3, outputTokens: 2 } }]);
    const message = await anthropic(standIn).messages.create({ model: MODEL_ANTHROPIC, max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'whole answer' }]);
    assert.equal(message.usage.output_tokens, 2);
  });

  it('stop() ends a stream still in progress, so nothing hangs', async function () {
    await begin([{ text: 'z'.repeat(100), chunkSize: 1, chunkDelayMs: 50 }]);
    const pending = streamAnthropic(anthropic(standIn));
    assert.ok(await waitFor(() => standIn.activeStreams === 1, 300));
    await standIn.stop();
    const got = await pending;
    assert.ok(got.error instanceof Error);
    assert.equal(standIn.activeStreams, 0);
  });
});
