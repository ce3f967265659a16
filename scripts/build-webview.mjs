// Bundles the webview UI (webview/main.ts) for the browser and copies its stylesheet: dist/webview/main.js +
// main.css. The webview imports only types from src/ (events, protocol), so zod stays out of this bundle.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildWebview() {
  await mkdir(join(root, 'dist/webview'), { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview/main.js',
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(join(root, 'webview/style.css'), join(root, 'dist/webview/main.css'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildWebview().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
