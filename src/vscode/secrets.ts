/** API keys and connection passwords, in VS Code's SecretStorage only — never in settings, logs or events. */
import type * as vscode from 'vscode';

export type KeyedProvider = 'openai' | 'anthropic';

export class Secrets {
  constructor(private readonly storage: vscode.SecretStorage) {}

  get onDidChange(): vscode.Event<vscode.SecretStorageChangeEvent> {
    return this.storage.onDidChange;
  }

  apiKey(provider: KeyedProvider): Thenable<string | undefined> {
    return this.storage.get(`ceneca.apiKey.${provider}`);
  }

  async setApiKey(provider: KeyedProvider, key: string | undefined): Promise<void> {
    if (key) await this.storage.store(`ceneca.apiKey.${provider}`, key);
    else await this.storage.delete(`ceneca.apiKey.${provider}`);
  }

  password(connectionId: string): Thenable<string | undefined> {
    return this.storage.get(`ceneca.connection.${connectionId}.password`);
  }

  async setPassword(connectionId: string, password: string | undefined): Promise<void> {
    if (password) await this.storage.store(`ceneca.connection.${connectionId}.password`, password);
    else await this.storage.delete(`ceneca.connection.${connectionId}.password`);
  }
}
