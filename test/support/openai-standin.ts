/**
 * A loopback stand-in for OpenAI's chat-completions API (`POST /v1/chat/completions`), speaking its real wire format:
 * `data: {chat.completion.chunk}` SSE lines ending in `data: [DONE]`, `{"error":{…}}` bodies for HTTP errors, and a
 * `data: {"error":{…}}` line for an error mid-stream. The real `openai` SDK talks to it via `baseURL`.
 * Also `POST /v1/embeddings`, answered (unscripted) with {@link deterministicEmbedding} vectors.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import {
  isRecord,
  noMatchMessage,
  randomId,
  sseFrame,
  StandInServer,
  usageFor,
  type IncomingCall,
  type PreparedReply,
  type ResponseChannel,
  type ScriptedReply,
  type StreamFrames,
  type TokenCounts,
} from './llm-script';

export type { RecordedRequest, ScriptedReply, StandInFailure } from './llm-script';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class OpenAIStandIn extends StandInServer {
  constructor(script: ScriptedReply[] = []) {
    super(script);
  }

  /** `http://127.0.0.1:PORT/v1`, as the `openai` SDK's `baseURL`. */
  get baseURL(): string {
    return `${this.origin}/v1`;
  }

  protected requestText(body: unknown): string {
    return openAIRequestText(body);
  }

  protected async handle(call: IncomingCall): Promise<void> {
    const { channel, record } = call;
    if (call.method === 'POST' && call.pathname === '/v1/embeddings') return handleEmbeddings(call);
    if (call.method !== 'POST' || call.pathname !== '/v1/chat/completions') {
      return sendError(channel, 404, `Invalid URL (${call.method} ${record.path})`);
    }
    const body = call.body;
    if (!call.bodyIsJson || !isRecord(body)) {
      return sendError(channel, 400, 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)');
    }
    if (typeof body.model !== 'string' || !body.model) return sendError(channel, 400, 'you must provide a model parameter', { param: 'model' });
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return sendError(channel, 400, "[] is too short - 'messages'", { param: 'messages' });
    }
    const streaming = body.stream === true;
    if (!streaming && body.stream_options != null) {
      return sendError(channel, 400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", { param: 'stream_options' });
    }
    const prepared = this.script.take(record.text);
    if (!prepared) return sendError(channel, 400, noMatchMessage(record.text));

    const { reply } = prepared;
    const model = body.model;
    const usage = usageFor(reply, record.text);
    const failure = reply.failure;
    if (failure?.kind === 'http') {
      if (reply.firstByteDelayMs && !(await channel.sleep(reply.firstByteDelayMs))) return;
      const retryAfter = failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) };
      return sendError(channel, failure.status, failure.message ?? defaultMessage(failure.status, model, failure.retryAfterSeconds), {}, retryAfter);
    }

    if (!streaming) {
      if (reply.firstByteDelayMs && !(await channel.sleep(reply.firstByteDelayMs))) return;
      if (failure?.kind === 'drop') return channel.drop();
      if (failure?.kind === 'stream-error') return sendError(channel, 500, failure.message ?? defaultMessage(500, model));
      return channel.json(200, completion(model, reply.text, usage), responseHeaders());
    }

    await this.asStream(channel, async () => {
      if (reply.firstByteDelayMs && !(await channel.sleep(reply.firstByteDelayMs))) return;
      const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
      if (!channel.head(200, { ...responseHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })) return;
      await this.runStream(channel, prepared, streamFrames(prepared, model, usage, includeUsage));
    });
  }
}

/**
 * `POST /v1/embeddings`: `input` a string or a list of strings (token arrays are refused), `dimensions` optional
 * (default 64), `encoding_format` 'float' or 'base64' (little-endian float32, what the SDK asks for by default).
 * Vectors come from {@link deterministicEmbedding}, so tests can build vector stores with the same function.
 */
function handleEmbeddings(call: IncomingCall): void {
  const { channel, body } = call;
  if (!call.bodyIsJson || !isRecord(body)) {
    return sendError(channel, 400, 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)');
  }
  if (typeof body.model !== 'string' || !body.model) return sendError(channel, 400, 'you must provide a model parameter', { param: 'model' });
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((item) => typeof item === 'string') ? (input as string[]) : undefined;
  if (!texts) return sendError(channel, 400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", { param: 'input' });
  if (texts.length === 0 || texts.length > 2048) return sendError(channel, 400, `'$.input' must have between 1 and 2048 items.`, { param: 'input' });
  if (texts.some((text) => text.length === 0)) return sendError(channel, 400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", { param: 'input' });
  let dimensions = DEFAULT_EMBEDDING_DIMENSIONS;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1 || body.dimensions > 4096) {
      return sendError(channel, 400, `Invalid value for 'dimensions': ${JSON.stringify(body.dimensions)}.`, { param: 'dimensions' });
    }
    dimensions = body.dimensions;
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    return sendError(channel, 400, `Invalid value for 'encoding_format': ${JSON.stringify(format)}. Supported values are: 'float' and 'base64'.`, { param: 'encoding_format' });
  }
  const promptTokens = texts.reduce((sum, text) => sum + wordTokens(text).length, 0);
  channel.json(
    200,
    {
      object: 'list',
      data: texts.map((text, index) => {
        const vector = deterministicEmbedding(text, dimensions);
        return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector };
      }),
      model: body.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    },
    responseHeaders(),
  );
}

export const DEFAULT_EMBEDDING_DIMENSIONS = 64;

/**
 * A deterministic, dependency-free text embedding: a hashed bag of lower-cased word tokens. Each token adds ±1 into
 * three dimensions picked by a hash (signs from the hash too), then the vector is L2-normalised and rounded to float32
 * (so the float and base64 encodings carry the same numbers). Texts sharing words have a high cosine similarity;
 * texts sharing none are near 0. A text with no word tokens maps to a fixed unit vector.
 */
export function deterministicEmbedding(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new Error(`deterministicEmbedding: bad dimensions ${dimensions}`);
  const vector = new Array<number>(dimensions).fill(0);
  const tokens = wordTokens(text);
  for (const token of tokens) {
    for (let probe = 0; probe < 3; probe++) {
      const hash = fnv1a(`${probe}:${token}`);
      vector[hash % dimensions]! += (hash >>> 31) === 1 ? -1 : 1;
    }
  }
  let norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  if (norm === 0) {
    vector[0] = 1;
    norm = 1;
  }
  return vector.map((x) => Math.fround(x / norm));
}

/** Lower-cased runs of letters and digits (Unicode-aware). */
function wordTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** 32-bit FNV-1a over the UTF-8 bytes, as an unsigned integer. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function float32Base64(vector: number[]): string {
  const buffer = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => buffer.writeFloatLE(x, i * 4));
  return buffer.toString('base64');
}

/** The text a chat-completions request carries: every message's text (system/developer included), newline-joined. */
export function openAIRequestText(body: unknown): string {
  if (!isRecord(body) || !Array.isArray(body.messages)) return '';
  const texts: string[] = [];
  for (const message of body.messages) {
    if (!isRecord(message)) continue;
    const content = contentText(message.content);
    if (content) texts.push(content);
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (isRecord(call) && isRecord(call.function)) texts.push(`${String(call.function.name)} ${String(call.function.arguments)}`);
      }
    }
  }
  return texts.join('\n');
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : isRecord(part) && typeof part.refusal === 'string' ? part.refusal : ''))
    .filter(Boolean)
    .join('\n');
}

function streamFrames(prepared: PreparedReply, model: string, usage: TokenCounts, includeUsage: boolean): StreamFrames {
  const base = {
    id: randomId('chatcmpl-', 29),
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    service_tier: 'default',
    system_fingerprint: fingerprint(),
  };
  // With include_usage every chunk carries `usage: null` except the final, choice-less usage chunk.
  const chunk = (choices: unknown[]): Record<string, unknown> => ({ ...base, choices, ...(includeUsage ? { usage: null } : {}) });
  const { byteSplit } = prepared.reply;
  return {
    opening: [sseFrame({ build: () => chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]) })],
    delta: (text) =>
      sseFrame({ text, byteSplit, build: (slot) => chunk([{ index: 0, delta: { content: slot }, logprobs: null, finish_reason: null }]) }),
    closing: () => {
      const frames = [sseFrame({ build: () => chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]) })];
      if (includeUsage) frames.push(sseFrame({ build: () => ({ ...base, choices: [], usage: usageBlock(usage) }) }));
      frames.push([Buffer.from('data: [DONE]\n\n', 'utf8')]);
      return frames;
    },
    streamError: (message) => sseFrame({ build: () => errorBody(500, message ?? defaultMessage(500, model)) }),
  };
}

function completion(model: string, text: string, usage: TokenCounts): Record<string, unknown> {
  return {
    id: randomId('chatcmpl-', 29),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: usageBlock(usage),
    service_tier: 'default',
    system_fingerprint: fingerprint(),
  };
}

function usageBlock(usage: TokenCounts): Record<string, unknown> {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** OpenAI's error body for a status, with realistic `type`/`code` values. */
export function errorBody(status: number, message: string, overrides: { type?: string; code?: string | null; param?: string | null } = {}): OpenAIErrorBody {
  let type = 'invalid_request_error';
  let code: string | null = null;
  if (status === 401) code = 'invalid_api_key';
  else if (status === 403) type = 'request_forbidden';
  else if (status === 429) {
    type = 'requests';
    code = 'rate_limit_exceeded';
  } else if (status >= 500) type = 'server_error';
  return { error: { message, type: overrides.type ?? type, param: overrides.param ?? null, code: overrides.code === undefined ? code : overrides.code } };
}

function sendError(
  channel: ResponseChannel,
  status: number,
  message: string,
  overrides: { type?: string; code?: string | null; param?: string | null } = {},
  headers: OutgoingHttpHeaders = {},
): void {
  channel.json(status, errorBody(status, message, overrides), { ...responseHeaders(), ...headers });
}

function defaultMessage(status: number, model: string, retryAfterSeconds?: number): string {
  switch (status) {
    case 401:
      return 'Incorrect API key provided: test. You can find your API key at https://platform.openai.com/account/api-keys.';
    case 403:
      return 'Country, region, or territory not supported';
    case 404:
      return `The model \`${model}\` does not exist or you do not have access to it.`;
    case 429:
      return `Rate limit reached for ${model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${retryAfterSeconds ?? 20}s.`;
    case 500:
      return 'The server had an error while processing your request. Sorry about that!';
    case 503:
      return 'The engine is currently overloaded, please try again later.';
    default:
      return status >= 500 ? 'The server had an error while processing your request.' : 'Invalid request.';
  }
}

function responseHeaders(): OutgoingHttpHeaders {
  return { 'x-request-id': randomId('req_', 32), 'openai-version': '2020-10-01', 'openai-processing-ms': '1' };
}

function fingerprint(): string {
  return `fp_${Math.floor(Math.random() * 0xffffffffff).toString(16).padStart(10, '0')}`;
}
