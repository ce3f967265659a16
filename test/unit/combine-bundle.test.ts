/**
 * The combine engine bundled the way scripts/build.mjs bundles the CLI and the extension (same esbuild options,
 * same externals): DuckDB must stay an external package — esbuild cannot bundle its native addon — and the bundle
 * must find it in node_modules at run time and answer a join. It loads lazily: a CLI or extension start that never
 * combines never loads DuckDB's library.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type BuildOptions } from 'esbuild';

const root = resolve(__dirname, '../..');
const outDir = join(root, '.tmp', 'combine-bundle-check');

const ENTRY = `
import { CombineEngine } from './src/core/combine/duckdb';
const duckdbLoaded = (): boolean => Object.keys(require.cache).some((path) => path.includes('@duckdb'));
async function main(): Promise<void> {
  const loadedAtStart = duckdbLoaded();
  const engine = await CombineEngine.create({ threads: 1 });
  try {
    await engine.load({ name: 'left_side', columns: [{ name: 'k', type: 'int4' }, { name: 'a', type: 'text' }], rows: [[1, 'one'], [2, 'two']] });
    await engine.load({ name: 'right_side', columns: [{ name: 'k', type: 'int4' }, { name: 'b', type: 'text' }], rows: [[2, 'deux'], [3, 'trois']] });
    const rows: unknown[] = [];
    for await (const batch of engine.execute('SELECT k, a, b FROM left_side JOIN right_side USING (k)', { maxRows: 10, signal: new AbortController().signal })) rows.push(...batch.rows);
    process.stdout.write(JSON.stringify({ loadedAtStart, loadedAfterCreate: duckdbLoaded(), rows }));
  } finally {
    await engine.close();
  }
}
main().catch((error) => { console.error(error); process.exit(1); });
`;

describe('combine step: bundled like dist/cli.js', function () {
  this.timeout(60_000);

  after(() => rmSync(outDir, { recursive: true, force: true }));

  it('keeps DuckDB external and loads it at run time', async () => {
    const buildScript = join(root, 'scripts', 'build.mjs'); // a variable, so TypeScript does not look for its types
    const { nodeBundle } = (await import(buildScript)) as { nodeBundle: BuildOptions };
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, 'check.js');
    await build({ ...nodeBundle, sourcemap: false, absWorkingDir: root, stdin: { contents: ENTRY, resolveDir: root, loader: 'ts', sourcefile: 'combine-check.ts' }, outfile });

    const bundle = readFileSync(outfile, 'utf8');
    assert.match(bundle, /require\("@duckdb\/node-api"\)/, 'DuckDB is required at run time, not bundled');
    assert.doesNotMatch(bundle, /duckdb\.node/, 'no native addon path is baked into the bundle');

    const run = spawnSync(process.execPath, [outfile], { cwd: outDir, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { loadedAtStart: false, loadedAfterCreate: true, rows: [[2, 'two', 'deux']] }, 'DuckDB loads on the first create(), not when the bundle starts');
  });
});
