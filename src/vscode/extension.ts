/**
 * Ceneca's extension entry: builds the long-lived parts once and registers each command, view and provider from
 * its own module. The engine itself (src/core) knows nothing of the editor.
 */
import * as vscode from 'vscode';
import { registerChatParticipant } from './chat/participant';
import { registerApiServerCommands } from './commands/apiServer';
import { registerAskCommands } from './commands/ask';
import { registerConnectionCommands } from './commands/connections';
import { registerExportCommand } from './commands/export';
import { registerModelCommands } from './commands/model';
import { registerSqlCodeLenses } from './editor/codeLens';
import { registerGenerateHere } from './editor/generateHere';
import { registerRunQuery } from './editor/runQuery';
import { EngineHost } from './engineHost';
import { HistoryStore } from './history';
import { QuestionService } from './questionService';
import { Secrets } from './secrets';
import type { Services } from './services';
import { registerStatusBar } from './statusBar';
import { registerConnectionsView } from './views/connectionsTree';
import { registerHistoryView } from './views/historyTree';
import { SessionWebviewProvider } from './views/sessionWebview';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Ceneca', { log: true });
  const secrets = new Secrets(context.secrets);
  const engineHost = new EngineHost(secrets, log);
  const history = new HistoryStore(context.globalState);
  const questions = new QuestionService(engineHost, history, log);
  const results = new SessionWebviewProvider('results', context.extensionUri, questions, log);
  const chat = new SessionWebviewProvider('chat', context.extensionUri, questions, log);
  const services: Services = { context, log, secrets, engineHost, history, questions, results };

  context.subscriptions.push(
    log,
    engineHost,
    history,
    questions,
    results,
    chat,
    vscode.window.registerWebviewViewProvider(results.viewId, results),
    vscode.window.registerWebviewViewProvider(chat.viewId, chat),
    registerAskCommands(services),
    registerStatusBar(services),
    registerConnectionsView(services),
    registerConnectionCommands(services),
    registerModelCommands(services),
    registerHistoryView(services),
    registerExportCommand(services),
    registerSqlCodeLenses(services),
    registerGenerateHere(services),
    registerRunQuery(services),
    registerChatParticipant(services),
    registerApiServerCommands(services),
  );
  log.info('Ceneca activated');
}

export function deactivate(): void {
  // Everything is released through context.subscriptions.
}
