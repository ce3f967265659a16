/** A status-bar item while a question runs (click to cancel), and the `ceneca.running` context key for menus. */
import * as vscode from 'vscode';
import type { Services } from './services';

export function registerStatusBar({ questions }: Services): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('ceneca.running', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Ceneca';
  item.command = 'ceneca.cancel';
  const update = (): void => {
    const running = questions.running;
    void vscode.commands.executeCommand('setContext', 'ceneca.running', running.length > 0);
    if (running.length === 0) {
      item.hide();
      return;
    }
    const latest = running[running.length - 1]!;
    item.text = `$(sync~spin) Ceneca: ${latest.question.replace(/\s+/g, ' ').slice(0, 40)}${running.length > 1 ? ` (+${running.length - 1})` : ''}`;
    item.tooltip = `Running: ${latest.question}\nClick to cancel`;
    item.show();
  };
  return vscode.Disposable.from(item, questions.onDidStart(update), questions.onDidEnd(update));
}
