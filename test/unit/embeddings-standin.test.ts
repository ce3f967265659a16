/**
 * The OpenAI stand-in's `POST /v1/embeddings`, exercised through the REAL `openai` client (which asks for base64 by
 * default and decodes it), plus `deterministicEmbedding` itself.
 */
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { deterministicEmbedding, OpenAIStandIn } from '../support/openai-standin';

const MODEL = 'text-embedding-3-small';

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

describe('OpenAI stand-in: embeddings (through the openai SDK)', () => {
  let standIn: OpenAIStandIn;
  let client: OpenAI;

  beforeEach(async () => {
    standIn = new OpenAIStandIn();
    await standIn.start();
    client = new OpenAI({ apiKey: 'test', baseURL: standIn.baseURL, maxRetries: 0 });
  });

  afterEach(async () => {
    await standIn.stop();
  });

  it('answers OpenAI’s shape; the same text gives the same vector, equal to deterministicEmbedding', async () => {
    const text = 'Total revenue per customer last month';
    const first = await client.embeddings.create({ model: MODEL, input: text });
    const second = await client.embeddings.create({ model: MODEL, input: text });
    assert.equal(first.object, 'list');
    assert.equal(first.model, MODEL);
    assert.equal(first.data.length, 1);
    assert.equal(first.data[0]!.object, 'embedding');
    assert.equal(first.data[0]!.index, 0);
    assert.equal(first.data[0]!.embedding.length, 64);
    assert.ok(first.usage.prompt_tokens > 0);
    assert.equal(first.usage.total_tokens, first.usage.prompt_tokens);
    assert.deepEqual(second.data[0]!.embedding, first.data[0]!.embedding);
    assert.deepEqual(first.data[0]!.embedding, deterministicEmbedding(text));
    const norm = Math.hypot(...first.data[0]!.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-6, `norm ${norm}`);
    // The SDK asked for base64 by default, and decoded it.
    const sent = standIn.requests.at(-1)!;
    assert.equal(sent.path, '/v1/embeddings');
    assert.equal((sent.body as { encoding_format?: string }).encoding_format, 'base64');
  });

  it('puts related texts closer than unrelated ones', async () => {
    const response = await client.embeddings.create({
      model: MODEL,
      input: ['orders placed by each customer', 'customer orders and order totals', 'server disk temperature readings'],
    });
    const [a, b, c] = response.data.map((d) => d.embedding);
    assert.ok(cosine(a!, b!) > cosine(a!, c!) + 0.2, `related ${cosine(a!, b!)} vs unrelated ${cosine(a!, c!)}`);
    assert.ok(cosine(a!, b!) > 0.3);
  });

  it('keeps the order of a batch, honours `dimensions`, and serves float encoding when asked', async () => {
    const inputs = ['alpha beta', 'gamma', 'delta epsilon zeta', 'alpha beta'];
    const response = await client.embeddings.create({ model: MODEL, input: inputs, dimensions: 16 });
    assert.deepEqual(response.data.map((d) => d.index), [0, 1, 2, 3]);
    response.data.forEach((d, i) => assert.deepEqual(d.embedding, deterministicEmbedding(inputs[i]!, 16)));
    assert.deepEqual(response.data[0]!.embedding, response.data[3]!.embedding);
    assert.notDeepEqual(response.data[0]!.embedding, response.data[1]!.embedding);

    const floats = await client.embeddings.create({ model: MODEL, input: 'alpha beta', dimensions: 16, encoding_format: 'float' });
    assert.ok(Array.isArray(floats.data[0]!.embedding));
    assert.deepEqual(floats.data[0]!.embedding, deterministicEmbedding('alpha beta', 16));
  });

  it('refuses a request without a model or with a bad input, as OpenAI does (400)', async () => {
    await assert.rejects(client.embeddings.create({ model: '', input: 'x' }), (error: unknown) => error instanceof OpenAI.BadRequestError);
    await assert.rejects(client.embeddings.create({ model: MODEL, input: [] }), (error: unknown) => error instanceof OpenAI.BadRequestError);
  });

  it('deterministicEmbedding: case and punctuation do not matter; words do', () => {
    assert.deepEqual(deterministicEmbedding('Hello, World!'), deterministicEmbedding('hello world'));
    assert.notDeepEqual(deterministicEmbedding('hello world'), deterministicEmbedding('hello there'));
    assert.equal(deterministicEmbedding('x', 8).length, 8);
    assert.ok(Math.abs(Math.hypot(...deterministicEmbedding('')) - 1) < 1e-6);
  });
});
