// Bundles the extension, the CLI and the demo with esbuild. PGlite and the PostgreSQL parser load WebAssembly
// from beside their own files (import.meta.url / __dirname), so they stay external and ship in node_modules.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { buildWebview } from './build-webview.mjs';

const external = ['vscode', '@electric-sql/pglite', '@electric-sql/pglite-socket', 'libpg-query', 'pg-native'];
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, external, logLevel: 'warning' };

await Promise.all([
  build({ ...common, entryPoints: ['src/vscode/extension.ts'], outfile: 'dist/extension.js' }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  build({ ...common, entryPoints: ['src/demo/main.ts'], outfile: 'dist/demo.js' }),
  // The bench drives Chromium through playwright-core, which must stay a package of its own.
  build({ ...common, entryPoints: ['bench/main.ts'], outfile: 'dist/bench.js', external: [...external, 'playwright-core'] }),
  buildWebview(),
]);
chmodSync('dist/cli.js', 0o755);
