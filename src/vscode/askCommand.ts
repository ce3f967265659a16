/** `Ceneca: Ask a Question…` — runs the engine and writes its stream to the Ceneca output channel. */
import { Writable } from 'node:stream';
import * as vscode from 'vscode';
import { followSession } from '../cli/follow';
import { humanRenderer } from '../cli/render';
import { loadConfig } from '../core/config';
import { Engine } from '../core/engine';
import { createProvider, createSources } from '../core/setup';

export function registerAskCommand(channel: vscode.OutputChannel): vscode.Disposable {
  let engine: Engine | undefined;
  const command = vscode.commands.registerCommand('ceneca.ask', async () => {
    const question = await vscode.window.showInputBox({ prompt: 'Ask a question about your data', placeHolder: 'top 10 customers by revenue' });
    if (!question) return;
    const config = loadConfig(process.env);
    if (!config.provider) {
      void vscode.window.showErrorMessage(`Ceneca: ${config.providerProblem}`);
      return;
    }
    engine ??= new Engine({ sources: createSources(config), llm: createProvider(config.provider), settings: config.settings });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        channel.append(chunk.toString('utf8'));
        callback();
      },
    });
    channel.show(true);
    channel.appendLine(`\n> ${question}`);
    const started = engine.ask({ question });
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Ceneca', cancellable: true },
      async (_progress, token) => {
        token.onCancellationRequested(() => started.session.cancel());
        await followSession(started.session, humanRenderer({ out: sink, err: sink, interactive: false }));
      },
    );
  });
  return vscode.Disposable.from(command, { dispose: () => void engine?.close() });
}
