// `npm run package`: builds (npm run build) and writes ceneca-<version>.vsix at the repository root with @vscode/vsce,
// without prompting. What goes in is decided by .vscodeignore: the bundles, the manifest and its documents, and the
// packages that scripts/build.mjs keeps external (WebAssembly loaded from beside their own files, and DuckDB's
// native addon). The addon makes the package platform-specific: it is built for this machine (vsce --target
// linux-x64, darwin-arm64, alpine-x64, win32-x64 …), with the one @duckdb/node-bindings-* package npm installed.
//
//   node scripts/package.mjs [--no-build] [--out FILE] [--target TARGET] [--quiet]
//
// --no-build packages dist/ as it is (the in-host test suite uses it right after `npm test` has built).
// --target names the VS Code platform; it must match the DuckDB binding installed in node_modules.
// Prints the vsix path on the last line of stdout.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
const require = createRequire(import.meta.url);

/** VS Code's name for this machine's platform (https://code.visualstudio.com/api/working-with-extensions/publishing-extension#platformspecific-extensions). */
function currentTarget() {
  const platform = { linux: 'linux', darwin: 'darwin', win32: 'win32' }[process.platform];
  if (!platform || !['x64', 'arm64'].includes(process.arch)) throw new Error(`DuckDB ships no binding for ${process.platform}-${process.arch}`);
  const musl = platform === 'linux' && require('detect-libc').familySync() === 'musl';
  return `${musl ? 'alpine' : platform}-${process.arch}`;
}

/** The @duckdb/node-bindings-* package a target needs (Alpine is Linux with musl). */
function bindingPackage(target) {
  const [platform, arch] = target.split('-');
  return platform === 'alpine' ? `node-bindings-linux-${arch}-musl` : `node-bindings-${platform}-${arch}`;
}

/** Exactly the target's binding must be installed: .vscodeignore ships whichever node-bindings-* packages exist. */
function checkDuckDBBinding(target) {
  const wanted = bindingPackage(target);
  const installed = readdirSync(join(root, 'node_modules/@duckdb')).filter((name) => name.startsWith('node-bindings-'));
  if (!existsSync(join(root, 'node_modules/@duckdb', wanted, 'duckdb.node'))) {
    throw new Error(`the ${target} package needs @duckdb/${wanted}, which is not installed (installed: ${installed.join(', ') || 'none'}); package on a ${target} machine`);
  }
  const others = installed.filter((name) => name !== wanted);
  if (others.length > 0) throw new Error(`other platforms' DuckDB bindings are installed too (${others.join(', ')}): remove them, or they ship in the ${target} package`);
}

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
  const target = option('--target') ?? currentTarget();
  checkDuckDBBinding(target);
  const vsce = join(dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  run(
    process.execPath,
    [
      vsce,
      'package',
      '--out',
      out,
      // DuckDB's addon is native: this package installs only on the platform it was built for.
      '--target',
      target,
      // No public repository URL exists to name; vsce would otherwise ask for one (or refuse).
      '--allow-missing-repository',
      // Relative links in README.md (docs/…) stay as they are instead of failing for want of a repository URL.
      '--no-rewrite-relative-links',
    ],
    '@vscode/vsce package',
  );
  const size = statSync(out).size;
  if (!quiet) console.log(`${relative(root, out)} (${target}): ${(size / 1024 / 1024).toFixed(2)} MiB`);
  console.log(out);
} catch (error) {
  console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
