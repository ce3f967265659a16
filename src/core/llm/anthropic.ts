/** Anthropic's messages API through `@anthropic-ai/sdk`, streaming. */
import Anthropic from '@anthropic-ai/sdk';
import { toLlmError, type CompletionChunk, type CompletionRequest, type LlmProvider } from './provider';

export interface AnthropicProviderOptions {
  apiKey: string;
  model: string;
  baseURL?: string;
  timeoutMs?: number;
}

export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic';
  readonly model: string;
  private readonly client: Anthropic;

  constructor(options: AnthropicProviderOptions) {
    this.model = options.model;
    this.client = new Anthropic({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, timeout: options.timeoutMs ?? 120_000 });
  }

  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk> {
    let inputTokens = 0;
    try {
      const stream = await this.client.messages.create(
        {
          model: this.model,
          stream: true,
          max_tokens: request.maxTokens ?? 2048,
          system: request.system,
          messages: request.messages,
        },
        { signal },
      );
      for await (const event of stream) {
        if (event.type === 'message_start') inputTokens = event.message.usage.input_tokens;
        else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') yield { kind: 'text', text: event.delta.text };
        else if (event.type === 'message_delta') yield { kind: 'usage', usage: { inputTokens, outputTokens: event.usage.output_tokens } };
      }
    } catch (error) {
      throw toLlmError(error, 'Anthropic', signal);
    }
  }
}
