/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: local server binaries, a fresh data directory under
 * /tmp, a free 127.0.0.1 port, trust auth, fsync off. Installs Debian's `postgresql` first when the binaries are
 * missing and we are root on Debian; otherwise says which package is needed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface PgCluster {
  url: string;
  stop(): Promise<void>;
}

export async function startPgCluster(log: (line: string) => void = () => undefined): Promise<PgCluster> {
  const bin = findServerBinaries() ?? installServer(log);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync('/tmp/ceneca-pg-');
  chmodSync(dir, 0o755); // the postgres user must reach it (mkdtemp makes 0700)
  const owner = asRoot ? postgresUser() : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const run = (args: string[]): void => {
    const command = asRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args;
    const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${args[0]} failed (${result.status}): ${result.stderr || result.stdout}`);
  };
  const port = await freePort();
  const data = join(dir, 'data');
  log(`starting a throwaway PostgreSQL cluster on 127.0.0.1:${port}`);
  run([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  run([
    join(bin, 'pg_ctl'), '-D', data, '-w', '-l', join(dir, 'server.log'), 'start',
    '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=60`,
  ]);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function findServerBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path ? path.replace(/\/initdb$/, '') : undefined;
}

function installServer(log: (line: string) => void): string {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/etc/debian_version')) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl) are missing: install the Debian package "postgresql" (apt-get install -y postgresql), or set CENECA_PG_URL to a server to test against');
  }
  log('installing Debian package postgresql (server binaries for the test cluster)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'postgresql'], { stdio: 'inherit', env });
  const bin = findServerBinaries();
  if (!bin) throw new Error('installed postgresql, but initdb is still not found under /usr/lib/postgresql');
  return bin;
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, but there is no "postgres" user to own the test cluster (install the Debian package postgresql)');
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
