/**
 * Set API Key and Choose Model. Keys go to SecretStorage only; the provider, model and server URL are user
 * settings (machine scope, so a workspace cannot point them, and with them the keys, elsewhere).
 */
import * as vscode from 'vscode';
import { runQuickPick } from '../quickPick';
import { DEFAULT_MODELS } from '../../core/config';
import type { KeyedProvider } from '../secrets';
import type { Services } from '../services';
import type { ProviderSetting } from '../settings';

const PROVIDER_NAMES: Record<KeyedProvider, string> = { openai: 'OpenAI', anthropic: 'Anthropic' };

export function registerModelCommands(services: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('ceneca.setApiKey', () => setApiKey(services)),
    vscode.commands.registerCommand('ceneca.chooseModel', () => chooseModel(services)),
  );
}

type KeyTarget = KeyedProvider | 'compatible';

async function setApiKey(services: Services): Promise<void> {
  const targets: Array<vscode.QuickPickItem & { target: KeyTarget }> = [
    { label: 'OpenAI', description: 'api.openai.com', target: 'openai' },
    { label: 'Anthropic', description: 'api.anthropic.com', target: 'anthropic' },
    { label: 'OpenAI-compatible server', description: 'URL + optional key', detail: 'Ollama, LM Studio, vLLM, Azure OpenAI…', target: 'compatible' },
  ];
  const picked = await vscode.window.showQuickPick(targets, { title: 'Set API Key', placeHolder: 'Which service?' });
  if (!picked) return;
  if (picked.target === 'compatible') await setCompatibleServer(services);
  else await setProviderKey(services, picked.target);
}

async function setProviderKey(services: Services, provider: KeyedProvider): Promise<void> {
  const name = PROVIDER_NAMES[provider];
  const key = await vscode.window.showInputBox({
    title: `${name} API Key`,
    prompt: `Paste your ${name} API key. It is kept in the editor's SecretStorage; leave empty to remove the stored key.`,
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  await services.secrets.setApiKey(provider, key.trim() || undefined);
  if (!key.trim()) {
    void vscode.window.showInformationMessage(`Ceneca: ${name} API key removed.`);
    return;
  }
  const config = vscode.workspace.getConfiguration('ceneca');
  // ceneca.llm.baseUrl redirects the provider's requests, key included: say where the key will go.
  const baseUrl = config.get<string>('llm.baseUrl', '').trim();
  if (baseUrl) {
    const useOwn = `Use ${name}'s own API`;
    const choice = await vscode.window.showWarningMessage(
      `Ceneca: ${name} API key saved, but ceneca.llm.baseUrl sends model requests (and this key) to ${baseUrl}.`,
      useOwn,
      `Keep ${baseUrl}`,
    );
    if (choice === useOwn) await config.update('llm.baseUrl', undefined, vscode.ConfigurationTarget.Global);
  }
  const active = config.get<ProviderSetting>('llm.provider', 'auto');
  if (active !== 'auto' && active !== provider) {
    const use = `Use ${name}`;
    const activeName = active === 'vscode' ? "the editor's models" : PROVIDER_NAMES[active];
    const choice = await vscode.window.showInformationMessage(`Ceneca: ${name} API key saved. Ceneca currently uses ${activeName}.`, use);
    if (choice === use) await config.update('llm.provider', provider, vscode.ConfigurationTarget.Global);
  } else if (!baseUrl) {
    void vscode.window.showInformationMessage(`Ceneca: ${name} API key saved.`);
  }
}

async function setCompatibleServer(services: Services): Promise<void> {
  const config = vscode.workspace.getConfiguration('ceneca');
  const url = await vscode.window.showInputBox({
    title: 'OpenAI-compatible Server (1/2)',
    prompt: 'The server\'s base URL (the part before /chat/completions).',
    value: config.get<string>('llm.baseUrl', '') || 'http://localhost:11434/v1',
    placeHolder: 'http://localhost:11434/v1',
    ignoreFocusOut: true,
    validateInput: baseUrlProblem,
  });
  if (url === undefined) return;
  const key = await vscode.window.showInputBox({
    title: 'OpenAI-compatible Server (2/2)',
    // Without this, a stored OpenAI key would be sent to the new server.
    prompt: 'Its API key, if it needs one. Leave empty for none: a stored OpenAI key is then removed rather than sent to this server.',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  await services.secrets.setApiKey('openai', key.trim() || undefined);
  await config.update('llm.baseUrl', url.trim(), vscode.ConfigurationTarget.Global);
  await config.update('llm.provider', 'openai', vscode.ConfigurationTarget.Global);
  const model = config.get<string>('llm.model', '');
  const choose = 'Choose Model…';
  const choice = await vscode.window.showInformationMessage(
    `Ceneca: questions now go to ${url.trim()}${model ? ` (model "${model}")` : ''}. Most local servers need a model name.`,
    choose,
  );
  if (choice === choose) await vscode.commands.executeCommand('ceneca.chooseModel');
}

function baseUrlProblem(text: string): string | undefined {
  try {
    const url = new URL(text.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'Use an http:// or https:// URL.';
  } catch {
    return 'Not a URL, e.g. http://localhost:11434/v1';
  }
}

interface ModelChoice extends vscode.QuickPickItem {
  provider?: ProviderSetting;
  /** Editor models: their id; undefined for OpenAI/Anthropic, whose name is asked for next. */
  model?: string;
}

async function chooseModel(services: Services): Promise<void> {
  const config = vscode.workspace.getConfiguration('ceneca');
  const current = { provider: config.get<ProviderSetting>('llm.provider', 'auto'), model: config.get<string>('llm.model', '').trim() };
  const chosen = await pickModel(services, current);
  if (!chosen?.provider) return;
  let model = chosen.model;
  if (model === undefined) {
    const keyed = chosen.provider === 'openai' || chosen.provider === 'anthropic' ? chosen.provider : undefined;
    if (!keyed) return;
    const entered = await vscode.window.showInputBox({
      title: `${PROVIDER_NAMES[keyed]} Model`,
      prompt: `Model name (empty: ${DEFAULT_MODELS[keyed]})`,
      value: current.provider === keyed && current.model ? current.model : DEFAULT_MODELS[keyed],
      ignoreFocusOut: true,
    });
    if (entered === undefined) return;
    model = entered.trim();
  }
  await config.update('llm.provider', chosen.provider, vscode.ConfigurationTarget.Global);
  await config.update('llm.model', model || undefined, vscode.ConfigurationTarget.Global);
  services.log.info(`model: ${chosen.provider}${model ? ` / ${model}` : ''}`);
  await offerKeyWhenMissing(services, chosen.provider);
}

/** A quick pick that opens at once and fills in the editor's models when they arrive. */
function pickModel(services: Services, current: { provider: ProviderSetting; model: string }): Promise<ModelChoice | undefined> {
  const isCurrent = (provider: ProviderSetting, model: string): boolean => current.provider === provider && current.model === model;
  const mark = (item: ModelChoice): ModelChoice =>
    item.provider && item.model !== undefined && isCurrent(item.provider, item.model) ? { ...item, description: [item.description, '(current)'].filter(Boolean).join(' ') } : item;
  const keyedDescription = (provider: KeyedProvider): string =>
    current.provider === provider ? `${current.model || DEFAULT_MODELS[provider]} (current)` : `e.g. ${DEFAULT_MODELS[provider]}`;
  const keyed: ModelChoice[] = [
    { label: 'With an API key', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(key) OpenAI…', description: keyedDescription('openai'), detail: 'Also an OpenAI-compatible server (see Set API Key…)', provider: 'openai' },
    { label: '$(key) Anthropic…', description: keyedDescription('anthropic'), provider: 'anthropic' },
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    mark({ label: '$(sparkle) Automatic', description: "the editor's models when available, else a provider with a key", provider: 'auto', model: '' }),
  ];

  const pick = vscode.window.createQuickPick<ModelChoice>();
  pick.title = 'Choose Model';
  pick.placeholder = 'Which model writes the queries and the analysis?';
  pick.matchOnDescription = true;
  pick.busy = true;
  pick.items = keyed;

  const editorModels = Promise.resolve(services.engineHost.editorModels()).then(
    (models) => models,
    (error: unknown) => {
      services.log.warn(`editor models: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    },
  );
  void editorModels.then((models) => {
    const fromEditor: ModelChoice[] = models.map((model) =>
      mark({ label: model.name, description: [model.vendor, model.family].filter(Boolean).join(' / '), provider: 'vscode', model: model.id }),
    );
    const header: ModelChoice[] = [{ label: "The editor's models", kind: vscode.QuickPickItemKind.Separator }];
    pick.items = fromEditor.length > 0 ? [...header, ...fromEditor, ...keyed] : keyed;
    pick.busy = false;
  });

  return runQuickPick(pick, { accept: (p) => p.selectedItems[0] });
}

/** After choosing OpenAI or Anthropic, offers to set the key when none is stored (and no local server is set). */
async function offerKeyWhenMissing(services: Services, provider: ProviderSetting): Promise<void> {
  if (provider !== 'openai' && provider !== 'anthropic') return;
  if (await services.secrets.apiKey(provider)) return;
  if (provider === 'openai' && vscode.workspace.getConfiguration('ceneca').get<string>('llm.baseUrl', '').trim()) return;
  const setKey = 'Set API Key…';
  const choice = await vscode.window.showWarningMessage(`Ceneca: no ${PROVIDER_NAMES[provider]} API key is stored yet.`, setKey);
  if (choice === setKey) await setProviderKey(services, provider);
}
