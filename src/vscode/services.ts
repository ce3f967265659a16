/** What every command, view and provider module is given: the extension's long-lived parts. */
import type * as vscode from 'vscode';
import type { EngineHost } from './engineHost';
import type { HistoryStore } from './history';
import type { QuestionService } from './questionService';
import type { Secrets } from './secrets';

/** The results view's side of `Ceneca: Export Results…`: the rows it holds. */
export interface ResultRowsSource {
  /** The columns and rows the Results view holds, or undefined when it shows none (or is closed). */
  requestRows(format: 'csv' | 'json'): Promise<{ columns: string[]; rows: Array<Array<string | number | boolean | null>> } | undefined>;
  /** Shows the Results view. */
  reveal(): Promise<void>;
}

export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  secrets: Secrets;
  engineHost: EngineHost;
  history: HistoryStore;
  questions: QuestionService;
  results: ResultRowsSource;
}
