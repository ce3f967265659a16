/**
 * `npm run test:electron`: the extension in VS Code desktop (Electron) via @vscode/test-electron, with mocha running
 * inside the extension host (./suite.ts). For machines with internet access: @vscode/test-electron downloads VS Code
 * (into .vscode-test/), which the CI machines cannot reach — so this is NOT part of `npm test`; CI runs the same
 * scenario against the packaged extension in code-server instead (test/host/code-server.test.ts).
 * `npm run typecheck` type-checks this file; the script compiles it with test/host/electron/tsconfig.json.
 *
 * The model is the OpenAI stand-in replaying the demo's recorded replies, started here on loopback; the data is the
 * embedded demo database. CENECA_VSCODE_VERSION picks the VS Code version (default: the manifest's minimum, 1.100.3;
 * "stable" for the latest). On Linux without a display, run it under xvfb-run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { replayScript } from '../../../src/demo/replay';
import { OpenAIStandIn } from '../../support/openai-standin';

async function main(): Promise<number> {
  // Compiled to .tmp/electron-test/test/host/electron/: the repository root is five levels up.
  const root = resolve(__dirname, '..', '..', '..', '..', '..');
  const standIn = new OpenAIStandIn(replayScript());
  await standIn.start();
  const dir = mkdtempSync(join(tmpdir(), 'ceneca-electron-'));
  try {
    const userDataDir = join(dir, 'user-data');
    const workspace = join(dir, 'workspace');
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    mkdirSync(workspace);
    writeFileSync(
      join(userDataDir, 'User', 'settings.json'),
      JSON.stringify(
        {
          'ceneca.llm.provider': 'openai',
          'ceneca.llm.baseUrl': standIn.baseURL,
          'ceneca.llm.model': 'replay',
          'ceneca.connections': [],
          'workbench.startupEditor': 'none',
          'security.workspace.trust.enabled': false,
          'telemetry.telemetryLevel': 'off',
          'extensions.autoCheckUpdates': false,
          'extensions.autoUpdate': false,
        },
        null,
        2,
      ),
    );
    await runTests({
      version: process.env.CENECA_VSCODE_VERSION ?? '1.100.3',
      extensionDevelopmentPath: root,
      extensionTestsPath: join(__dirname, 'suite.js'),
      extensionTestsEnv: { CENECA_STANDIN_URL: standIn.baseURL },
      launchArgs: [workspace, '--user-data-dir', userDataDir, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    });
    return 0;
  } catch (error) {
    console.error(`the in-host suite (VS Code desktop) failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await standIn.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
