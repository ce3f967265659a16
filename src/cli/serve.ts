/**
 * `ceneca serve [--port P] [--token T] [--host H] [--max-running N] [--orphan-cancel-ms MS] [--config FILE]`: the local HTTP API
 * (DESIGN §4) over the configured sources. The token comes from --token, CENECA_SERVER_TOKEN, or is generated and
 * printed once. SIGINT / SIGTERM cancel the running sessions, close the sources and exit 0.
 */
import { parseArgs } from 'node:util';
import { redactUrl } from '../core/config';
import { Engine } from '../core/engine';
import { SessionManager } from '../core/session/manager';
import type { SessionStore } from '../core/session/store';
import { RedisSessionStore, sessionStoreFromEnv } from '../server/redisStore';
import { stopDemoDatabase } from '../core/sources/embedded-demo';
import { generateToken } from '../server/auth';
import { createApiServer, DEFAULT_HOST } from '../server/server';
import { engineParts } from './engineParts';
import type { Output } from './render';

export const DEFAULT_PORT = 8750;
export const SERVE_USAGE = `  ceneca serve [--port P] [--token T] [--host H] [--max-running N] [--orphan-cancel-ms MS] [--config FILE]
                                   the local HTTP API (default 127.0.0.1:${DEFAULT_PORT}; --port 0 picks a free port;
                                   token: --token, CENECA_SERVER_TOKEN, or generated and printed once)`;

interface ServeArgs {
  port: number;
  host: string;
  token?: string;
  maxRunning?: number;
  orphanCancelMs?: number;
  config?: string;
}

export async function serve(args: string[], output: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseServeArgs(args);
  if (typeof parsed === 'string') {
    output.err.write(`ceneca serve: ${parsed}\n${SERVE_USAGE}\n`);
    return 2;
  }

  const parts = engineParts(env, parsed.config, output);
  if ('exitCode' in parts) return parts.exitCode;
  const { config } = parts;

  // One process: sessions in memory; with CENECA_REDIS_URL, in Redis Streams shared by every instance.
  const store: SessionStore = sessionStoreFromEnv(env, { log: (line) => output.err.write(`${line}\n`) });
  if (store instanceof RedisSessionStore) output.err.write(`sessions are shared through Redis (${redactUrl(env.CENECA_REDIS_URL ?? '')})\n`);
  const manager = new SessionManager(store, { ...(parsed.maxRunning !== undefined ? { maxRunning: parsed.maxRunning } : {}) });
  const engine = new Engine(parts.context, manager);
  const givenToken = parsed.token ?? (env.CENECA_SERVER_TOKEN || undefined);
  const token = givenToken ?? generateToken();

  let api;
  try {
    api = await createApiServer({
      engine,
      manager,
      store,
      token,
      host: parsed.host,
      port: parsed.port,
      orphanCancelMs: parsed.orphanCancelMs,
      log: (line) => output.err.write(`${line}\n`),
    });
  } catch (error) {
    output.err.write(`ceneca serve: cannot listen on ${parsed.host}:${parsed.port}: ${error instanceof Error ? error.message : String(error)}\n`);
    await engine.close();
    await store.close();
    return 1;
  }

  const notes = [
    ...(config.connections.length === 0 ? ['• no connection configured: answering from the embedded demo database'] : []),
    `Ceneca API listening on ${api.url}`,
    ...(givenToken ? [] : [`Token (shown once): ${token}`, '  send it as: Authorization: Bearer <token>']),
  ];
  output.err.write(`${notes.join('\n')}\n`);

  const signal = await shutdownSignal();
  output.err.write(`• ${signal}: cancelling running sessions and shutting down\n`);
  // Cancelling the sessions ends their streams; the server waits for them (briefly) while it closes.
  await Promise.all([api.close(), engine.close()]);
  await store.close();
  await stopDemoDatabase();
  return 0;
}

function parseServeArgs(args: string[]): ServeArgs | string {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        'max-running': { type: 'string' },
        'orphan-cancel-ms': { type: 'string' },
        config: { type: 'string' },
      },
    }));
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be a port number (0 for a free one), not "${values.port}"`;
  const maxRunning = values['max-running'] === undefined ? undefined : Number(values['max-running']);
  if (maxRunning !== undefined && (!Number.isInteger(maxRunning) || maxRunning <= 0)) return `--max-running must be a positive whole number, not "${values['max-running']}"`;
  const orphanCancelMs = values['orphan-cancel-ms'] === undefined ? undefined : Number(values['orphan-cancel-ms']);
  if (orphanCancelMs !== undefined && (!Number.isInteger(orphanCancelMs) || orphanCancelMs < 0)) return `--orphan-cancel-ms must be a whole number of milliseconds, not "${values['orphan-cancel-ms']}"`;
  if (values.token !== undefined && values.token.trim() === '') return '--token must not be empty';
  return { port, host: values.host ?? DEFAULT_HOST, token: values.token, maxRunning, orphanCancelMs, config: values.config };
}

function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
