/**
 * `Ceneca: Start Local API Server` / `Stop Local API Server`: the same HTTP API as `ceneca serve` (src/server),
 * run inside the extension host on the editor's own connections, secrets and model, so a browser tab, curl or
 * another editor can ask questions too. Loopback only; the bearer token is new at every start and shown once.
 */
import * as vscode from 'vscode';
import { Engine } from '../../core/engine';
import type { EngineContext } from '../../core/pipeline/single';
import { SessionManager } from '../../core/session/manager';
import { MemorySessionStore } from '../../core/session/store';
import { generateToken } from '../../server/auth';
import { createApiServer, type ApiServer } from '../../server/server';
import { ModelSetupNeeded } from '../engineHost';
import type { Services } from '../services';

interface Running {
  server: ApiServer;
  manager: SessionManager;
  store: MemorySessionStore;
  stopFollowing: vscode.Disposable;
}

export function registerApiServerCommands(services: Services): vscode.Disposable {
  const controller = new ApiServerController(services);
  return vscode.Disposable.from(
    controller,
    vscode.commands.registerCommand('ceneca.startApiServer', () => controller.start()),
    vscode.commands.registerCommand('ceneca.stopApiServer', () => controller.stop()),
  );
}

class ApiServerController implements vscode.Disposable {
  private running?: Running;
  private starting = false;

  constructor(private readonly services: Services) {}

  async start(): Promise<void> {
    if (this.running) {
      const choice = await vscode.window.showInformationMessage(`Ceneca: the API server is already running at ${this.running.server.url}.`, 'Restart (new token)', 'Stop');
      if (choice === 'Stop') await this.stop();
      if (choice !== 'Restart (new token)') return;
      await this.stop();
    }
    if (this.starting) return;
    this.starting = true;
    try {
      await this.startServer();
    } finally {
      this.starting = false;
    }
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) {
      void vscode.window.showInformationMessage('Ceneca: the API server is not running.');
      return;
    }
    this.running = undefined;
    running.stopFollowing.dispose();
    await running.server.close();
    await running.manager.close('the API server was stopped');
    await running.store.close();
    this.services.log.info('API server stopped');
    void vscode.window.showInformationMessage('Ceneca: the API server has stopped.');
  }

  dispose(): void {
    const running = this.running;
    this.running = undefined;
    if (!running) return;
    running.stopFollowing.dispose();
    void running.server.close().then(() => running.manager.close('the editor is closing'));
  }

  private async startServer(): Promise<void> {
    const { engineHost, log } = this.services;
    const settings = engineHost.settings;
    let context: EngineContext;
    try {
      // A live context: sources and settings are read per question, the model is swapped when it changes.
      const llm = await engineHost.model(settings);
      context = {
        get sources() {
          return engineHost.getSources();
        },
        llm,
        get settings() {
          return engineHost.settings.engine;
        },
      };
    } catch (error) {
      if (error instanceof ModelSetupNeeded) {
        const picked = await vscode.window.showErrorMessage(`Ceneca: ${error.message}`, ...error.actions.map((a) => a.title));
        const action = error.actions.find((a) => a.title === picked);
        if (action) await vscode.commands.executeCommand(action.command);
        return;
      }
      throw error;
    }
    const store = new MemorySessionStore();
    const manager = new SessionManager(store, {
      maxRunning: settings.server.maxRunning,
      sessionDefaults: { timeoutMs: settings.sessionTimeoutMs },
    });
    const token = generateToken();
    let server: ApiServer;
    try {
      server = await createApiServer({ engine: new Engine(context, manager), manager, store, token, port: settings.server.port, log: (line) => log.warn(line) });
    } catch (error) {
      await manager.close();
      const message = error instanceof Error ? error.message : String(error);
      const inUse = /EADDRINUSE/.test(message) ? ` Port ${settings.server.port} is in use: change "ceneca.server.port" (0 picks a free port).` : '';
      void vscode.window.showErrorMessage(`Ceneca: the API server could not start: ${message}.${inUse}`);
      return;
    }
    const stopFollowing = engineHost.onDidChange(async () => {
      try {
        context.llm = await engineHost.model();
      } catch (error) {
        log.warn(`API server: keeping the previous model (${error instanceof Error ? error.message : String(error)})`);
      }
    });
    this.running = { server, manager, store, stopFollowing };
    log.info(`API server listening on ${server.url} (the token was shown once)`);
    await this.announce(server.url, token);
  }

  /** The token appears once, in this notification; it is never logged or stored. */
  private async announce(url: string, token: string): Promise<void> {
    const copyToken = 'Copy Token';
    const copyCurl = 'Copy curl Example';
    const choice = await vscode.window.showInformationMessage(`Ceneca API listening on ${url}. Token (shown once): ${token}`, copyToken, copyCurl);
    if (choice === copyToken) await vscode.env.clipboard.writeText(token);
    else if (choice === copyCurl) await vscode.env.clipboard.writeText(curlExample(url, token));
    if (choice) vscode.window.setStatusBarMessage('Ceneca: copied to the clipboard', 2000);
  }
}

export function curlExample(url: string, token: string): string {
  return `curl -N -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"question":"How many customers are there?"}' ${url}/query/stream`;
}
