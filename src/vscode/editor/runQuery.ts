/**
 * `Ceneca: Run Query with Ceneca` (the selection, else the statement around the cursor, else the whole document)
 * and the "Run with Ceneca" lens: runs the SQL read-only through the engine and shows the result in the sidebar.
 */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { findSqlStatements, statementAt } from '../sqlComments';

export function registerRunQuery(services: Services): vscode.Disposable {
  const runner = new QueryRunner(services);
  return vscode.Disposable.from(
    vscode.commands.registerCommand('ceneca.runQuery', () => runner.runFromActiveEditor()),
    vscode.commands.registerCommand('ceneca.runStatement', (uri: unknown, range: unknown) => runner.runStatement(uri, range)),
  );
}

class QueryRunner {
  /** The source last picked, offered first next time. */
  private lastSourceId?: string;

  constructor(private readonly services: Services) {}

  async runFromActiveEditor(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('Ceneca: open a SQL file, and select a query or put the cursor in one.');
      return;
    }
    await this.run(await sqlAtCursor(editor));
  }

  async runStatement(uri: unknown, range: unknown): Promise<void> {
    if (!(uri instanceof vscode.Uri) || !(range instanceof vscode.Range)) return;
    const document = await vscode.workspace.openTextDocument(uri);
    // The lens may be older than the text: take the statement that now starts where the lens points.
    const text = document.getText();
    const current = statementAt(text, await findSqlStatements(text), document.offsetAt(range.start));
    await this.run(current ? text.slice(current.start, current.end) : document.getText(range));
  }

  private async run(sql: string): Promise<void> {
    if (!sql.trim()) {
      void vscode.window.showInformationMessage('Ceneca: there is no SQL to run here.');
      return;
    }
    const source = await this.pickSource();
    if (!source) return;
    const record = await this.services.questions.runQuery(sql, source.id);
    if (record) await this.services.results.reveal();
  }

  /** Which source runs the query: asked only when several are configured. Undefined when the user dismissed the pick. */
  private async pickSource(): Promise<{ id?: string } | undefined> {
    const sources = this.services.engineHost.getSources();
    if (sources.length <= 1) return { id: sources[0]?.id };
    const items = sources
      .map((source) => ({ label: source.name, description: source.name === source.id ? source.kind : `${source.id} · ${source.kind}`, id: source.id }))
      .sort((a, b) => Number(b.id === this.lastSourceId) - Number(a.id === this.lastSourceId));
    const picked = await vscode.window.showQuickPick(items, { title: 'Ceneca: Run the query on which source?', placeHolder: 'Choose a connection' });
    if (!picked) return undefined;
    this.lastSourceId = picked.id;
    return { id: picked.id };
  }
}

/** The selection, else the statement around the cursor, else the whole document. */
async function sqlAtCursor(editor: vscode.TextEditor): Promise<string> {
  const { document, selection } = editor;
  if (!selection.isEmpty) return document.getText(selection);
  const text = document.getText();
  const around = statementAt(text, await findSqlStatements(text), document.offsetAt(selection.active));
  return around ? text.slice(around.start, around.end) : text;
}
