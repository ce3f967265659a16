/**
 * Text embeddings for vector search: a question's words become the vector a Qdrant collection is searched with.
 * Any OpenAI-compatible `/v1/embeddings` server works (OpenAI, Azure, Ollama, LM Studio, vLLM, TEI). The model must
 * be the one the collection was built with; the Qdrant source checks the vector size it gets back.
 */
import OpenAI from 'openai';

export interface Embedder {
  /** The model name, for messages. */
  readonly model: string;
  /** Where the embeddings come from (no credentials), for messages. */
  readonly endpoint: string;
  /** One vector per text, in order. Throws EmbeddingError for every failure but an abort. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<number[][]>;
}

/** The embedding server failed, refused, or answered something that is not a list of vectors. */
export class EmbeddingError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EmbeddingError';
  }
}

export interface OpenAIEmbedderOptions {
  model: string;
  apiKey: string;
  /** An OpenAI-compatible base URL (…/v1); absent: api.openai.com. */
  baseURL?: string;
  timeoutMs?: number;
}

export const DEFAULT_EMBEDDINGS_MODEL = 'text-embedding-3-small';
const OPENAI_ENDPOINT = 'https://api.openai.com/v1';

export class OpenAIEmbedder implements Embedder {
  readonly model: string;
  readonly endpoint: string;
  private readonly client: OpenAI;

  constructor(options: OpenAIEmbedderOptions) {
    this.model = options.model;
    this.endpoint = safeEndpoint(options.baseURL ?? OPENAI_ENDPOINT);
    // One quick retry for a dropped connection; a question waits on this call, so no long backoff.
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 1, timeout: options.timeoutMs ?? 30_000 });
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    if (texts.length === 0) return [];
    let response: OpenAI.CreateEmbeddingResponse;
    try {
      // 'float' explicitly: the SDK otherwise asks for base64, which not every compatible server speaks.
      response = await this.client.embeddings.create({ model: this.model, input: [...texts], encoding_format: 'float' }, { signal });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.describe(error);
    }
    const data = Array.isArray(response?.data) ? response.data : [];
    const vectors: number[][] = new Array<number[]>(texts.length);
    for (const item of data) {
      if (typeof item?.index === 'number' && item.index >= 0 && item.index < texts.length) vectors[item.index] = item.embedding;
    }
    for (let i = 0; i < texts.length; i++) {
      const vector = vectors[i];
      if (!Array.isArray(vector) || vector.length === 0 || !vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new EmbeddingError(`the embedding server at ${this.endpoint} (model "${this.model}") did not return a vector for input ${i + 1}`);
      }
    }
    return vectors;
  }

  private describe(error: unknown): EmbeddingError {
    const where = `the embedding server at ${this.endpoint}`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) return new EmbeddingError(`${where} did not answer in time`);
    if (error instanceof OpenAI.APIConnectionError) {
      return new EmbeddingError(`${where} is unreachable (${causeText(error)}): check the embeddings base URL and that the server is running`);
    }
    if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
      const detail = apiMessage(error);
      if (error.status === 401 || error.status === 403) {
        return new EmbeddingError(`${where} refused the request (${error.status}${detail ? `: ${detail}` : ''}): check the embeddings API key`, error.status);
      }
      if (error.status === 404) {
        return new EmbeddingError(`${where} does not know the model "${this.model}" or has no /embeddings endpoint (404${detail ? `: ${detail}` : ''})`, 404);
      }
      return new EmbeddingError(`${where} answered ${error.status}${detail ? `: ${detail}` : ''}`, error.status);
    }
    return new EmbeddingError(`${where} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The server's own message without the SDK's status prefix. */
function apiMessage(error: InstanceType<typeof OpenAI.APIError>): string {
  const body = error.error as { message?: unknown } | undefined;
  if (body && typeof body.message === 'string') return body.message;
  return error.message.replace(/^\d{3}\s*/, '').trim();
}

function causeText(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  const inner = (cause as { cause?: unknown } | undefined)?.cause ?? cause;
  const code = (inner as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return inner instanceof Error ? inner.message : error.message;
}

/** Scheme, host, port and path: never a user name or password written into the URL. */
function safeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname.replace(/\/$/, '')}`;
  } catch {
    return '(an invalid base URL)';
  }
}
