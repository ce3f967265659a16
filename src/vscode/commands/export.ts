/** `Ceneca: Export Results…`: the rows the Results view holds, saved as CSV or JSON. */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { toCsv, toJson } from '../exportFormat';
import type { Services } from '../services';

type ExportFormat = 'csv' | 'json';

export function registerExportCommand(services: Services): vscode.Disposable {
  return vscode.commands.registerCommand('ceneca.exportResults', () => exportResults(services));
}

async function exportResults(services: Services): Promise<void> {
  const formats: Array<vscode.QuickPickItem & { format: ExportFormat }> = [
    { label: 'CSV', description: 'for spreadsheets (formula-like cells are neutralised)', format: 'csv' },
    { label: 'JSON', description: 'an array of objects, one per row', format: 'json' },
  ];
  const picked = await vscode.window.showQuickPick(formats, { title: 'Export Results', placeHolder: 'Which format?' });
  if (!picked) return;
  const { format } = picked;

  const table = await services.results.requestRows(format);
  if (!table) {
    void vscode.window.showInformationMessage('Ceneca: no results to export.');
    return;
  }

  const target = await vscode.window.showSaveDialog({
    title: 'Export Results',
    defaultUri: defaultTarget(`ceneca-results.${format}`),
    filters: format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
    saveLabel: 'Export',
  });
  if (!target) return;

  const text = format === 'csv' ? toCsv(table) : toJson(table);
  try {
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  } catch (error) {
    void vscode.window.showErrorMessage(`Ceneca: could not write ${target.fsPath}: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  services.log.info(`exported ${table.rows.length} row(s) as ${format}`);
  const open = 'Open';
  const choice = await vscode.window.showInformationMessage(`Ceneca: exported ${table.rows.length.toLocaleString()} row(s) to ${target.fsPath}.`, open);
  if (choice === open) await vscode.commands.executeCommand('vscode.open', target);
}

/** The first workspace folder, else the home directory. */
function defaultTarget(fileName: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? vscode.Uri.joinPath(folder.uri, fileName) : vscode.Uri.joinPath(vscode.Uri.file(os.homedir()), fileName);
}
