/**
 * Minimal extension entry: one command that asks a question and streams the answer into an output channel.
 * The full editor UI (sidebar, SQL streaming into editors, chat) is built on this in a later issue.
 */
import * as vscode from 'vscode';
import { registerAskCommand } from './askCommand';

export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Ceneca');
  context.subscriptions.push(channel, registerAskCommand(channel));
}

export function deactivate(): void {
  // Sessions and database pools are released by the disposables registered in activate.
}
