/**
 * A throwaway Redis for tests: Debian's `redis-server` on a free 127.0.0.1 port, no persistence, a temp working
 * directory. Installs the Debian package first when the binary is missing and we are root on Debian (like
 * pg-cluster.ts does for PostgreSQL); otherwise `RedisUnavailableError` says why, and suites skip with that message.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from './pg-cluster';

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server at once (SIGKILL): also how a test simulates Redis going away. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** redis-server is missing and cannot be installed here: the suite should skip, saying this. */
export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

export async function startRedisServer(log: (line: string) => void = () => undefined): Promise<RedisServer> {
  const binary = findRedisServer() ?? installRedisServer(log);
  const dir = mkdtempSync('/tmp/ceneca-redis-');
  const port = await freePort();
  log(`starting a throwaway redis-server on 127.0.0.1:${port}`);
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000); // the tail, for an error message
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  try {
    await waitForPing(port, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const terminate = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: terminate,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await terminate();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function findRedisServer(): string | undefined {
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path ? path : undefined;
}

function installRedisServer(log: (line: string) => void): string {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync('/etc/debian_version')) {
    throw new RedisUnavailableError(
      'redis-server is missing and this process cannot install it (not root on Debian): install the Debian package "redis-server" (apt-get install -y redis-server) to run the Redis suites',
    );
  }
  log('installing Debian package redis-server (for the Redis session store tests)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => {
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'redis-server'], { stdio: 'inherit', env });
  };
  try {
    install();
  } catch {
    // Usually stale package lists: refresh them once and try again.
    execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    install();
  }
  // The package starts a system-wide instance on 6379; tests use their own and leave that one alone.
  const binary = findRedisServer();
  if (!binary) throw new Error('installed redis-server, but the binary is still not found');
  return binary;
}

/** Polls with a raw PING until the server answers PONG (or exits, or 10 s pass). */
async function waitForPing(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited before answering (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    if (await pingOnce(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output()}`);
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}
