/** Shows a QuickPick and resolves with what the user chose (undefined when dismissed), then disposes it. */
import * as vscode from 'vscode';

export interface QuickPickOutcomes<T extends vscode.QuickPickItem, R> {
  /** Enter: what the current selection means (undefined to resolve with nothing). */
  accept(pick: vscode.QuickPick<T>): R | undefined;
  /** An item's button was pressed. */
  button?(event: vscode.QuickPickItemButtonEvent<T>): R | undefined;
}

export function runQuickPick<T extends vscode.QuickPickItem, R>(pick: vscode.QuickPick<T>, outcomes: QuickPickOutcomes<T, R>): Promise<R | undefined> {
  return new Promise((resolve) => {
    const finish = (result: R | undefined): void => {
      resolve(result);
      pick.hide();
    };
    const subscriptions = [
      pick.onDidAccept(() => finish(outcomes.accept(pick))),
      pick.onDidTriggerItemButton((event) => finish(outcomes.button?.(event))),
      pick.onDidHide(() => {
        resolve(undefined); // no effect when a choice already resolved
        for (const s of subscriptions) s.dispose();
        pick.dispose();
      }),
    ];
    pick.show();
  });
}
