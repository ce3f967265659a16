/**
 * The embedding client the Qdrant source uses (the real `openai` SDK against loopback servers), and how a Qdrant
 * connection becomes a source.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmbeddingError, OpenAIEmbedder } from '../../src/core/llm/embeddings';
import { createSource } from '../../src/core/setup';
import { QdrantSource } from '../../src/core/sources/qdrant';
import { deterministicEmbedding, OpenAIStandIn } from '../support/openai-standin';

/** A server answering every request with this status and JSON body. */
async function fixedServer(status: number, body: unknown): Promise<{ baseURL: string; stop: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function embeddingError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof EmbeddingError, `not an EmbeddingError: ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('OpenAIEmbedder', () => {
  it('returns one vector per text, in order, asking for floats', async () => {
    const standIn = new OpenAIStandIn();
    await standIn.start();
    try {
      const embedder = new OpenAIEmbedder({ model: 'm', apiKey: 'k', baseURL: standIn.baseURL });
      const vectors = await embedder.embed(['red kettle', 'garden hose']);
      assert.deepEqual(vectors, [deterministicEmbedding('red kettle'), deterministicEmbedding('garden hose')]);
      assert.equal((standIn.requests[0]!.body as { encoding_format?: unknown }).encoding_format, 'float');
      assert.deepEqual(await embedder.embed([]), []);
    } finally {
      await standIn.stop();
    }
  });

  it('a 401 says to check the embeddings API key; a 404 names the model; never the key itself', async () => {
    const denied = await fixedServer(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key', param: null } });
    const missing = await fixedServer(404, { error: { message: 'The model `nope` does not exist', type: 'invalid_request_error', code: null, param: null } });
    try {
      await assert.rejects(
        new OpenAIEmbedder({ model: 'm', apiKey: 'sk-secret-value', baseURL: denied.baseURL }).embed(['x']),
        (error: unknown) => embeddingError(/embedding server at http:\/\/127\.0\.0\.1:\d+\/v1 refused the request \(401: Incorrect API key provided\): check the embeddings API key/)(error) && !(error as Error).message.includes('sk-secret-value'),
      );
      await assert.rejects(new OpenAIEmbedder({ model: 'nope', apiKey: 'k', baseURL: missing.baseURL }).embed(['x']), embeddingError(/does not know the model "nope".*404/));
    } finally {
      await denied.stop();
      await missing.stop();
    }
  });

  it('an answer without vectors is an EmbeddingError, not a crash later', async () => {
    const empty = await fixedServer(200, { object: 'list', data: [], model: 'm' });
    try {
      await assert.rejects(new OpenAIEmbedder({ model: 'm', apiKey: 'k', baseURL: empty.baseURL }).embed(['x']), embeddingError(/did not return a vector for input 1/));
    } finally {
      await empty.stop();
    }
  });

  it('an abort rejects with the abort reason', async () => {
    const standIn = new OpenAIStandIn();
    await standIn.start();
    try {
      const controller = new AbortController();
      const reason = new Error('stop');
      controller.abort(reason);
      await assert.rejects(new OpenAIEmbedder({ model: 'm', apiKey: 'k', baseURL: standIn.baseURL }).embed(['x'], controller.signal), (error: unknown) => error === reason);
    } finally {
      await standIn.stop();
    }
  });

  it('never shows credentials written into the base URL', async () => {
    const embedder = new OpenAIEmbedder({ model: 'm', apiKey: 'k', baseURL: 'http://user:pw@127.0.0.1:1/v1' });
    assert.equal(embedder.endpoint, 'http://127.0.0.1:1/v1');
  });
});

describe('Qdrant connections become sources', () => {
  it('createSource builds a QdrantSource speaking the qdrant language', () => {
    const source = createSource({ id: 'vectors', kind: 'qdrant', name: 'Vectors', url: 'http://localhost:6333', embeddings: { model: 'm', apiKey: 'k' } });
    assert.ok(source instanceof QdrantSource);
    assert.equal(source.kind, 'qdrant');
    assert.equal(source.language, 'qdrant');
    assert.equal(source.name, 'Vectors');
  });

  it('a URL without http(s) is a clear error naming the connection', () => {
    assert.throws(() => createSource({ id: 'vectors', kind: 'qdrant', url: 'localhost:6333' }), /connection vectors: not a valid Qdrant URL/);
  });
});
