/**
 * The multi-step input behind Add and Edit Connection: a kind, then one quick input per field of that kind, with a
 * Back button, prefilled when editing or from a pasted URL. Secrets are asked in password boxes and travel apart
 * from the setting: they go to SecretStorage only.
 */
import * as vscode from 'vscode';
import { draftOf, mongoUrlHasUser, secretChangesOf, settingOfDraft, type ConnectionDraft, type SecretChanges } from '../connectionDraft';
import { connectionIdProblem, httpUrlProblem, parseMongoUrl, parsePostgresUrl, portProblem, slackTokenProblem, suggestedId } from '../connectionForm';
import type { ConnectionKind, ConnectionSecret, ConnectionSetting } from '../connectionSettings';
import { KIND_ICONS } from '../views/connectionsTree';

/** What the form produced: the setting (no secret) and what to do with each of its kind's secrets. */
export interface ConnectionFormResult {
  setting: ConnectionSetting;
  secrets: SecretChanges;
}

interface Step {
  /** Skipped (in either direction) when this says no. */
  when?: () => boolean;
  run: (position: StepPosition) => Promise<StepOutcome>;
}

interface StepPosition {
  step: number;
  totalSteps: number;
}

type StepOutcome = 'next' | 'back' | 'cancel';

interface KindChoice extends vscode.QuickPickItem {
  /** (QuickPickItem has a `kind` of its own: separator or default.) */
  sourceKind: ConnectionKind;
  fromUrl: boolean;
}

const KIND_CHOICES: readonly KindChoice[] = [
  { sourceKind: 'postgres', fromUrl: false, label: `$(${KIND_ICONS.postgres}) PostgreSQL`, detail: 'Enter host, port, database and user one by one.' },
  { sourceKind: 'postgres', fromUrl: true, label: `$(${KIND_ICONS.postgres}) PostgreSQL from a connection URL`, detail: 'Paste postgres://user:password@host:5432/database; the password goes to SecretStorage.' },
  { sourceKind: 'mongodb', fromUrl: true, label: `$(${KIND_ICONS.mongodb}) MongoDB`, detail: 'Paste a mongodb:// or mongodb+srv:// URL; its password goes to SecretStorage.' },
  { sourceKind: 'qdrant', fromUrl: false, label: `$(${KIND_ICONS.qdrant}) Qdrant`, detail: 'A vector database: its URL, an API key, and the embedding model its collections were built with.' },
  { sourceKind: 'slack', fromUrl: false, label: `$(${KIND_ICONS.slack}) Slack`, detail: 'Search messages with a bot (xoxb-) or user (xoxp-) token, kept in SecretStorage.' },
];

/**
 * Asks for every field of a connection. `initial` makes it an edit: the kind step is skipped and an empty secret
 * keeps the stored one. Undefined when the user cancels.
 */
export async function askConnection(options: { initial?: ConnectionSetting; takenIds: readonly string[] }): Promise<ConnectionFormResult | undefined> {
  const { initial, takenIds } = options;
  const editing = initial !== undefined;
  const title = editing ? `Edit Connection "${initial.id}"` : 'Add Connection';
  const draft = draftOf(initial);
  const kindIs = (kind: ConnectionKind) => () => draft.kind === kind;
  /** A secret's state before this form touched it. */
  const untouched = (): ConnectionDraft['secrets'][ConnectionSecret] => ({ value: '', change: editing ? 'keep' : 'set' });

  const steps: Step[] = [
    {
      when: () => !editing,
      run: async (position) => {
        const current = KIND_CHOICES.find((c) => c.sourceKind === draft.kind && (c.sourceKind !== 'postgres' || c.fromUrl === draft.fromUrl)) ?? KIND_CHOICES[0]!;
        const picked = await pickStep(title, position, 'Which kind of source?', [...KIND_CHOICES], current);
        if (typeof picked === 'string') return picked;
        if (picked.sourceKind !== draft.kind) draft.url = ''; // a MongoDB URL is no Qdrant URL
        draft.kind = picked.sourceKind;
        draft.fromUrl = picked.fromUrl;
        return 'next';
      },
    },

    // PostgreSQL
    {
      when: () => draft.kind === 'postgres' && draft.fromUrl,
      run: async (position) => {
        const answer = await inputStep(title, position, {
          prompt: 'Paste the connection URL. Its password is kept in SecretStorage, never in settings.',
          placeholder: 'postgres://user:password@host:5432/database',
          password: true,
          validate: (text) => {
            const parsed = parsePostgresUrl(text);
            if (typeof parsed === 'string') return text.trim() ? parsed : 'A postgres:// URL is needed.';
            return parsed.ignoredParameters.length > 0
              ? { message: `Ignored (not supported): ${parsed.ignoredParameters.join(', ')}`, severity: vscode.InputBoxValidationSeverity.Warning }
              : undefined;
          },
        });
        if (typeof answer === 'string' || !('value' in answer)) return answer === 'back' ? 'back' : 'cancel';
        const parsed = parsePostgresUrl(answer.value);
        if (typeof parsed === 'string') return 'cancel'; // validate() has already refused it
        draft.host = parsed.host ?? 'localhost';
        draft.port = String(parsed.port ?? 5432);
        draft.database = parsed.database ?? '';
        draft.user = parsed.user ?? '';
        draft.secrets.password = { value: parsed.password ?? '', change: 'set' };
        draft.ssl = parsed.ssl;
        if (!draft.id) draft.id = suggestedId(parsed.database ?? parsed.host ?? '', takenIds);
        return 'next';
      },
    },

    // MongoDB: the URL first, since it may suggest the id.
    {
      when: kindIs('mongodb'),
      run: async (position) => {
        const answer = await inputStep(title, position, {
          prompt: 'The MongoDB URL. A password in it is taken out and kept in SecretStorage, never in settings.',
          placeholder: 'mongodb://user:password@host:27017/database  or  mongodb+srv://user:password@cluster.example.net/database',
          value: draft.url,
          // A pasted URL usually holds the password; an edited one (prefilled from settings) never does.
          password: !editing,
          validate: (text) => {
            const parsed = parseMongoUrl(text);
            return typeof parsed === 'string' ? (text.trim() ? parsed : 'A mongodb:// or mongodb+srv:// URL is needed.') : undefined;
          },
        });
        if (typeof answer === 'string' || !('value' in answer)) return answer === 'back' ? 'back' : 'cancel';
        const parsed = parseMongoUrl(answer.value);
        if (typeof parsed === 'string') return 'cancel'; // validate() has already refused it
        draft.url = parsed.url;
        draft.secrets.password = parsed.password !== undefined ? { value: parsed.password, change: 'set' } : untouched();
        if (!draft.id) draft.id = suggestedId(parsed.database ?? parsed.hosts[0]?.replace(/:\d+$/, '') ?? '', takenIds);
        return 'next';
      },
    },

    // Qdrant
    {
      when: kindIs('qdrant'),
      run: async (position) => {
        const answer = await inputStep(title, position, {
          prompt: 'The Qdrant URL (REST, usually port 6333)',
          placeholder: 'http://localhost:6333  or  https://xyz.cloud.qdrant.io:6333',
          value: draft.url,
          validate: (text) => httpUrlProblem(text, { optional: false }),
        });
        if (typeof answer === 'string' || !('value' in answer)) return answer === 'back' ? 'back' : 'cancel';
        draft.url = answer.value.trim();
        if (!draft.id) draft.id = suggestedId(hostOf(draft.url), takenIds);
        return 'next';
      },
    },

    // Slack
    {
      when: kindIs('slack'),
      run: async (position) => {
        const answer = await secretInput(position, 'token', {
          prompt: editing ? 'Slack token: leave empty to keep the saved one (SecretStorage, never settings)' : 'Slack token: a bot token (xoxb-…) or a user token (xoxp-…, can search). Kept in SecretStorage, never in settings.',
          placeholder: 'xoxb-…',
          validate: (text) => (editing && !text.trim() ? undefined : slackTokenProblem(text)),
        });
        if (answer !== 'next') return answer;
        if (!draft.id) draft.id = suggestedId('slack', takenIds);
        return 'next';
      },
    },

    textStep('id', {
      prompt: 'A short id for the connection (letters, digits, _ . -), e.g. shop',
      validate: (text) => connectionIdProblem(text.trim(), takenIds),
    }),
    textStep('name', { prompt: 'A display name (optional; the id is shown when empty)' }),

    // PostgreSQL, field by field
    textStep('host', { when: kindIs('postgres'), prompt: 'Host name or address', validate: (text) => (text.trim() ? undefined : 'A host is needed.') }),
    textStep('port', { when: kindIs('postgres'), prompt: 'Port', validate: portProblem }),
    textStep('database', { when: kindIs('postgres'), prompt: 'Database name (empty: postgres)' }),
    textStep('user', { when: kindIs('postgres'), prompt: 'User name (optional)' }),
    secretStep('password', {
      when: kindIs('postgres'),
      prompt: editing ? 'Password: leave empty to keep the saved one (SecretStorage, never settings)' : 'Password (optional; kept in SecretStorage, never in settings)',
      removable: editing,
    }),
    {
      when: kindIs('postgres'),
      run: async (position) => {
        const plain = { label: 'No TLS', detail: 'For a database on this machine or a trusted network.', ssl: false };
        const tls = { label: 'TLS', detail: 'Encrypt the connection (sslmode=require).', ssl: true };
        const picked = await pickStep(title, position, 'Connect with TLS?', [plain, tls], draft.ssl ? tls : plain);
        if (typeof picked === 'string') return picked;
        draft.ssl = picked.ssl;
        return 'next';
      },
    },

    // MongoDB
    textStep('database', { when: kindIs('mongodb'), prompt: 'Database name (optional; empty: the one in the URL, else "test")' }),
    secretStep('password', {
      // Only a URL that names a user has use for a password.
      when: () => draft.kind === 'mongodb' && mongoUrlHasUser(draft.url),
      prompt: editing ? 'Password: leave empty to keep the saved one (SecretStorage, never settings)' : 'Password (optional; kept in SecretStorage, never in settings)',
      removable: editing,
    }),

    // Qdrant
    secretStep('apiKey', {
      when: kindIs('qdrant'),
      prompt: editing ? 'Qdrant API key: leave empty to keep the saved one (SecretStorage, never settings)' : 'Qdrant API key (optional, e.g. for Qdrant Cloud; kept in SecretStorage, never in settings)',
      removable: editing,
    }),
    textStep('embeddingsBaseUrl', {
      when: kindIs('qdrant'),
      prompt: 'Embeddings server: an OpenAI-compatible base URL (empty: the OpenAI API). It must serve the model the collections were built with.',
      placeholder: 'http://localhost:11434/v1',
      validate: (text) => httpUrlProblem(text, { optional: true }),
    }),
    textStep('embeddingsModel', {
      when: kindIs('qdrant'),
      prompt: 'Embedding model (the one the collections were built with)',
      validate: (text) => (text.trim() ? undefined : 'A model name is needed, e.g. text-embedding-3-small.'),
    }),
    secretStep('embeddingsApiKey', {
      when: kindIs('qdrant'),
      prompt: editing
        ? 'Embeddings API key: leave empty to keep the saved one (none saved: your OpenAI key from Set API Key…)'
        : 'Embeddings API key (optional; empty: your OpenAI key from Ceneca: Set API Key…, or none for a local server)',
      removable: editing,
    }),

    // Slack
    textStep('apiUrl', {
      when: kindIs('slack'),
      prompt: "Web API URL (optional; empty: Slack's own, https://slack.com/api/). For a Slack-compatible server.",
      placeholder: 'https://slack.com/api/',
      validate: (text) => httpUrlProblem(text, { optional: true }),
    }),
  ];

  if (!(await runSteps(steps))) return undefined;
  return { setting: settingOfDraft(draft), secrets: secretChangesOf(draft) };

  /** A plain text field of the draft. */
  function textStep(
    field: 'id' | 'name' | 'host' | 'port' | 'database' | 'user' | 'embeddingsBaseUrl' | 'embeddingsModel' | 'apiUrl',
    input: { when?: () => boolean; prompt: string; placeholder?: string; validate?: (text: string) => string | undefined },
  ): Step {
    return {
      when: input.when,
      run: async (position) => {
        const answer = await inputStep(title, position, { prompt: input.prompt, placeholder: input.placeholder, value: draft[field], validate: input.validate });
        if (typeof answer === 'string' || !('value' in answer)) return answer === 'back' ? 'back' : 'cancel';
        draft[field] = answer.value.trim();
        return 'next';
      },
    };
  }

  /** A secret field: a password box; when editing, empty keeps the saved secret and a button deletes it. */
  function secretStep(secret: ConnectionSecret, input: { when?: () => boolean; prompt: string; removable: boolean }): Step {
    return { when: input.when, run: (position) => secretInput(position, secret, { prompt: input.prompt, removable: input.removable }) };
  }

  async function secretInput(
    position: StepPosition,
    secret: ConnectionSecret,
    input: { prompt: string; placeholder?: string; removable?: boolean; validate?: (text: string) => string | undefined },
  ): Promise<StepOutcome> {
    const current = draft.secrets[secret];
    const remove: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: `Remove the saved ${SECRET_NOUNS[secret]}` };
    const answer = await inputStep(title, position, {
      prompt: input.prompt,
      placeholder: input.placeholder,
      value: current.change === 'set' ? current.value : '',
      password: true,
      validate: input.validate,
      extraButtons: input.removable ? [remove] : [],
    });
    if (typeof answer === 'string') return answer;
    if ('button' in answer) {
      draft.secrets[secret] = { value: '', change: 'remove' }; // the only extra button
      return 'next';
    }
    // A password may begin or end with a space; a pasted token or key carries a stray one.
    const value = secret === 'password' ? answer.value : answer.value.trim();
    draft.secrets[secret] = value ? { value, change: 'set' } : untouched();
    return 'next';
  }
}

const SECRET_NOUNS: Readonly<Record<ConnectionSecret, string>> = { password: 'password', apiKey: 'API key', embeddingsApiKey: 'embeddings API key', token: 'token' };

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** Runs the steps in order; Back returns to the previous step that applies. False when cancelled. */
async function runSteps(steps: Step[]): Promise<boolean> {
  let index = 0;
  let direction: 1 | -1 = 1;
  while (index < steps.length) {
    if (index < 0) {
      index = 0;
      direction = 1;
    }
    const step = steps[index]!;
    if (step.when && !step.when()) {
      index += direction;
      continue;
    }
    const active = steps.filter((s) => !s.when || s.when());
    const outcome = await step.run({ step: active.indexOf(step) + 1, totalSteps: active.length });
    if (outcome === 'cancel') return false;
    direction = outcome === 'back' ? -1 : 1;
    index += direction;
  }
  return true;
}

interface InputOptions {
  prompt: string;
  value?: string;
  placeholder?: string;
  password?: boolean;
  validate?: (text: string) => string | vscode.InputBoxValidationMessage | undefined;
  extraButtons?: vscode.QuickInputButton[];
}

/** One input box: the accepted value, 'back', 'cancel', or which of `extraButtons` was pressed. */
function inputStep(title: string, position: StepPosition, options: InputOptions): Promise<{ value: string } | { button: vscode.QuickInputButton } | 'back' | 'cancel'> {
  const box = vscode.window.createInputBox();
  box.title = title;
  box.step = position.step;
  box.totalSteps = position.totalSteps;
  box.prompt = options.prompt;
  box.value = options.value ?? '';
  box.placeholder = options.placeholder;
  box.password = options.password ?? false;
  box.ignoreFocusOut = true;
  box.buttons = [...(position.step > 1 ? [vscode.QuickInputButtons.Back] : []), ...(options.extraButtons ?? [])];
  const problem = (text: string) => options.validate?.(text);
  const blocks = (message: ReturnType<typeof problem>) =>
    typeof message === 'string' || (message !== undefined && message.severity === vscode.InputBoxValidationSeverity.Error);
  return settle(box, (resolve, disposables) => {
    disposables.push(
      box.onDidChangeValue((text) => (box.validationMessage = problem(text))),
      box.onDidAccept(() => {
        const message = problem(box.value);
        box.validationMessage = message;
        if (!blocks(message)) resolve({ value: box.value });
      }),
      box.onDidTriggerButton((button) => resolve(button === vscode.QuickInputButtons.Back ? 'back' : { button })),
    );
    // Show an existing value's problem at once (e.g. a prefilled id that is taken).
    if (box.value) box.validationMessage = problem(box.value);
  });
}

/** One single-choice pick: the chosen item, 'back' or 'cancel'. */
function pickStep<T extends vscode.QuickPickItem>(title: string, position: StepPosition, placeholder: string, items: T[], active: T): Promise<T | 'back' | 'cancel'> {
  const pick = vscode.window.createQuickPick<T>();
  pick.title = title;
  pick.step = position.step;
  pick.totalSteps = position.totalSteps;
  pick.placeholder = placeholder;
  pick.items = items;
  pick.activeItems = [active];
  pick.ignoreFocusOut = true;
  pick.buttons = position.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  return settle(pick, (resolve, disposables) => {
    disposables.push(
      pick.onDidAccept(() => {
        const chosen = pick.selectedItems[0] ?? pick.activeItems[0];
        if (chosen) resolve(chosen);
      }),
      pick.onDidTriggerButton((button) => button === vscode.QuickInputButtons.Back && resolve('back')),
    );
  });
}

/** Shows a quick input until `wire` resolves it; hiding it (Escape, focus elsewhere) resolves 'cancel'. */
function settle<R>(input: vscode.QuickInput, wire: (resolve: (result: R) => void, disposables: vscode.Disposable[]) => void): Promise<R | 'cancel'> {
  return new Promise<R | 'cancel'>((resolve) => {
    const disposables: vscode.Disposable[] = [];
    let settled = false;
    const finish = (result: R | 'cancel'): void => {
      if (settled) return;
      settled = true;
      resolve(result);
      for (const d of disposables) d.dispose();
      input.dispose();
    };
    disposables.push(input.onDidHide(() => finish('cancel')));
    wire(finish, disposables);
    input.show();
  });
}
