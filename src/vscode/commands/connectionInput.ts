/**
 * The multi-step input behind Add and Edit Connection: one quick input per field, with a Back button, prefilled
 * when editing or when a pasted `postgres://` URL supplied the values.
 */
import * as vscode from 'vscode';
import { connectionIdProblem, parsePostgresUrl, portProblem } from '../connectionForm';
import type { ConnectionSetting } from '../settings';

/** What the form produced. The password travels apart from the setting: it goes to SecretStorage only. */
export interface ConnectionFormResult {
  setting: ConnectionSetting;
  /** `keep`: leave the stored password as it is (editing); `set`: store `password`; `remove`: delete it. */
  passwordAction: 'keep' | 'set' | 'remove';
  password?: string;
}

interface Draft {
  fromUrl: boolean;
  id: string;
  name: string;
  host: string;
  port: string;
  database: string;
  user: string;
  password: string;
  passwordAction: ConnectionFormResult['passwordAction'];
  ssl: boolean;
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

const REMOVE_PASSWORD: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: 'Remove the saved password' };

/**
 * Asks for every field of a connection. `initial` makes it an edit: the kind step is skipped and an empty
 * password keeps the stored one. Undefined when the user cancels.
 */
export async function askConnection(options: { initial?: ConnectionSetting; takenIds: readonly string[] }): Promise<ConnectionFormResult | undefined> {
  const { initial, takenIds } = options;
  const editing = initial !== undefined;
  const title = editing ? `Edit Connection "${initial.id}"` : 'Add Connection';
  const draft: Draft = {
    fromUrl: false,
    id: initial?.id ?? '',
    name: initial?.name ?? '',
    host: initial?.host ?? 'localhost',
    port: String(initial?.port ?? 5432),
    database: initial?.database ?? '',
    user: initial?.user ?? '',
    password: '',
    passwordAction: editing ? 'keep' : 'set',
    ssl: initial?.ssl ?? false,
  };

  const steps: Step[] = [
    {
      when: () => !editing,
      run: async (position) => {
        const fields = { label: 'PostgreSQL', detail: 'Enter host, port, database and user one by one.', fromUrl: false };
        const url = { label: 'PostgreSQL from a connection URL', detail: 'Paste postgres://user:password@host:5432/database; the password goes to SecretStorage.', fromUrl: true };
        const picked = await pickStep(title, position, 'Which kind of database?', [fields, url], draft.fromUrl ? url : fields);
        if (typeof picked === 'string') return picked;
        draft.fromUrl = picked.fromUrl;
        return 'next';
      },
    },
    {
      when: () => draft.fromUrl,
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
        draft.password = parsed.password ?? '';
        draft.ssl = parsed.ssl;
        if (!draft.id) draft.id = suggestedId(parsed.database ?? parsed.host ?? '', takenIds);
        return 'next';
      },
    },
    textStep(title, 'id', {
      prompt: 'A short id for the connection (letters, digits, _ . -), e.g. shop',
      validate: (text) => connectionIdProblem(text.trim(), takenIds),
    }),
    textStep(title, 'name', { prompt: 'A display name (optional; the id is shown when empty)' }),
    textStep(title, 'host', { prompt: 'Host name or address', validate: (text) => (text.trim() ? undefined : 'A host is needed.') }),
    textStep(title, 'port', { prompt: 'Port', validate: portProblem }),
    textStep(title, 'database', { prompt: 'Database name (empty: postgres)' }),
    textStep(title, 'user', { prompt: 'User name (optional)' }),
    {
      run: async (position) => {
        const answer = await inputStep(title, position, {
          prompt: editing ? 'Password: leave empty to keep the saved one (SecretStorage, never settings)' : 'Password (optional; kept in SecretStorage, never in settings)',
          value: draft.passwordAction === 'set' ? draft.password : '',
          password: true,
          extraButtons: editing ? [REMOVE_PASSWORD] : [],
        });
        if (typeof answer === 'string') return answer;
        if ('button' in answer) {
          draft.password = '';
          draft.passwordAction = 'remove'; // REMOVE_PASSWORD, the only extra button
          return 'next';
        }
        draft.password = answer.value;
        draft.passwordAction = answer.value ? 'set' : editing ? 'keep' : 'set';
        return 'next';
      },
    },
    {
      run: async (position) => {
        const plain = { label: 'No TLS', detail: 'For a database on this machine or a trusted network.', ssl: false };
        const tls = { label: 'TLS', detail: 'Encrypt the connection (sslmode=require).', ssl: true };
        const picked = await pickStep(title, position, 'Connect with TLS?', [plain, tls], draft.ssl ? tls : plain);
        if (typeof picked === 'string') return picked;
        draft.ssl = picked.ssl;
        return 'next';
      },
    },
  ];

  if (!(await runSteps(steps))) return undefined;
  return {
    setting: settingOf(draft),
    passwordAction: draft.passwordAction,
    password: draft.passwordAction === 'set' && draft.password ? draft.password : undefined,
  };

  /** A plain text field of the draft. */
  function textStep(
    stepTitle: string,
    field: 'id' | 'name' | 'host' | 'port' | 'database' | 'user',
    input: { prompt: string; validate?: (text: string) => string | undefined },
  ): Step {
    return {
      run: async (position) => {
        const answer = await inputStep(stepTitle, position, { prompt: input.prompt, value: draft[field], validate: input.validate });
        if (typeof answer === 'string' || !('value' in answer)) return answer === 'back' ? 'back' : 'cancel';
        draft[field] = answer.value.trim();
        return 'next';
      },
    };
  }
}

function settingOf(draft: Draft): ConnectionSetting {
  const setting: ConnectionSetting = { id: draft.id, kind: 'postgres' };
  // Only fields with a value are written, so settings.json stays short.
  if (draft.name) setting.name = draft.name;
  setting.host = draft.host || 'localhost';
  setting.port = Number(draft.port) || 5432;
  if (draft.database) setting.database = draft.database;
  if (draft.user) setting.user = draft.user;
  setting.ssl = draft.ssl;
  return setting;
}

/** An id from the database (or host) name that is valid and not taken, or empty when none fits. */
function suggestedId(from: string, takenIds: readonly string[]): string {
  const base = from.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60);
  if (!base) return '';
  for (let n = 1; n < 100; n++) {
    const id = n === 1 ? base : `${base}_${n}`;
    if (!connectionIdProblem(id, takenIds)) return id;
  }
  return '';
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
