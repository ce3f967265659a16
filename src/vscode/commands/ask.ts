/** `Ceneca: Ask a Question…` (with recent questions), `Ceneca: Cancel` and `Ceneca: Show Results`. */
import * as vscode from 'vscode';
import { runQuickPick } from '../quickPick';
import { streamQueryIntoNewDocument } from '../editor/queryDocument';
import type { Services } from '../services';

export function registerAskCommands(services: Services): vscode.Disposable {
  const { questions, history, results } = services;
  return vscode.Disposable.from(
    vscode.commands.registerCommand('ceneca.ask', async (questionArgument?: unknown) => {
      const question = typeof questionArgument === 'string' && questionArgument.trim() ? questionArgument : await pickQuestion(history.recentQuestions());
      if (!question) return;
      const record = await questions.ask(question);
      if (!record) return;
      await results.reveal();
      await streamQueryIntoNewDocument(record);
    }),
    vscode.commands.registerCommand('ceneca.cancel', (sessionId?: unknown) => questions.cancel(typeof sessionId === 'string' ? sessionId : undefined)),
    vscode.commands.registerCommand('ceneca.showResults', () => results.reveal()),
  );
}

/** An input box that also offers recent questions: type a new one, or pick one to ask again. */
function pickQuestion(recent: string[]): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick();
  pick.title = 'Ceneca: Ask a Question';
  pick.placeholder = 'Ask about your data, e.g. "top 10 customers by revenue this quarter"';
  pick.matchOnDescription = true;
  const recentItems = recent.map((label) => ({ label, description: 'recent' }));
  pick.items = recentItems;
  pick.onDidChangeValue((value) => {
    const typed = value.trim();
    pick.items = typed ? [{ label: typed, description: 'ask' }, ...recentItems.filter((i) => i.label !== typed)] : recentItems;
  });
  return runQuickPick(pick, { accept: (p) => p.selectedItems[0]?.label ?? (p.value.trim() || undefined) });
}
