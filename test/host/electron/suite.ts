/**
 * Mocha inside VS Code's extension host, loaded by ./runTest.ts through @vscode/test-electron (which needs to
 * download VS Code: run with `npm run test:electron` on a machine with internet; not part of `npm test`, see
 * runTest.ts). Activates the extension, asks the demo question through `ceneca.ask`, and waits for the untitled
 * SQL document the command streams the query into.
 */
import { strict as assert } from 'node:assert';
import Mocha from 'mocha';
import * as vscode from 'vscode';

const question = 'Who are our top 10 customers by revenue?';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: true });
  const suite = Mocha.Suite.create(mocha.suite, 'Ceneca in VS Code desktop');
  suite.addTest(
    new Mocha.Test('activates, reads its settings, and streams the SQL of a question into an untitled sql document', async () => {
      const extension = vscode.extensions.getExtension('ceneca.ceneca');
      assert.ok(extension, 'the extension ceneca.ceneca is loaded');
      await extension.activate();
      assert.ok(extension.isActive, 'the extension is active');

      const config = vscode.workspace.getConfiguration('ceneca');
      assert.equal(config.get('llm.baseUrl'), process.env.CENECA_STANDIN_URL, 'ceneca.llm.baseUrl points at the stand-in');
      assert.ok((await vscode.commands.getCommands(true)).includes('ceneca.ask'), 'ceneca.ask is registered');

      // Not awaited: the command may hold on until the whole answer has streamed.
      const asked = vscode.commands.executeCommand('ceneca.ask', question);
      const document = await waitFor('an untitled sql document containing SELECT', 90_000, () =>
        vscode.workspace.textDocuments.find((d) => d.isUntitled && d.languageId === 'sql' && /\bSELECT\b/i.test(d.getText())),
      );
      await waitFor('the whole query (order_items)', 30_000, () => (document.getText().includes('order_items') ? true : undefined));
      assert.ok(vscode.window.visibleTextEditors.some((e) => e.document === document), 'the SQL document is shown in an editor');
      await asked;
    }),
  );
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
