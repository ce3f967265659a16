// `npm run package`: builds (npm run build) and writes ceneca-<version>.vsix at the repository root with @vscode/vsce,
// without prompting. What goes in is decided by .vscodeignore: the bundles, the manifest and its documents, and the
// packages that scripts/build.mjs keeps external (they load WebAssembly from beside their own files).
//
//   node scripts/package.mjs [--no-build] [--out FILE] [--quiet]
//
// --no-build packages dist/ as it is (the in-host test suite uses it right after `npm test` has built).
// Prints the vsix path on the last line of stdout.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const out = resolve(root, option('--out') ?? `${manifest.name}-${manifest.version}.vsix`);
const quiet = flag('--quiet');

function run(command, commandArgs, what) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: ['ignore', quiet ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
  if (result.error) throw new Error(`${what}: ${result.error.message}`);
  if (result.status !== 0) {
    if (quiet && result.stdout) process.stderr.write(result.stdout);
    throw new Error(`${what} failed (exit ${result.status ?? result.signal})`);
  }
}

try {
  if (!flag('--no-build')) run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], 'npm run build');
  statSync(join(root, manifest.main)); // a clear error before vsce's if the bundle is missing
  const vsce = join(dirname(createRequire(import.meta.url).resolve('@vscode/vsce/package.json')), 'vsce');
  run(
    process.execPath,
    [
      vsce,
      'package',
      '--out',
      out,
      // No public repository URL exists to name; vsce would otherwise ask for one (or refuse).
      '--allow-missing-repository',
      // Relative links in README.md (docs/…) stay as they are instead of failing for want of a repository URL.
      '--no-rewrite-relative-links',
    ],
    '@vscode/vsce package',
  );
  const size = statSync(out).size;
  if (!quiet) console.log(`${relative(root, out)}: ${(size / 1024 / 1024).toFixed(2)} MiB`);
  console.log(out);
} catch (error) {
  console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
