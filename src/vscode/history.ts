/** Past questions with their query and row count, kept in the extension's global state (newest first). */
import * as vscode from 'vscode';

export interface HistoryEntry {
  question: string;
  kind: 'question' | 'query';
  query?: string;
  rowCount?: number;
  sources: string[];
  error?: string;
  at: number;
}

const KEY = 'ceneca.history';
const LIMIT = 200;

export class HistoryStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly memento: vscode.Memento) {}

  entries(): HistoryEntry[] {
    return this.memento.get<HistoryEntry[]>(KEY, []);
  }

  /** Recent distinct questions, for the Ask input's suggestions. */
  recentQuestions(limit = 10): string[] {
    const seen = new Set<string>();
    for (const entry of this.entries()) {
      if (entry.kind === 'question' && !seen.has(entry.question)) seen.add(entry.question);
      if (seen.size >= limit) break;
    }
    return [...seen];
  }

  async add(entry: HistoryEntry): Promise<void> {
    await this.memento.update(KEY, [entry, ...this.entries()].slice(0, LIMIT));
    this.changed.fire();
  }

  async clear(): Promise<void> {
    await this.memento.update(KEY, []);
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
