/** Any OpenAI-compatible chat-completions server (OpenAI, Azure, Ollama, LM Studio, vLLM) through the `openai` SDK. */
import OpenAI from 'openai';
import { toLlmError, type CompletionChunk, type CompletionRequest, type LlmProvider } from './provider';

export interface OpenAIProviderOptions {
  apiKey: string;
  model: string;
  baseURL?: string;
  timeoutMs?: number;
}

export class OpenAIProvider implements LlmProvider {
  readonly name = 'openai';
  readonly model: string;
  private readonly client: OpenAI;

  constructor(options: OpenAIProviderOptions) {
    this.model = options.model;
    // Retries are the engine's (only before the first token), so the SDK's own are off.
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, timeout: options.timeoutMs ?? 120_000 });
  }

  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk> {
    try {
      const stream = await this.client.chat.completions.create(
        {
          model: this.model,
          stream: true,
          stream_options: { include_usage: true },
          max_tokens: request.maxTokens,
          temperature: request.temperature,
          messages: [{ role: 'system', content: request.system }, ...request.messages],
        },
        { signal },
      );
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) yield { kind: 'text', text };
        if (chunk.usage) {
          yield { kind: 'usage', usage: { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens } };
        }
      }
    } catch (error) {
      throw toLlmError(error, 'OpenAI-compatible model', signal);
    }
  }
}
