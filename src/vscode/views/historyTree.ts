/**
 * The History view and `Ceneca: Show History`: past questions and queries, newest first, to run again as they
 * were or after an edit.
 */
import * as vscode from 'vscode';
import { runQuickPick } from '../quickPick';
import type { HistoryEntry } from '../history';
import type { Services } from '../services';
import { historyDescription, oneLine } from '../viewText';

const EDIT_BUTTON: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('edit'), tooltip: 'Edit, then run' };

export function registerHistoryView(services: Services): vscode.Disposable {
  const provider = new HistoryTreeProvider(services);
  const view = vscode.window.createTreeView('ceneca.history', { treeDataProvider: provider });
  return vscode.Disposable.from(
    view,
    provider,
    services.history.onDidChange(() => provider.refresh()),
    // Descriptions say "5 min ago": bring them up to date whenever the view comes back into sight.
    view.onDidChangeVisibility((e) => e.visible && provider.refresh()),
    vscode.commands.registerCommand('ceneca.rerunHistoryEntry', (entry?: unknown) =>
      isHistoryEntry(entry) ? rerun(services, entry) : showHistory(services),
    ),
    vscode.commands.registerCommand('ceneca.editHistoryEntry', (entry?: unknown) =>
      isHistoryEntry(entry) ? editThenRun(services, entry) : showHistory(services),
    ),
    vscode.commands.registerCommand('ceneca.showHistory', () => showHistory(services)),
  );
}

class HistoryTreeProvider implements vscode.TreeDataProvider<HistoryEntry>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly services: Services) {}

  refresh(): void {
    this.changed.fire();
  }

  getChildren(entry?: HistoryEntry): HistoryEntry[] {
    return entry ? [] : this.services.history.entries();
  }

  getTreeItem(entry: HistoryEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(oneLine(label(entry), 120), vscode.TreeItemCollapsibleState.None);
    item.description = historyDescription(entry, Date.now());
    item.tooltip = tooltip(entry);
    item.contextValue = 'historyEntry';
    item.iconPath = entry.error
      ? new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'))
      : new vscode.ThemeIcon(entry.kind === 'query' ? 'database' : 'comment-discussion');
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The question, or for a query the user ran, the query. */
function label(entry: HistoryEntry): string {
  return entry.kind === 'query' ? (entry.query ?? entry.question) : entry.question;
}

function tooltip(entry: HistoryEntry): vscode.MarkdownString {
  // appendText escapes: a question or an error message is shown as text, never as markdown or icons.
  const text = new vscode.MarkdownString(undefined, true);
  if (entry.kind === 'question') text.appendMarkdown('**').appendText(oneLine(entry.question, 300)).appendMarkdown('**\n\n');
  const facts = [new Date(entry.at).toLocaleString(), entry.sources.length > 0 ? `on ${entry.sources.join(', ')}` : undefined];
  facts.push(entry.error ? undefined : entry.rowCount !== undefined ? `${entry.rowCount.toLocaleString()} row(s)` : undefined);
  text.appendText(facts.filter(Boolean).join(' · '));
  if (entry.error) text.appendMarkdown('\n\n$(error) ').appendText(entry.error);
  const sql = entry.query ?? (entry.kind === 'query' ? entry.question : undefined);
  if (sql) text.appendMarkdown('\n\n').appendCodeblock(sql, 'sql');
  return text;
}

function isHistoryEntry(value: unknown): value is HistoryEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<HistoryEntry>;
  return typeof entry.question === 'string' && (entry.kind === 'question' || entry.kind === 'query') && typeof entry.at === 'number';
}

/** Asks the question again, or runs the query again on the same source when it still exists. */
async function rerun(services: Services, entry: HistoryEntry): Promise<void> {
  const record = entry.kind === 'query' ? await services.questions.runQuery(entry.question, sameSource(services, entry)) : await services.questions.ask(entry.question);
  if (record) await services.results.reveal();
}

/** A question is edited in an input box and asked; a query opens in a SQL editor, where Run Query runs it. */
async function editThenRun(services: Services, entry: HistoryEntry): Promise<void> {
  if (entry.kind === 'query') {
    const document = await vscode.workspace.openTextDocument({ language: 'sql', content: `${entry.question}\n` });
    await vscode.window.showTextDocument(document);
    return;
  }
  const question = await vscode.window.showInputBox({
    title: 'Edit and Run Question',
    value: entry.question,
    prompt: 'Edit the question, then press Enter to ask it.',
    ignoreFocusOut: true,
  });
  if (!question?.trim()) return;
  const record = await services.questions.ask(question);
  if (record) await services.results.reveal();
}

function sameSource(services: Services, entry: HistoryEntry): string | undefined {
  const [sourceId] = entry.sources;
  // A source removed since would make the run fail; without one, the engine picks as usual.
  return sourceId && services.engineHost.getSources().some((s) => s.id === sourceId) ? sourceId : undefined;
}

async function showHistory(services: Services): Promise<void> {
  const entries = services.history.entries();
  if (entries.length === 0) {
    const ask = 'Ask a Question…';
    const choice = await vscode.window.showInformationMessage('Ceneca: no questions yet.', ask);
    if (choice === ask) await vscode.commands.executeCommand('ceneca.ask');
    return;
  }
  const now = Date.now();
  const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { entry: HistoryEntry }>();
  pick.title = 'Ceneca History';
  pick.placeholder = 'Pick one to run it again (the pencil edits it first)';
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.items = entries.map((entry) => ({
    label: oneLine(label(entry), 120),
    description: historyDescription(entry, now),
    detail: entry.kind === 'question' && entry.query ? oneLine(entry.query, 160) : undefined,
    iconPath: new vscode.ThemeIcon(entry.error ? 'error' : entry.kind === 'query' ? 'database' : 'comment-discussion'),
    buttons: [EDIT_BUTTON],
    entry,
  }));
  const chosen = await runQuickPick(pick, {
    accept: (p): { entry: HistoryEntry; edit: boolean } | undefined => {
      const item = p.selectedItems[0];
      return item && { entry: item.entry, edit: false };
    },
    button: (e) => ({ entry: e.item.entry, edit: true }),
  });
  if (!chosen) return;
  if (chosen.edit) await editThenRun(services, chosen.entry);
  else await rerun(services, chosen.entry);
}
