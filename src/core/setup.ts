/** Builds the engine's parts from configuration: the model provider and one source per connection. */
import type { CenecaConfig, ConnectionConfig, ProviderConfig } from './config';
import { AnthropicProvider } from './llm/anthropic';
import { OpenAIProvider } from './llm/openai';
import type { LlmProvider } from './llm/provider';
import { createDemoSource } from './sources/embedded-demo';
import { MongoSource } from './sources/mongodb';
import { PostgresSource } from './sources/postgres';
import { QdrantSource } from './sources/qdrant';
import { SlackSource } from './sources/slack';
import type { DataSource } from './sources/source';

export function createProvider(config: ProviderConfig): LlmProvider {
  return config.provider === 'anthropic' ? new AnthropicProvider(config) : new OpenAIProvider(config);
}

export function createSource(connection: ConnectionConfig): DataSource {
  switch (connection.kind) {
    case 'postgres':
      return new PostgresSource({ id: connection.id, name: connection.name, connection: connection.url, statementTimeoutMs: connection.statementTimeoutMs });
    case 'mongodb':
      return new MongoSource({ id: connection.id, name: connection.name, url: connection.url, database: connection.database });
    case 'qdrant':
      // loadConfig has filled in the embedding defaults; the source has its own for a connection built elsewhere.
      return new QdrantSource({ id: connection.id, name: connection.name, url: connection.url, apiKey: connection.apiKey, embeddings: connection.embeddings });
    case 'slack':
      return new SlackSource({ id: connection.id, name: connection.name, token: connection.token, slackApiUrl: connection.slackApiUrl });
  }
}

/** The configured sources; the embedded demo database only when nothing else is configured. */
export function createSources(config: CenecaConfig): DataSource[] {
  return config.connections.length > 0 ? config.connections.map(createSource) : [createDemoSource()];
}
