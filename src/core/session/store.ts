/**
 * Where sessions can be found by id (DESIGN §4): the in-memory store serves one process; a shared store (Redis
 * Streams, `src/server/redisStore.ts`) lets any server instance replay a session by id and forward a cancel to the
 * instance that runs it. The session manager hands every session it starts to the store.
 */
import type { CenecaEvent, EventOf, Phase } from '../events';
import type { Session } from './session';

export interface SessionMeta {
  kind: string;
  question?: string;
  createdAt: number;
}

/** What `GET /sessions/:id` shows: the state and the progress so far, from the events. */
export interface SessionDescription extends SessionMeta {
  id: string;
  state: 'queued' | 'running' | 'finished';
  phase: Phase;
  /** The last event's id: a client resumes after it. */
  lastEventId: number;
  /** The oldest event id still held (a resume from before it is refused). */
  firstHeldId: number;
  progress?: { step: number; total: number; percentage: number; etaMs?: number };
  sources: string[];
  rowsDelivered: number;
  /** The terminal event, once the session has ended. */
  terminal?: EventOf<'complete'> | EventOf<'error'>;
}

export interface SessionStore {
  /** Makes a session started here readable by id. */
  track(session: Session, meta: SessionMeta): void;
  /** The retention window has passed: the session may be dropped. */
  forget(id: string): void;
  /**
   * Every event after `afterId`, in order, live until the terminal one (or until `signal` aborts).
   * Undefined when no session has that id; throws ResumeGapError when the events after `afterId` are gone, and
   * RangeError when `afterId` is beyond the last event.
   */
  read(id: string, afterId: number, signal?: AbortSignal): Promise<AsyncIterableIterator<CenecaEvent> | undefined>;
  describe(id: string): Promise<SessionDescription | undefined>;
  /** Cancels the session wherever it runs; false when it is unknown or has already ended. */
  cancel(id: string, message?: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A running summary of a session's events, updated per event (no event is kept). */
export class SessionDigest {
  phase: Phase = 'queued';
  state: SessionDescription['state'] = 'queued';
  lastEventId = 0;
  progress?: SessionDescription['progress'];
  sources: string[] = [];
  rowsDelivered = 0;
  terminal?: EventOf<'complete'> | EventOf<'error'>;

  apply(event: CenecaEvent): void {
    this.lastEventId = event.id;
    switch (event.type) {
      case 'status':
        this.phase = event.phase;
        break;
      case 'progress':
        this.state = 'running';
        this.progress = { step: event.step, total: event.total, percentage: event.percentage, ...(event.etaMs !== undefined ? { etaMs: event.etaMs } : {}) };
        break;
      case 'classifying':
        this.state = 'running';
        this.phase = 'classify';
        break;
      case 'databases_selected':
        this.sources = event.databases.map((d) => d.id);
        break;
      case 'schema_loading':
        this.phase = 'schema';
        break;
      case 'partial_query':
        this.phase = 'generate';
        break;
      case 'query_validated':
        this.phase = 'validate';
        break;
      case 'execution_started':
        this.phase = 'execute';
        break;
      case 'partial_results':
        this.rowsDelivered += event.rows.length;
        break;
      case 'analysis_chunk':
        this.phase = 'analyze';
        break;
      case 'complete':
        this.state = 'finished';
        this.phase = 'session';
        this.terminal = event;
        break;
      case 'error':
        if (!event.recoverable) {
          this.state = 'finished';
          this.phase = event.phase;
          this.terminal = event;
        }
        break;
      default:
        break;
    }
  }
}

interface Tracked {
  session: Session;
  meta: SessionMeta;
  digest: SessionDigest;
}

/** One process: sessions are found in a map and read straight from their logs. */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Tracked>();

  track(session: Session, meta: SessionMeta): void {
    const digest = new SessionDigest();
    for (const event of session.log.snapshot()) digest.apply(event);
    session.log.onAppend((event) => digest.apply(event));
    this.sessions.set(session.id, { session, meta, digest });
  }

  forget(id: string): void {
    this.sessions.delete(id);
  }

  async read(id: string, afterId: number, signal?: AbortSignal): Promise<AsyncIterableIterator<CenecaEvent> | undefined> {
    return this.sessions.get(id)?.session.log.subscribe(afterId, signal);
  }

  async describe(id: string): Promise<SessionDescription | undefined> {
    const tracked = this.sessions.get(id);
    return tracked && describeTracked(tracked);
  }

  async cancel(id: string, message?: string): Promise<boolean> {
    const tracked = this.sessions.get(id);
    if (!tracked || tracked.session.ended) return false;
    tracked.session.cancel(message);
    return true;
  }

  async close(): Promise<void> {
    this.sessions.clear();
  }
}

export function describeTracked({ session, meta, digest }: Tracked): SessionDescription {
  return {
    id: session.id,
    ...meta,
    state: digest.state,
    phase: digest.phase,
    lastEventId: session.log.lastId,
    firstHeldId: session.log.firstHeldId,
    ...(digest.progress ? { progress: digest.progress } : {}),
    sources: digest.sources,
    rowsDelivered: digest.rowsDelivered,
    ...(digest.terminal ? { terminal: digest.terminal } : {}),
  };
}
