/**
 * Add, Edit, Remove and Test Connection, and Refresh Schema. Connections live in `ceneca.connections` (user
 * settings); their passwords, tokens and API keys only ever in SecretStorage. Each command works from a Connections
 * view item or, from the Command Palette, asks which connection.
 */
import * as vscode from 'vscode';
import type { DataSource } from '../../core/sources/source';
import { redactSecrets } from '../connectionForm';
import { describeConnection } from '../connectionSettings';
import type { Services } from '../services';
import { readSettings, saveConnection, type ConnectionSecret, type ConnectionSetting } from '../settings';
import { isConnectionNode } from '../views/connectionsTree';
import { askConnection, type ConnectionFormResult } from './connectionInput';

/** A remote database answers a ping within seconds or not at all. */
const PING_TIMEOUT_MS = 20_000;
/** The embedded demo database starts PGlite on first use (4–7 s, more on a slow machine). */
const DEMO_PING_TIMEOUT_MS = 60_000;

const TEST_CONNECTION = 'Test Connection';

/** What removing a connection deletes from SecretStorage, for the confirmation. */
const SECRETS_NOUN: Readonly<Record<ConnectionSetting['kind'], string>> = { postgres: 'password is', mongodb: 'password is', qdrant: 'API keys are', slack: 'token is' };

export function registerConnectionCommands(services: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('ceneca.addConnection', () => addConnection(services)),
    vscode.commands.registerCommand('ceneca.editConnection', (target?: unknown) => editConnection(services, target)),
    vscode.commands.registerCommand('ceneca.removeConnection', (target?: unknown) => removeConnection(services, target)),
    vscode.commands.registerCommand('ceneca.testConnection', (target?: unknown) => testConnection(services, target)),
    vscode.commands.registerCommand('ceneca.refreshSchema', (target?: unknown) => refreshSchema(services, target)),
  );
}

async function addConnection(services: Services): Promise<void> {
  const existing = readSettings().connections;
  const form = await askConnection({ takenIds: existing.map((c) => c.id) });
  if (!form) return;
  const { id } = form.setting;
  // The secrets first: the settings change rebuilds the sources, which then find them. Whatever an earlier
  // connection of this id left behind goes first.
  await services.secrets.deleteConnectionSecrets(id);
  await saveSecrets(services, undefined, form);
  await saveConnection(undefined, form.setting);
  services.log.info(`connection ${id} (${form.setting.kind}) added`);
  const replacesDemo = existing.length === 0 ? ' Questions now go to it instead of the demo database.' : '';
  await offerTest(`Ceneca: connection "${id}" saved.${replacesDemo}`, id);
}

async function editConnection(services: Services, target: unknown): Promise<void> {
  const existing = readSettings().connections;
  const initial = await chooseConfigured(existing, target, 'Which connection do you want to edit?');
  if (!initial) return;
  const form = await askConnection({ initial, takenIds: existing.filter((c) => c !== initial).map((c) => c.id) });
  if (!form) return;
  const renamed = form.setting.id !== initial.id;
  if (renamed) await services.secrets.deleteConnectionSecrets(form.setting.id);
  await saveSecrets(services, initial.id, form);
  await saveConnection(initial.id, form.setting);
  // A renamed connection's secrets moved to the new id above; the old entries would be orphans.
  if (renamed) await services.secrets.deleteConnectionSecrets(initial.id);
  services.log.info(`connection ${initial.id} edited${renamed ? ` (now ${form.setting.id})` : ''}`);
  await offerTest(`Ceneca: connection "${form.setting.id}" saved.`, form.setting.id);
}

/** Applies the form's choice for each secret under the (possibly new) id; a kept one moves along on a rename. */
async function saveSecrets(services: Services, previousId: string | undefined, form: ConnectionFormResult): Promise<void> {
  const id = form.setting.id;
  for (const [secret, change] of Object.entries(form.secrets) as Array<[ConnectionSecret, ConnectionFormResult['secrets'][ConnectionSecret]]>) {
    if (change === undefined) continue;
    if (typeof change === 'object') await services.secrets.setConnectionSecret(id, secret, change.set);
    else if (change === 'remove') await services.secrets.setConnectionSecret(id, secret, undefined);
    else if (previousId !== undefined && previousId !== id) await services.secrets.setConnectionSecret(id, secret, await services.secrets.connectionSecret(previousId, secret));
  }
}

async function removeConnection(services: Services, target: unknown): Promise<void> {
  const existing = readSettings().connections;
  const connection = await chooseConfigured(existing, target, 'Which connection do you want to remove?');
  if (!connection) return;
  const last = existing.length === 1 ? ' With none left, questions go to the embedded demo database.' : '';
  const confirmed = await vscode.window.showWarningMessage(
    `Remove the connection "${connection.name ?? connection.id}"?`,
    { modal: true, detail: `Its saved ${SECRETS_NOUN[connection.kind]} deleted from SecretStorage too.${last}` },
    'Remove',
  );
  if (confirmed !== 'Remove') return;
  await saveConnection(connection.id, undefined);
  await services.secrets.deleteConnectionSecrets(connection.id);
  services.log.info(`connection ${connection.id} removed`);
}

async function testConnection(services: Services, target: unknown): Promise<void> {
  const source = await chooseSource(services, target, 'Which connection do you want to test?');
  if (!source) return;
  const configured = readSettings().connections.some((c) => c.id === source.id);
  const timeoutMs = configured ? PING_TIMEOUT_MS : DEMO_PING_TIMEOUT_MS;
  const started = Date.now();
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Ceneca: connecting to "${source.name}"…`, cancellable: true },
      (_progress, token) => withAbort(token, timeoutMs, (signal) => source.ping(signal)),
    );
  } catch (error) {
    if (error instanceof Cancelled) return;
    const message = await safeMessage(services, source.id, error);
    services.log.warn(`test connection ${source.id}: ${message}`);
    const actions = configured ? ['Edit Connection…'] : [];
    const choice = await vscode.window.showErrorMessage(`Ceneca: could not connect to "${source.name}": ${message}`, ...actions);
    if (choice) await vscode.commands.executeCommand('ceneca.editConnection', source.id);
    return;
  }
  services.log.info(`test connection ${source.id}: ok`);
  const connected = `Ceneca: connected to "${source.name}" (${Date.now() - started} ms)`;
  const warning = await source.privilegeWarning?.().catch(() => undefined);
  if (warning) {
    services.log.warn(`test connection ${source.id}: ${warning}`);
    void vscode.window.showWarningMessage(`${connected}, but ${warning}.`);
  } else {
    void vscode.window.showInformationMessage(`${connected}.`);
  }
}

async function refreshSchema(services: Services, target: unknown): Promise<void> {
  // From the view title (no target) every source is refreshed; from an item or a palette pick, that one.
  const sources = target === undefined ? services.engineHost.getSources() : [await chooseSource(services, target, 'Refresh which schema?')].filter(isSource);
  if (sources.length === 0) return;
  const failures: string[] = [];
  let tableCount = 0;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Ceneca: refreshing the schema', cancellable: true },
    async (progress, token) => {
      for (const [index, source] of sources.entries()) {
        if (token.isCancellationRequested) break;
        let reported = 0;
        progress.report({ message: source.name });
        try {
          const snapshot = await withAbort(token, undefined, (signal) =>
            source.introspect({
              refresh: true,
              signal,
              onProgress: (fraction) => {
                // Each source gets an equal share of the bar.
                const done = ((index + fraction) / sources.length) * 100;
                progress.report({ increment: Math.max(0, done - reported) });
                reported = Math.max(reported, done);
              },
            }),
          );
          tableCount += snapshot.tables.length;
        } catch (error) {
          if (error instanceof Cancelled) break;
          failures.push(`${source.name}: ${await safeMessage(services, source.id, error)}`);
        }
      }
    },
  );
  // Views read the (now refreshed) cached schemas again; the sources themselves are unchanged.
  services.engineHost.invalidate(false);
  if (failures.length > 0) {
    services.log.warn(`refresh schema: ${failures.join('; ')}`);
    void vscode.window.showErrorMessage(`Ceneca: could not refresh the schema of ${failures.join('; ')}`);
  } else {
    vscode.window.setStatusBarMessage(`Ceneca: schema refreshed (${tableCount} ${tableCount === 1 ? 'table' : 'tables'})`, 4000);
  }
}

async function offerTest(message: string, id: string): Promise<void> {
  const choice = await vscode.window.showInformationMessage(message, TEST_CONNECTION);
  if (choice === TEST_CONNECTION) await vscode.commands.executeCommand('ceneca.testConnection', id);
}

/** The configured connection the command is for: the view item's, an id passed along, or the user's pick. */
async function chooseConfigured(existing: ConnectionSetting[], target: unknown, placeHolder: string): Promise<ConnectionSetting | undefined> {
  const id = targetId(target);
  if (id !== undefined) {
    const found = existing.find((c) => c.id === id);
    if (!found) void vscode.window.showWarningMessage(`Ceneca: "${id}" is not a configured connection.`);
    return found;
  }
  if (existing.length === 0) {
    const add = await vscode.window.showInformationMessage('Ceneca: no connection is configured (questions go to the embedded demo database).', 'Add Connection…');
    if (add) await vscode.commands.executeCommand('ceneca.addConnection');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    existing.map((connection) => ({ label: connection.name ?? connection.id, description: describeConnection(connection), connection })),
    { placeHolder },
  );
  return picked?.connection;
}

/** The live source the command is for (the demo database included): the view item's, an id, or a pick. */
async function chooseSource(services: Services, target: unknown, placeHolder: string): Promise<DataSource | undefined> {
  const sources = services.engineHost.getSources();
  const id = targetId(target);
  if (id !== undefined) {
    // Looked up again by id: a view item may hold a source replaced since by a settings change.
    const found = sources.find((s) => s.id === id);
    if (!found) void vscode.window.showWarningMessage(`Ceneca: there is no connection "${id}".`);
    return found;
  }
  if (sources.length === 1) return sources[0];
  const picked = await vscode.window.showQuickPick(
    sources.map((source) => ({ label: source.name, description: source.id, source })),
    { placeHolder },
  );
  return picked?.source;
}

function targetId(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (isConnectionNode(target)) return target.source.id;
  return undefined;
}

function isSource(value: DataSource | undefined): value is DataSource {
  return value !== undefined;
}

/** The user cancelled the progress notification. */
class Cancelled extends Error {}

/**
 * Runs `work` with a signal aborted by the notification's Cancel or by the timeout, and stops waiting for it at
 * that moment: a driver that ignores the signal cannot keep the notification open.
 */
async function withAbort<T>(token: vscode.CancellationToken, timeoutMs: number | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const subscriptions: vscode.Disposable[] = [];
  const stopped = new Promise<never>((_, reject) => {
    const stop = (reason: Error): void => {
      controller.abort(reason);
      reject(reason);
    };
    subscriptions.push(token.onCancellationRequested(() => stop(new Cancelled('cancelled'))));
    if (timeoutMs !== undefined) {
      const timer = setTimeout(() => stop(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      subscriptions.push({ dispose: () => clearTimeout(timer) });
    }
  });
  try {
    return await Promise.race([work(controller.signal), stopped]);
  } finally {
    for (const subscription of subscriptions) subscription.dispose();
  }
}

/**
 * An error's text with the connection's secrets (and any password in a URL, any Slack token) blanked out. The
 * OpenAI key too: a Qdrant connection's embeddings may use it.
 */
async function safeMessage(services: Services, sourceId: string, error: unknown): Promise<string> {
  const text = error instanceof Error ? error.message : String(error);
  return redactSecrets(text, [...(await services.secrets.connectionSecrets(sourceId)), await services.secrets.apiKey('openai')]);
}
