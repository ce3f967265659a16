/**
 * A loopback stand-in for Anthropic's messages API (`POST /v1/messages`), speaking its real wire format: named SSE
 * events (message_start, content_block_start, ping, content_block_delta…, content_block_stop, message_delta,
 * message_stop), `{"type":"error","error":{…}}` bodies for HTTP errors, and `event: error` for an error mid-stream.
 * The real `@anthropic-ai/sdk` talks to it via `baseURL` (the SDK appends `/v1/messages`).
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

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id: string;
}

export class AnthropicStandIn extends StandInServer {
  constructor(script: ScriptedReply[] = []) {
    super(script);
  }

  /** `http://127.0.0.1:PORT`, as the `@anthropic-ai/sdk` `baseURL` (it appends `/v1/messages`). */
  get baseURL(): string {
    return this.origin;
  }

  protected requestText(body: unknown): string {
    return anthropicRequestText(body);
  }

  protected async handle(call: IncomingCall): Promise<void> {
    const { channel, record } = call;
    if (call.method !== 'POST' || call.pathname !== '/v1/messages') return sendError(channel, 404, 'Not Found');
    const body = call.body;
    if (!call.bodyIsJson || !isRecord(body)) return sendError(channel, 400, 'There was an issue with your request body: it is not valid JSON.');
    if (typeof body.model !== 'string' || !body.model) return sendError(channel, 400, 'model: Field required');
    if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
      return sendError(channel, 400, 'max_tokens: Field required');
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) return sendError(channel, 400, 'messages: at least one message is required');

    const prepared = this.script.take(record.text);
    if (!prepared) return sendError(channel, 400, noMatchMessage(record.text));

    const { reply } = prepared;
    const model = body.model;
    const usage = usageFor(reply, record.text);
    const failure = reply.failure;
    if (failure?.kind === 'http') {
      if (reply.firstByteDelayMs && !(await channel.sleep(reply.firstByteDelayMs))) return;
      const retryAfter = failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) };
      return sendError(channel, failure.status, failure.message ?? defaultMessage(failure.status), retryAfter);
    }

    if (body.stream !== true) {
      if (reply.firstByteDelayMs && !(await channel.sleep(reply.firstByteDelayMs))) return;
      if (failure?.kind === 'drop') return channel.drop();
      if (failure?.kind === 'stream-error') return sendError(channel, 529, failure.message ?? defaultMessage(529));
      return channel.json(200, message(model, reply.text, usage), responseHeaders());
    }

    await this.asStream(channel, async () => {
      if (reply.firstByteDelayMs && !(await channel.sleep(reply.firstByteDelayMs))) return;
      if (!channel.head(200, { ...responseHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })) return;
      await this.runStream(channel, prepared, streamFrames(prepared, model, usage));
    });
  }
}

/** The text a messages request carries: the system prompt, then every message's text, newline-joined. */
export function anthropicRequestText(body: unknown): string {
  if (!isRecord(body)) return '';
  const texts: string[] = [];
  const system = blocksText(body.system);
  if (system) texts.push(system);
  if (Array.isArray(body.messages)) {
    for (const entry of body.messages) {
      const text = isRecord(entry) ? blocksText(entry.content) : '';
      if (text) texts.push(text);
    }
  }
  return texts.join('\n');
}

/** A string, or content blocks: text blocks' text, tool results' content, tool calls' input as JSON. */
function blocksText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const block of content) {
    if (!isRecord(block)) continue;
    if (typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'tool_result') texts.push(blocksText(block.content));
    else if (block.type === 'tool_use') texts.push(`${String(block.name)} ${JSON.stringify(block.input)}`);
  }
  return texts.filter(Boolean).join('\n');
}

function streamFrames(prepared: PreparedReply, model: string, usage: TokenCounts): StreamFrames {
  const event = (name: string, data: Record<string, unknown>): Buffer[] => sseFrame({ event: name, build: () => ({ type: name, ...data }) });
  const { byteSplit } = prepared.reply;
  const start = {
    id: randomId('msg_01', 22),
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: usage.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1, service_tier: 'standard' },
  };
  return {
    opening: [
      event('message_start', { message: start }),
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      event('ping', {}),
    ],
    delta: (text) =>
      sseFrame({
        event: 'content_block_delta',
        text,
        byteSplit,
        build: (slot) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: slot } }),
      }),
    closing: () => [
      event('content_block_stop', { index: 0 }),
      event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.outputTokens } }),
      event('message_stop', {}),
    ],
    streamError: (text) => sseFrame({ event: 'error', build: () => ({ type: 'error', error: { type: 'overloaded_error', message: text ?? 'Overloaded' } }) }),
  };
}

function message(model: string, text: string, usage: TokenCounts): Record<string, unknown> {
  return {
    id: randomId('msg_01', 22),
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: usage.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: usage.outputTokens,
      service_tier: 'standard',
    },
  };
}

/** Anthropic's error `type` for an HTTP status. */
export function errorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export function errorBody(status: number, message: string, requestId = randomId('req_01', 22)): AnthropicErrorBody {
  return { type: 'error', error: { type: errorType(status), message }, request_id: requestId };
}

function sendError(channel: ResponseChannel, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  const requestId = randomId('req_01', 22);
  channel.json(status, errorBody(status, message, requestId), { ...responseHeaders(requestId), ...headers });
}

function defaultMessage(status: number): string {
  switch (errorType(status)) {
    case 'authentication_error':
      return 'invalid x-api-key';
    case 'permission_error':
      return 'Your API key does not have permission to use the specified resource.';
    case 'not_found_error':
      return 'Not Found';
    case 'rate_limit_error':
      return 'This request would exceed the rate limit for your organization of 50 requests per minute.';
    case 'overloaded_error':
      return 'Overloaded';
    case 'api_error':
      return 'Internal server error';
    case 'timeout_error':
      return 'Request timed out';
    default:
      return 'Invalid request';
  }
}

function responseHeaders(requestId = randomId('req_01', 22)): OutgoingHttpHeaders {
  return { 'request-id': requestId };
}
