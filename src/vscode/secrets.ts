/**
 * API keys and the secrets of connections (passwords, tokens, API keys), in VS Code's SecretStorage only — never
 * in settings, logs or events.
 */
import type * as vscode from 'vscode';
import { CONNECTION_SECRETS, type ConnectionSecret } from './connectionSettings';

export type KeyedProvider = 'openai' | 'anthropic';

/** Every connection secret's key starts with this (sources are rebuilt when one changes). */
export const CONNECTION_SECRET_PREFIX = 'ceneca.connection.';

export function apiKeyStorageKey(provider: KeyedProvider): string {
  return `ceneca.apiKey.${provider}`;
}

export class Secrets {
  constructor(private readonly storage: vscode.SecretStorage) {}

  get onDidChange(): vscode.Event<vscode.SecretStorageChangeEvent> {
    return this.storage.onDidChange;
  }

  apiKey(provider: KeyedProvider): Thenable<string | undefined> {
    return this.storage.get(apiKeyStorageKey(provider));
  }

  async setApiKey(provider: KeyedProvider, key: string | undefined): Promise<void> {
    if (key) await this.storage.store(apiKeyStorageKey(provider), key);
    else await this.storage.delete(apiKeyStorageKey(provider));
  }

  connectionSecret(connectionId: string, secret: ConnectionSecret): Thenable<string | undefined> {
    return this.storage.get(connectionSecretKey(connectionId, secret));
  }

  /** Stores the secret, or deletes it when `value` is empty. */
  async setConnectionSecret(connectionId: string, secret: ConnectionSecret, value: string | undefined): Promise<void> {
    if (value) await this.storage.store(connectionSecretKey(connectionId, secret), value);
    else await this.storage.delete(connectionSecretKey(connectionId, secret));
  }

  /** Every secret stored for the connection, whatever its kind (for redacting messages). */
  async connectionSecrets(connectionId: string): Promise<string[]> {
    const values = await Promise.all(CONNECTION_SECRETS.map((secret) => this.connectionSecret(connectionId, secret)));
    return values.filter((value): value is string => Boolean(value));
  }

  /** Deletes every secret of the connection: none is left behind when it is removed or renamed. */
  async deleteConnectionSecrets(connectionId: string): Promise<void> {
    for (const secret of CONNECTION_SECRETS) {
      // Only the stored ones: each delete fires onDidChange, which rebuilds the sources.
      const key = connectionSecretKey(connectionId, secret);
      if ((await this.storage.get(key)) !== undefined) await this.storage.delete(key);
    }
  }
}

/** `password` keeps the key it had when Postgres was the only kind, so stored passwords stay found. */
function connectionSecretKey(connectionId: string, secret: ConnectionSecret): string {
  return `${CONNECTION_SECRET_PREFIX}${connectionId}.${secret}`;
}
