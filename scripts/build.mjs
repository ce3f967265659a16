// Bundles the extension, the CLI and the demo with esbuild. PGlite and the PostgreSQL parser load WebAssembly
// from beside their own files (import.meta.url / __dirname), and DuckDB (the combine step of cross-database
// questions) is a native addon that picks its platform's binding package at run time (@duckdb/node-bindings-
// linux-x64, -darwin-arm64, …): all of them stay external and ship in node_modules.
//
//   node scripts/build.mjs       builds everything
//   import { external } from …   the list, for checks that bundle the way the build does
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildWebview } from './build-webview.mjs';

export const external = ['vscode', '@electric-sql/pglite', '@electric-sql/pglite-socket', 'libpg-query', 'pg-native', '@duckdb/*'];
export const nodeBundle = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, external, logLevel: 'warning' };

async function buildAll() {
  await Promise.all([
    build({ ...nodeBundle, entryPoints: ['src/vscode/extension.ts'], outfile: 'dist/extension.js' }),
    build({ ...nodeBundle, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
    build({ ...nodeBundle, entryPoints: ['src/demo/main.ts'], outfile: 'dist/demo.js' }),
    // The bench drives Chromium through playwright-core, which must stay a package of its own.
    build({ ...nodeBundle, entryPoints: ['bench/main.ts'], outfile: 'dist/bench.js', external: [...external, 'playwright-core'] }),
    buildWebview(),
  ]);
  chmodSync('dist/cli.js', 0o755);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildAll();
