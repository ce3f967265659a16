/**
 * Lenses in SQL files: "Generate SQL" on each `-- ? question` comment, "Run with Ceneca" above each statement.
 * The document's shape comes from sqlComments (PostgreSQL's own lexer); the lenses refresh shortly after typing stops.
 */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { outlineSql } from '../sqlComments';

/** Quiet time after the last keystroke before the lenses are worked out again. */
const REFRESH_DEBOUNCE_MS = 300;
/** Beyond this size (a data dump, say) a file gets no lenses: lexing it on every pause would cost too much. */
const MAX_DOCUMENT_LENGTH = 2_000_000;

export function registerSqlCodeLenses(_services: Services): vscode.Disposable {
  const provider = new SqlCodeLensProvider();
  return vscode.Disposable.from(provider, vscode.languages.registerCodeLensProvider({ language: 'sql' }, provider));
}

class SqlCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private refreshTimer?: NodeJS.Timeout;
  private readonly subscription = vscode.workspace.onDidChangeTextDocument((e) => {
    if (e.document.languageId === 'sql' && e.contentChanges.length > 0) this.refreshSoon();
  });

  async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    const text = document.getText();
    if (text.length > MAX_DOCUMENT_LENGTH) return [];
    const outline = await outlineSql(text);
    if (token.isCancellationRequested) return [];
    const lenses: vscode.CodeLens[] = [];
    for (const comment of outline.questions) {
      lenses.push(
        new vscode.CodeLens(document.lineAt(comment.line).range, {
          title: '$(sparkle) Generate SQL',
          tooltip: `Ask Ceneca: ${comment.question}`,
          command: 'ceneca.generateSqlForComment',
          arguments: [document.uri, comment.line],
        }),
      );
    }
    for (const statement of outline.statements) {
      const range = new vscode.Range(document.positionAt(statement.start), document.positionAt(statement.end));
      lenses.push(
        new vscode.CodeLens(new vscode.Range(range.start, range.start), {
          title: '$(play) Run with Ceneca',
          tooltip: 'Run this statement read-only and show the result in the Ceneca sidebar',
          command: 'ceneca.runStatement',
          arguments: [document.uri, range],
        }),
      );
    }
    return lenses;
  }

  private refreshSoon(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.changed.fire();
    }, REFRESH_DEBOUNCE_MS);
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.subscription.dispose();
    this.changed.dispose();
  }
}
