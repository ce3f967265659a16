/**
 * The embedded demo database: PostgreSQL compiled to WebAssembly (PGlite), seeded with a small shop, served on a
 * loopback socket so the ordinary PostgreSQL source (pg + pg-cursor) runs against it unchanged. It takes seconds
 * to start, so it starts on first use, once per process, and reports progress while it does.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { demoDatabaseSql } from './demo-data';
import { PostgresSource } from './postgres';

export const DEMO_SOURCE_ID = 'demo';

interface RunningDemo {
  db: PGlite;
  server: PGLiteSocketServer;
  url: string;
}

let running: Promise<RunningDemo> | undefined;

export function createDemoSource(): PostgresSource {
  return new PostgresSource({
    id: DEMO_SOURCE_ID,
    name: 'Embedded demo database (PGlite)',
    connection: async (onProgress) => (await startDemoDatabase(onProgress)).url,
    // PGlite serves one statement at a time; a small pool keeps the socket server's queue short.
    poolSize: 2,
    // A throwaway in-memory database, whose only role is its superuser.
    warnAboutPrivileges: false,
  });
}

export function startDemoDatabase(onProgress: (fraction: number) => void = () => undefined): Promise<RunningDemo> {
  if (!running) {
    running = launch(onProgress);
    running.catch(() => (running = undefined));
  }
  return running;
}

async function launch(onProgress: (fraction: number) => void): Promise<RunningDemo> {
  onProgress(0.02);
  // Loaded on demand: the WebAssembly runtime is large and only the demo needs it.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create();
  onProgress(0.6);
  const statements = demoDatabaseSql();
  for (let i = 0; i < statements.length; i++) {
    await db.exec(statements[i]!);
    onProgress(0.6 + (0.35 * (i + 1)) / statements.length);
  }
  // The default of one connection makes a pool fail ("Connection terminated unexpectedly").
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  const address = server.getServerConn();
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  onProgress(1);
  return { db, server, url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable` };
}

export async function stopDemoDatabase(): Promise<void> {
  const current = running;
  running = undefined;
  if (!current) return;
  const demo = await current.catch(() => undefined);
  if (!demo) return;
  await demo.server.stop();
  await demo.db.close();
}
