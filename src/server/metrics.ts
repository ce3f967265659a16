/**
 * Prometheus metrics for `GET /metrics` (prom-client, one Registry per server so two servers in a process do not
 * mix): sessions by state, SSE events and bytes sent, subscriber lag, delivery delay, time per pipeline phase, and
 * errors by code. Phase times and errors come from the events of the sessions this process runs.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isTerminal, type CenecaEvent, type Phase } from '../core/events';
import type { ManagedSession, SessionManager } from '../core/session/manager';
import type { SubscriberTracker } from './subscribers';

/** What a phase mostly waits on, so model time and database time can be told apart. */
const PHASE_RESOURCE: Record<Phase, 'model' | 'database' | 'queue' | 'other'> = {
  queued: 'queue',
  classify: 'model',
  generate: 'model',
  analyze: 'model',
  plan: 'model',
  schema: 'database',
  validate: 'database',
  execute: 'database',
  aggregate: 'other',
  session: 'other',
};

let processMetrics: Registry | undefined;

/** Node's default process metrics, collected once per process: each collection installs observers for good. */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const DELIVERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly eventsSent: Counter;
  private readonly bytesSent: Counter;
  private readonly deliveryDelay: Histogram;
  private readonly phaseDuration: Histogram<'phase' | 'resource'>;
  private readonly sessionErrors: Counter<'code'>;
  private readonly stopWatching: () => void;

  constructor(manager: SessionManager, subscribers: SubscriberTracker) {
    // Started with the server, not at the first scrape: CPU time and event-loop lag count from when they start.
    processRegistry();
    const registers = [this.registry];
    new Gauge({
      name: 'ceneca_sessions',
      help: 'Sessions of this process by state (finished: still retained for late readers).',
      labelNames: ['state'],
      registers,
      collect() {
        const stats = manager.stats();
        this.set({ state: 'running' }, stats.running);
        this.set({ state: 'queued' }, stats.queued);
        this.set({ state: 'finished' }, stats.finished);
      },
    });
    new Gauge({
      name: 'ceneca_sse_subscribers',
      help: 'Open SSE responses.',
      registers,
      collect() {
        this.set(subscribers.count);
      },
    });
    new Gauge({
      name: 'ceneca_sse_subscriber_lag_events',
      help: 'Events the furthest-behind SSE subscriber has still to receive (sessions run by this process).',
      registers,
      collect() {
        let worst = 0;
        for (const subscription of subscribers.subscriptions()) {
          const lastId = manager.get(subscription.sessionId)?.session.log.lastId;
          if (lastId !== undefined) worst = Math.max(worst, lastId - subscription.lastSentId);
        }
        this.set(worst);
      },
    });
    this.eventsSent = new Counter({ name: 'ceneca_sse_events_sent_total', help: 'Events written to SSE responses.', registers });
    this.bytesSent = new Counter({ name: 'ceneca_sse_bytes_sent_total', help: 'Bytes of SSE event frames written (before compression).', registers });
    this.deliveryDelay = new Histogram({
      name: 'ceneca_sse_delivery_delay_seconds',
      help: 'Time from an event entering its session log to its frame being written to a client.',
      buckets: DELIVERY_BUCKETS,
      registers,
    });
    this.phaseDuration = new Histogram({
      name: 'ceneca_phase_duration_seconds',
      help: 'Time a session spent in each pipeline phase, from its events; resource says what the phase mostly waits on (model or database).',
      labelNames: ['phase', 'resource'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.sessionErrors = new Counter({ name: 'ceneca_session_errors_total', help: 'Sessions that ended in an error, by error code.', labelNames: ['code'], registers });
    this.stopWatching = manager.onChange((managed) => this.sessionChanged(managed));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** This server's metrics and the process's (memory, CPU, event loop). */
  text(): Promise<string> {
    return Registry.merge([this.registry, processRegistry()]).metrics();
  }

  recordSent(event: CenecaEvent, bytes: number): void {
    this.eventsSent.inc();
    this.bytesSent.inc(bytes);
    this.deliveryDelay.observe(Math.max(0, Date.now() - event.ts) / 1000);
  }

  close(): void {
    this.stopWatching();
  }

  private sessionChanged(managed: ManagedSession): void {
    if (managed.state === 'finished' && managed.startedAt === undefined) {
      this.countNeverStarted(managed);
      return;
    }
    if (managed.state !== 'running' || managed.startedAt === undefined) return;
    this.observePhase('queued', managed.startedAt - managed.createdAt);
    this.timePhases(managed, managed.startedAt);
  }

  /** Each phase lasts from the first event in it to the first event of the next; the terminal event closes the last. */
  private timePhases(managed: ManagedSession, startedAt: number): void {
    const { session } = managed;
    let phase: Phase = 'classify';
    let since = startedAt;
    const stop = session.log.onAppend((event) => {
      // A queue-position status can still arrive as the slot is granted; it is not work.
      const now = session.phase === 'queued' ? phase : session.phase;
      if (now !== phase) {
        this.observePhase(phase, event.ts - since);
        phase = now;
        since = event.ts;
      }
      if (!isTerminal(event)) return;
      this.observePhase(phase, event.ts - since);
      if (event.type === 'error') this.sessionErrors.inc({ code: event.code });
      stop();
    });
  }

  /** A session cancelled (or timed out) in the queue never ran, so no phase timer saw its terminal event. */
  private countNeverStarted(managed: ManagedSession): void {
    const events = managed.session.log.snapshot();
    const last = events[events.length - 1];
    if (last?.type === 'error') this.sessionErrors.inc({ code: last.code });
  }

  private observePhase(phase: Phase, ms: number): void {
    this.phaseDuration.observe({ phase, resource: PHASE_RESOURCE[phase] }, Math.max(0, ms) / 1000);
  }
}
