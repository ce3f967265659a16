/**
 * The HTTP API under load: `ceneca serve` (the built CLI, in its own process so its memory and event loop are
 * its own) with the session cap raised, answering many sessions at once, each watched by several SSE clients on
 * loopback; the model is the OpenAI stand-in streaming at about 40 tokens a second. Questions arrive 5 ms apart.
 * Delivery delay is a client's arrival time minus the event's `ts` (one machine, one clock), for events that
 * happened while the client was connected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createParser } from 'eventsource-parser';
import type { CenecaEvent } from '../src/core/events';

export interface SseFigure {
  name: string;
  value: number;
  unit: string;
  note: string;
}

export interface SseBenchOptions {
  quick: boolean;
  /** A database with the bench table. */
  pgUrl: string;
  /** The OpenAI stand-in's base URL (its script answers "bench sse" questions). */
  modelUrl: string;
  log: (line: string) => void;
}

const TOKEN = 'bench-token';
/** Gap between two questions' arrivals. */
const ARRIVAL_GAP_MS = 5;
/** SSE responses open right now, and the most at once. */
const connections = { open: 0, peak: 0 };
const CLI = resolve(__dirname, 'cli.js');

export const SSE_QUESTION = 'bench sse';

export async function measureSse(options: SseBenchOptions): Promise<SseFigure[]> {
  const sessions = options.quick ? 10 : 100;
  const watchers = options.quick ? 5 : 10;
  const server = await startServer(options, sessions);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    options.log(`SSE: ${sessions} sessions × ${watchers} clients = ${sessions * watchers} connections…`);
    const delays: number[] = [];
    const started = performance.now();
    // Questions arrive a few ms apart, as from people and scripts, not all in one instant; `sse_clients` reports
    // how many connections were then open at the same time.
    const runs = Array.from({ length: sessions }, async (_, i) => {
      await new Promise((resolveStart) => setTimeout(resolveStart, i * ARRIVAL_GAP_MS));
      return watchSession(server.url, watchers, agent, delays);
    });
    const results = await Promise.all(runs);
    const wallMs = performance.now() - started;
    const completed = results.filter((r) => r.terminals.every((terminal) => terminal === 'complete')).length;
    const resumeMs = await resumeLatency(server.url, results.map((r) => r.sessionId), agent);
    delays.sort((a, b) => a - b);
    return [
      { name: 'sse_clients', value: connections.peak, unit: 'connections', note: `most SSE responses open at once; ${sessions} sessions × ${watchers} clients, one question every ${ARRIVAL_GAP_MS} ms` },
      { name: 'sse_sessions_completed', value: completed, unit: 'sessions', note: `of ${sessions}, every client saw \`complete\`; all done in ${Math.round(wallMs)} ms` },
      { name: 'sse_p50_delivery_ms', value: percentile(delays, 0.5), unit: 'ms', note: `client arrival − event ts, over ${delays.length.toLocaleString('en-US')} live deliveries (replayed events not counted)` },
      { name: 'sse_p99_delivery_ms', value: percentile(delays, 0.99), unit: 'ms', note: 'goal ≤ 50' },
      { name: 'sse_server_rss_mb', value: server.peakRssMb(), unit: 'MB', note: 'peak RSS (VmHWM) of the `ceneca serve` process' },
      { name: 'resume_first_event_ms', value: resumeMs, unit: 'ms', note: 'GET /sessions/:id/events with Last-Event-ID → first replayed event, median of 20' },
    ];
  } finally {
    agent.destroy();
    await server.stop();
  }
}

interface RunningServer {
  url: string;
  peakRssMb(): number;
  stop(): Promise<void>;
}

async function startServer(options: SseBenchOptions, maxRunning: number): Promise<RunningServer> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    CENECA_PG_URL: options.pgUrl,
    OPENAI_BASE_URL: options.modelUrl,
    OPENAI_API_KEY: 'bench',
  };
  // CENECA_BENCH_PROFILE_DIR=… writes a CPU profile of the server (what costs under load).
  const profile = process.env.CENECA_BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CENECA_BENCH_PROFILE_DIR}`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, CLI, 'serve', '--port', '0', '--token', TOKEN, '--max-running', String(maxRunning)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`ceneca serve did not start:\n${stderr}`)), 20_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      stderr += text;
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (found) {
        clearTimeout(timer);
        resolveUrl(found[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`ceneca serve exited ${code}:\n${stderr}`)));
  });
  return {
    url,
    peakRssMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
      return kb / 1024;
    },
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (child.exitCode !== null) return resolveStop();
        child.once('exit', () => resolveStop());
        child.kill('SIGTERM');
      }),
  };
}

/** Starts one question with a POST stream, adds `watchers - 1` GET followers, and reads them all to the end. */
async function watchSession(url: string, watchers: number, agent: http.Agent, delays: number[]): Promise<{ sessionId: string; terminals: string[] }> {
  const body = JSON.stringify({ question: SSE_QUESTION, analysis: true });
  const first = await openStream(`${url}/query/stream`, agent, { method: 'POST', body, delays });
  const sessionId = first.sessionId;
  if (!sessionId) throw new Error('the POST stream gave no session id');
  const followers = await Promise.all(Array.from({ length: watchers - 1 }, () => openStream(`${url}/sessions/${sessionId}/events`, agent, { method: 'GET', delays })));
  const terminals = await Promise.all([first, ...followers].map((stream) => stream.done));
  return { sessionId, terminals };
}

interface OpenStream {
  sessionId: string | undefined;
  /** Resolves with the terminal event's type once the response ends. */
  done: Promise<string>;
}

interface StreamOptions {
  method: string;
  body?: string;
  lastEventId?: number;
  /** Delivery delays of the events that arrive live are pushed here. */
  delays: number[];
  onFirstEvent?: () => void;
}

/** Opens an SSE response and reads it from the first byte (a stream not read at once would be delayed by the bench itself). */
function openStream(target: string, agent: http.Agent, options: StreamOptions): Promise<OpenStream> {
  return new Promise((resolveStream, reject) => {
    const headers: http.OutgoingHttpHeaders = { Authorization: `Bearer ${TOKEN}`, Accept: 'text/event-stream' };
    if (options.body) headers['Content-Type'] = 'application/json';
    if (options.lastEventId !== undefined) headers['Last-Event-ID'] = String(options.lastEventId);
    const req = http.request(target, { method: options.method, headers, agent }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`${options.method} ${target}: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      // Events older than the connection are replayed, not delivered live: their age is not a delivery delay.
      const connectedAt = Date.now();
      let onFirstEvent = options.onFirstEvent;
      let terminal = 'none';
      const parser = createParser({
        onEvent: (message) => {
          // Only the envelope is read (the client side of the bench must stay cheap: it shares the machine).
          const event = readEnvelope(message.data);
          if (event.ts >= connectedAt) options.delays.push(Date.now() - event.ts);
          onFirstEvent?.();
          onFirstEvent = undefined;
          if (event.type === 'complete' || (event.type === 'error' && event.recoverable === false)) terminal = event.type;
        },
      });
      connections.open++;
      connections.peak = Math.max(connections.peak, connections.open);
      res.once('close', () => connections.open--);
      const done = new Promise<string>((resolveDone, rejectDone) => {
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.once('end', () => resolveDone(terminal));
        res.once('error', rejectDone);
      });
      resolveStream({ sessionId: typeof res.headers['x-ceneca-session'] === 'string' ? res.headers['x-ceneca-session'] : undefined, done });
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

/** Reconnect → first replayed event, on finished sessions, resuming a few events after their start. */
async function resumeLatency(url: string, sessionIds: string[], agent: http.Agent): Promise<number> {
  const samples: number[] = [];
  for (const sessionId of sessionIds.slice(0, 20)) {
    const started = performance.now();
    let firstAt = NaN;
    const stream = await openStream(`${url}/sessions/${sessionId}/events`, agent, { method: 'GET', lastEventId: 3, delays: [], onFirstEvent: () => (firstAt = performance.now()) });
    await stream.done;
    samples.push(firstAt - started);
  }
  samples.sort((a, b) => a - b);
  return percentile(samples, 0.5);
}

/** `type`, `ts` and `recoverable` from an event's JSON without parsing all of it (`type` leads, the envelope ends it). */
function readEnvelope(data: string): Pick<CenecaEvent, 'ts' | 'type'> & { recoverable?: boolean } {
  const head = data.slice(0, 64);
  const ts = Number(/"ts":(\d+)/.exec(data.slice(-160))?.[1]);
  const type = /^\{"type":"([a-z_]+)"/.exec(head)?.[1] as CenecaEvent['type'];
  if (!Number.isFinite(ts) || !type) throw new Error(`not an event: ${head}`);
  return { ts, type, ...(type === 'error' ? { recoverable: /"recoverable":true/.test(data) } : {}) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
