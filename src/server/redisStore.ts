/**
 * The session store for several `ceneca serve` instances behind one load balancer (DESIGN §4, issue 6): every
 * session's events are mirrored into a Redis stream, so any instance can replay a session by id and follow it live,
 * and a cancel sent to any instance reaches the one that runs the session over Redis pub/sub.
 *
 * Keys (prefix `ceneca:` by default):
 *   <prefix>s:<id>:events  stream; entry id `0-<event id>` (event ids are consecutive, so ids map 1:1 and a resume
 *                          after N is `XRANGE key (0-N +`); field `e` holds the event JSON
 *   <prefix>s:<id>:meta    hash: kind, question, createdAt, owner, state, phase, lastId, firstId, rowsDelivered,
 *                          sources, progress, terminal — what `describe` shows on other instances
 *   <prefix>i:<instance>   heartbeat of a live instance: a reader notices an owner that died mid-session
 *   <prefix>cancel         pub/sub channel; message `{"id","message"}`; the owning instance cancels
 *
 * Writing never blocks the engine: events are queued as they are appended and written in one pipeline per tick,
 * in order (one pipeline in flight at a time). A Redis failure is logged once, marks the store degraded and is
 * retried; the sessions go on locally. The stream is bounded like the in-memory log (a count and a row-byte
 * budget): older entries are trimmed with `XTRIM MINID`, or never written when Redis lags, and a reader that needs
 * them gets `ResumeGapError` — never a silent gap.
 *
 * Connections: three per store whatever the number of readers — commands (writes, XRANGE, HGETALL, PUBLISH), the
 * cancel subscriber, and one blocking connection shared by every remote reader: a single
 * `XREAD BLOCK … STREAMS k1 k2 … id1 id2 …` watches every stream followed here and only signals "there is more";
 * each reader then pages through XRANGE itself, so a slow reader holds one page, never a growing buffer. When a new
 * stream joins while the XREAD is blocked, `CLIENT UNBLOCK` restarts it with the new key.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Redis, { type ChainableCommander, type RedisOptions } from 'ioredis';
import { isTerminal, phaseSchema, validateEvent, type CenecaEvent, type EventOf } from '../core/events';
import { estimateRowBytes, ResumeGapError } from '../core/session/log';
import type { Session } from '../core/session/session';
import {
  describeTracked,
  MemorySessionStore,
  SessionDigest,
  type SessionDescription,
  type SessionMeta,
  type SessionStore,
} from '../core/session/store';

export interface RedisSessionStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Names this instance as a session's owner (default: host, pid and a random suffix). */
  instanceId?: string;
  /** How long a finished session stays readable in Redis (ms). Default 15 minutes, the manager's retention. */
  retentionMs?: number;
  /**
   * Estimated bytes of row batches (`partial_results`) each session's stream holds; older entries are trimmed.
   * Default 8 MiB — more than the in-memory log's 1 MiB, because a reader on another instance cannot pace the
   * engine, so it needs more slack before it falls off the end.
   */
  rowBytesBudget?: number;
  /** Events each session's stream holds at most. Default 50,000 (as the in-memory log). */
  maxEvents?: number;
  /** Prefix of every key and of the cancel channel. Default `ceneca:`. */
  keyPrefix?: string;
  /** Shortest interval between two updates of a running session's meta hash (ms); state changes go at once. Default 500. */
  metaIntervalMs?: number;
  /** How long the shared follower's XREAD blocks before it looks again (ms). Default 5000. */
  blockMs?: number;
  /** How long a remote reader waits quietly before it checks that the session and its owner still exist (ms). Default 30 s. */
  ownerCheckMs?: number;
  /** Where the one-line notices go (degraded, recovered). Default console.warn. */
  log?: (message: string) => void;
}

const DEFAULT_RETENTION_MS = 15 * 60_000;
const DEFAULT_ROW_BYTES_BUDGET = 8 * 1024 * 1024;
const DEFAULT_MAX_EVENTS = 50_000;
const DEFAULT_KEY_PREFIX = 'ceneca:';
const DEFAULT_META_INTERVAL_MS = 500;
const DEFAULT_BLOCK_MS = 5_000;
const DEFAULT_OWNER_CHECK_MS = 30_000;
/** A running session's keys expire this long after their last update, so a crashed owner leaves nothing for ever. */
const RUNNING_TTL_MS = 60 * 60_000;
const HEARTBEAT_INTERVAL_MS = 10_000;
const HEARTBEAT_TTL_MS = 3 * HEARTBEAT_INTERVAL_MS;
/** After a failed write, the next attempt waits this long (the queue stays bounded by the stream budget meanwhile). */
const RETRY_MS = 1_000;
/** One pipeline carries at most this much event JSON; the rest goes in the next tick. */
const FLUSH_MAX_BYTES = 4 * 1024 * 1024;
const PAGE_SIZE = 256;
/** A reader may ask for an id the owner has appended but not yet written: it waits this long before RangeError. */
const CATCH_UP_GRACE_MS = 2_000;
/** A followed stream stays in the shared XREAD this long after its last reader waited, to spare restarts. */
const WATCH_LINGER_MS = 2_000;
const CLOSE_FLUSH_MS = 3_000;

export class RedisSessionStore implements SessionStore {
  readonly instanceId: string;
  private readonly keyPrefix: string;
  private readonly retentionMs: number;
  private readonly limits: StreamLimits;
  private readonly metaIntervalMs: number;
  private readonly ownerCheckMs: number;
  private readonly log: (message: string) => void;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly follower: StreamFollower;
  /** Sessions this instance runs (read from their local logs). */
  private readonly local = new Map<string, MirroredSession>();
  /** Sessions with events or a meta update still to write. */
  private readonly dirty = new Set<MirroredSession>();
  private flushScheduled = false;
  private flushAgain = false;
  private flushInFlight?: Promise<boolean>;
  private retryTimer?: NodeJS.Timeout;
  private metaTimer?: { at: number; timer: NodeJS.Timeout };
  private readonly heartbeatTimer: NodeJS.Timeout;
  private degradedSince?: number;
  private closing?: Promise<void>;

  constructor(options: RedisSessionStoreOptions) {
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.limits = {
      rowBytesBudget: options.rowBytesBudget ?? DEFAULT_ROW_BYTES_BUDGET,
      maxEvents: Math.max(1, Math.floor(options.maxEvents ?? DEFAULT_MAX_EVENTS)),
    };
    this.metaIntervalMs = options.metaIntervalMs ?? DEFAULT_META_INTERVAL_MS;
    this.ownerCheckMs = options.ownerCheckMs ?? DEFAULT_OWNER_CHECK_MS;
    this.log = options.log ?? ((message) => console.warn(message));

    const connect = (role: string): Redis => {
      const connection = new Redis(options.url, connectionOptions(`ceneca:${this.instanceId}:${role}`));
      connection.on('error', (error: unknown) => this.markDegraded(error));
      return connection;
    };
    this.commands = connect('commands');
    this.commands.on('ready', () => {
      if (this.degradedSince !== undefined && this.dirty.size === 0) this.markHealthy();
    });
    this.subscriber = connect('cancel');
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.cancelChannel) this.cancelFromMessage(message);
    });
    // ioredis resubscribes after a reconnection only to channels it once subscribed: retry a first attempt that failed.
    let subscription: 'pending' | 'active' | 'failed' = 'pending';
    const subscribe = (): void => {
      subscription = 'pending';
      this.subscriber.subscribe(this.cancelChannel).then(
        () => (subscription = 'active'),
        (error: unknown) => {
          subscription = 'failed';
          this.markDegraded(error);
        },
      );
    };
    this.subscriber.on('ready', () => {
      if (subscription === 'failed') subscribe();
    });
    subscribe();
    this.follower = new StreamFollower(
      () => connect('follow'),
      async (clientId) => Number(await this.commands.client('UNBLOCK', clientId)),
      options.blockMs ?? DEFAULT_BLOCK_MS,
      (error) => this.markDegraded(error),
    );
    this.heartbeatTimer = setInterval(() => this.beat(), HEARTBEAT_INTERVAL_MS);
    this.heartbeatTimer.unref();
    this.beat();
  }

  /** True while writes to Redis fail (sessions go on locally; other instances may not see their latest events). */
  get degraded(): boolean {
    return this.degradedSince !== undefined;
  }

  track(session: Session, meta: SessionMeta): void {
    const mirror = new MirroredSession(session, meta, this.keysOf(session.id), this.limits, session.log.firstHeldId);
    for (const event of session.log.snapshot()) mirror.append(event);
    this.local.set(session.id, mirror);
    if (this.closing) return; // closed: readable here only
    if (!mirror.ended) {
      mirror.detach = session.log.onAppend((event) => {
        mirror.append(event);
        if (mirror.ended) mirror.detach();
        this.markDirty(mirror);
      });
    }
    this.markDirty(mirror);
  }

  /** Drops the local entry; Redis keeps the session until its TTL (set to the retention window when it ended). */
  forget(id: string): void {
    this.local.delete(id);
  }

  async read(id: string, afterId: number, signal?: AbortSignal): Promise<AsyncIterableIterator<CenecaEvent> | undefined> {
    const mirror = this.local.get(id);
    if (mirror) {
      try {
        return mirror.session.log.subscribe(afterId, signal);
      } catch (error) {
        // The local log keeps less than the stream (its budget paces the engine); Redis may still hold the events.
        if (!(error instanceof ResumeGapError) || this.degraded) throw error;
      }
    }
    return this.readRemote(id, afterId, signal);
  }

  async describe(id: string): Promise<SessionDescription | undefined> {
    const mirror = this.local.get(id);
    if (mirror) return describeTracked(mirror);
    const fields = await this.commands.hgetall(this.keysOf(id).meta);
    return Object.keys(fields).length === 0 ? undefined : descriptionFromMeta(id, fields);
  }

  async cancel(id: string, message?: string): Promise<boolean> {
    const mirror = this.local.get(id);
    if (mirror) {
      if (mirror.session.ended) return false;
      mirror.session.cancel(message);
      return true;
    }
    const state = await this.commands.hget(this.keysOf(id).meta, 'state');
    if (state === null || state === 'finished') return false;
    await this.commands.publish(this.cancelChannel, JSON.stringify({ id, ...(message ? { message } : {}) }));
    return true;
  }

  /** Writes what is still queued (for a few seconds at most), then closes every connection. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.metaTimer) clearTimeout(this.metaTimer.timer);
    this.retryTimer = undefined;
    this.metaTimer = undefined;
    for (const mirror of this.local.values()) mirror.detach();
    // With Redis already gone, a last flush would only wait for the reconnection attempts to fail.
    if (!(this.degraded && this.commands.status !== 'ready')) await withTimeout(this.drain(), CLOSE_FLUSH_MS);
    this.follower.close();
    await Promise.all([
      withTimeout(this.commands.del(this.keyOf(`i:${this.instanceId}`)), 500).catch(() => undefined),
      quitOrDisconnect(this.subscriber),
    ]);
    await quitOrDisconnect(this.commands);
  }

  /** Flushes until nothing is queued or a write fails. */
  private async drain(): Promise<void> {
    // Each round writes up to FLUSH_MAX_BYTES; the cap on rounds only guards against a bookkeeping slip.
    for (let round = 0; round < 1_000; round++) {
      if (![...this.dirty].some((mirror) => mirror.hasQueuedWrites(Number.POSITIVE_INFINITY, this.metaIntervalMs))) return;
      if (!(await this.startFlush(true))) return;
    }
  }

  // ---- writing ----

  private markDirty(mirror: MirroredSession): void {
    this.dirty.add(mirror);
    this.requestFlush();
  }

  private requestFlush(): void {
    if (this.flushScheduled || this.closing) return;
    if (this.flushInFlight) {
      this.flushAgain = true;
      return;
    }
    if (this.retryTimer) return; // degraded: the retry timer flushes
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.startFlush(false);
    });
  }

  private startFlush(final: boolean): Promise<boolean> {
    if (this.flushInFlight) return this.flushInFlight.then(() => this.startFlush(final));
    const attempt = this.flushOnce(final).catch((error: unknown) => {
      this.markDegraded(error); // an unexpected throw must not leave a flush "in flight" for ever
      return false;
    });
    const flush = attempt.then((ok) => {
      this.flushInFlight = undefined;
      if (this.closing) return ok;
      if (!ok) {
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          void this.startFlush(false);
        }, RETRY_MS).unref();
        return ok;
      }
      const now = Date.now();
      if (this.flushAgain || [...this.dirty].some((m) => m.hasQueuedWrites(now, this.metaIntervalMs))) this.requestFlush();
      this.flushAgain = false;
      this.scheduleMetaFlush();
      return ok;
    });
    this.flushInFlight = flush;
    return flush;
  }

  /** One pipeline: each dirty session's new entries, its trim, and (throttled) its meta hash and TTLs. */
  private async flushOnce(final: boolean): Promise<boolean> {
    if (this.dirty.size === 0) return true;
    const now = Date.now();
    const pipeline = this.commands.pipeline();
    const plans: WritePlan[] = [];
    let bytesLeft = FLUSH_MAX_BYTES;
    for (const mirror of this.dirty) {
      const plan = this.planWrite(mirror, pipeline, now, bytesLeft, final);
      bytesLeft -= plan.bytes;
      plans.push(plan);
    }
    if (pipeline.length === 0) {
      for (const plan of plans) this.settle(plan);
      return true;
    }
    let results: Array<[error: Error | null, result: unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      this.markDegraded(error);
      return false;
    }
    // An XADD refused as "equal or smaller" was written by an earlier attempt whose reply was lost: nothing to redo.
    const failure = results === null ? new Error('the pipeline was discarded') : results.find(([error]) => error && !isAlreadyAdded(error))?.[0];
    if (failure) {
      this.markDegraded(failure);
      return false;
    }
    for (const plan of plans) this.settle(plan);
    this.markHealthy();
    return true;
  }

  private planWrite(mirror: MirroredSession, pipeline: ChainableCommander, now: number, bytesLeft: number, final: boolean): WritePlan {
    const { keys } = mirror;
    let bytes = 0;
    let lastId = mirror.lastWrittenId;
    let firstAdded: number | undefined;
    for (let i = 0; i < mirror.pending.length && bytes < bytesLeft; i++) {
      const event = mirror.pending.at(i)!;
      const json = JSON.stringify(event);
      bytes += json.length;
      pipeline.xadd(keys.events, streamIdOf(event.id), 'e', json);
      firstAdded ??= event.id;
      lastId = event.id;
    }
    const trimTo = mirror.firstId > mirror.trimmedTo && lastId >= mirror.firstId ? mirror.firstId : undefined;
    if (trimTo !== undefined) pipeline.xtrim(keys.events, 'MINID', streamIdOf(trimTo));

    const wanted = mirror.metaAt(lastId, mirror.heldFrom(trimTo, firstAdded));
    let meta: MetaWritten | undefined;
    if (mirror.metaDue(wanted, final ? Number.POSITIVE_INFINITY : now, this.metaIntervalMs)) {
      const ttl = wanted.terminal ? this.retentionMs : RUNNING_TTL_MS;
      pipeline.hset(keys.meta, this.metaFields(mirror, wanted));
      pipeline.pexpire(keys.meta, ttl);
      if (lastId > 0) pipeline.pexpire(keys.events, ttl);
      meta = { at: now, state: wanted.state, lastId: wanted.lastId, firstId: wanted.firstId };
    } else if (!mirror.streamExpirySet && lastId > 0) {
      pipeline.pexpire(keys.events, RUNNING_TTL_MS);
    }
    return { mirror, lastId, firstAdded, trimTo, meta, bytes, expirySet: lastId > 0 };
  }

  private metaFields(mirror: MirroredSession, wanted: WantedMeta): Record<string, string | number> {
    const { meta, digest } = mirror;
    return {
      kind: meta.kind,
      ...(meta.question !== undefined ? { question: meta.question } : {}),
      createdAt: meta.createdAt,
      owner: this.instanceId,
      state: wanted.state,
      phase: digest.phase,
      lastId: wanted.lastId,
      firstId: wanted.firstId,
      rowsDelivered: digest.rowsDelivered,
      sources: JSON.stringify(digest.sources),
      ...(digest.progress ? { progress: JSON.stringify(digest.progress) } : {}),
      ...(wanted.terminal ? { terminal: JSON.stringify(wanted.terminal) } : {}),
    };
  }

  private settle(plan: WritePlan): void {
    const { mirror } = plan;
    mirror.written(plan.lastId, plan.firstAdded);
    if (plan.trimTo !== undefined) mirror.trimmedTo = plan.trimTo;
    if (plan.meta) mirror.metaWritten = plan.meta;
    if (plan.expirySet) mirror.streamExpirySet = true;
    if (!mirror.hasQueuedWrites(Number.POSITIVE_INFINITY, this.metaIntervalMs)) this.dirty.delete(mirror);
  }

  /** A running session's meta update that the throttle held back goes out when its interval has passed. */
  private scheduleMetaFlush(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const mirror of this.dirty) {
      if (mirror.pending.length > 0 || !mirror.metaWritten) continue;
      earliest = Math.min(earliest, mirror.metaWritten.at + this.metaIntervalMs);
    }
    if (!Number.isFinite(earliest) || this.closing) return;
    if (this.metaTimer && this.metaTimer.at <= earliest) return;
    if (this.metaTimer) clearTimeout(this.metaTimer.timer);
    const timer = setTimeout(() => {
      this.metaTimer = undefined;
      this.requestFlush();
    }, Math.max(0, earliest - Date.now()));
    timer.unref();
    this.metaTimer = { at: earliest, timer };
  }

  private beat(): void {
    this.commands.set(this.keyOf(`i:${this.instanceId}`), String(Date.now()), 'PX', HEARTBEAT_TTL_MS).catch((error: unknown) => this.markDegraded(error));
  }

  private markDegraded(error: unknown): void {
    if (this.degradedSince !== undefined || this.closing) return;
    this.degradedSince = Date.now();
    const reason = error instanceof Error ? error.message : String(error);
    this.log(`ceneca: the Redis session store is degraded (${reason}); sessions go on locally, other instances may miss their latest events, and writes are retried`);
  }

  private markHealthy(): void {
    if (this.degradedSince === undefined) return;
    this.degradedSince = undefined;
    this.log('ceneca: the Redis session store has recovered');
  }

  // ---- reading another instance's session ----

  private async readRemote(id: string, afterId: number, signal?: AbortSignal): Promise<AsyncIterableIterator<CenecaEvent> | undefined> {
    if (!Number.isInteger(afterId) || afterId < 0) throw new RangeError(`session ${id} has no event ${afterId}`);
    const keys = this.keysOf(id);
    const state = await this.commands.hget(keys.meta, 'state');
    if (state === null) return undefined;
    let firstPage = await this.pageAfter(keys.events, afterId);
    if (firstPage.length === 0) {
      // Nothing after afterId yet: the reader is caught up, or asks beyond the last event. The owner writes a tick
      // behind its own log, so an id it has already sent elsewhere gets a short grace before it counts as beyond.
      const deadline = Date.now() + CATCH_UP_GRACE_MS;
      for (;;) {
        const last = (await this.commands.xrevrange(keys.events, '+', '-', 'COUNT', 1))[0];
        const lastId = last ? eventIdOf(last[0]) : 0;
        if (last && afterId === lastId && isTerminal(parseEntry(last, id))) return emptyIterator();
        if (afterId <= lastId) {
          firstPage = await this.pageAfter(keys.events, afterId);
          break;
        }
        const finished = (await this.commands.hget(keys.meta, 'state')) === 'finished';
        if (finished || Date.now() >= deadline) throw new RangeError(`session ${id} has no event ${afterId} (last is ${lastId})`);
        const outcome = await this.follower.waitBeyond(keys.events, lastId, deadline - Date.now(), signal);
        if (outcome === 'aborted' || outcome === 'closed') return emptyIterator();
      }
    }
    const first = firstPage[0];
    if (first && eventIdOf(first[0]) !== afterId + 1) throw new ResumeGapError(eventIdOf(first[0]), afterId);

    const stop = new AbortController();
    const readerSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    return stoppable(this.followRemote(id, afterId, firstPage, readerSignal), stop);
  }

  private async *followRemote(id: string, afterId: number, firstPage: StreamEntry[], signal: AbortSignal): AsyncGenerator<CenecaEvent> {
    const keys = this.keysOf(id);
    let position = afterId;
    let page = firstPage;
    for (;;) {
      for (const entry of page) {
        if (signal.aborted) return;
        const eventId = eventIdOf(entry[0]);
        // Entries older than this reader's position were trimmed while it read: it cannot go on without a hole.
        if (eventId !== position + 1) throw new ResumeGapError(eventId, position);
        const event = parseEntry(entry, id);
        yield event;
        position = eventId;
        if (isTerminal(event)) return;
      }
      if (signal.aborted) return;
      page = await this.pageAfter(keys.events, position);
      if (page.length > 0) continue;
      const outcome = await this.follower.waitBeyond(keys.events, position, this.ownerCheckMs, signal);
      if (outcome === 'aborted') return;
      if (outcome === 'closed') throw new Error('the Redis session store was closed');
      if (outcome === 'timeout') await this.checkStillRunning(id);
    }
  }

  /** A quiet session must still exist, and its owner must still be alive; otherwise its terminal event will never come. */
  private async checkStillRunning(id: string): Promise<void> {
    const [state, owner] = await this.commands.hmget(this.keysOf(id).meta, 'state', 'owner');
    if (state === null) throw new Error(`session ${id} expired from Redis before its terminal event`);
    if (state === 'finished' || !owner) return;
    if ((await this.commands.exists(this.keyOf(`i:${owner}`))) === 0) {
      throw new Error(`the instance running session ${id} (${owner}) stopped before the session ended`);
    }
  }

  private pageAfter(key: string, afterId: number): Promise<StreamEntry[]> {
    return this.commands.xrange(key, `(${streamIdOf(afterId)}`, '+', 'COUNT', PAGE_SIZE);
  }

  private cancelFromMessage(message: string): void {
    let id = message;
    let reason: string | undefined;
    try {
      const parsed: unknown = JSON.parse(message);
      if (isRecord(parsed) && typeof parsed.id === 'string') {
        id = parsed.id;
        if (typeof parsed.message === 'string') reason = parsed.message;
      }
    } catch {
      // a bare id
    }
    const mirror = this.local.get(id);
    if (mirror && !mirror.session.ended) mirror.session.cancel(reason);
  }

  private get cancelChannel(): string {
    return this.keyOf('cancel');
  }

  private keyOf(suffix: string): string {
    return `${this.keyPrefix}${suffix}`;
  }

  private keysOf(id: string): SessionKeys {
    return { events: this.keyOf(`s:${id}:events`), meta: this.keyOf(`s:${id}:meta`) };
  }
}

/**
 * `ceneca serve`'s choice: a RedisSessionStore when CENECA_REDIS_URL is set (several instances share sessions),
 * otherwise the in-memory store — without Redis configured nothing changes.
 */
export function sessionStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: Omit<RedisSessionStoreOptions, 'url'> = {},
): SessionStore {
  const url = env.CENECA_REDIS_URL?.trim();
  if (!url) return new MemorySessionStore();
  return new RedisSessionStore({ ...options, url, ...(env.CENECA_INSTANCE_ID ? { instanceId: env.CENECA_INSTANCE_ID } : {}) });
}

// ---- the mirror of one local session ----

interface StreamLimits {
  rowBytesBudget: number;
  maxEvents: number;
}

interface SessionKeys {
  events: string;
  meta: string;
}

interface WritePlan {
  mirror: MirroredSession;
  lastId: number;
  firstAdded?: number;
  trimTo?: number;
  meta?: MetaWritten;
  bytes: number;
  expirySet: boolean;
}

interface MetaWritten {
  at: number;
  state: SessionDescription['state'];
  lastId: number;
  firstId: number;
}

/** What the meta hash should say once the stream holds events up to `lastId`. */
interface WantedMeta {
  state: SessionDescription['state'];
  lastId: number;
  firstId: number;
  terminal?: EventOf<'complete'> | EventOf<'error'>;
}

/** One session this instance runs: its digest, and the events still to write with the stream's budget. */
class MirroredSession {
  readonly digest = new SessionDigest();
  /** Appended, not yet written (oldest first); never older than `firstId`. */
  readonly pending = new Fifo<CenecaEvent>();
  /** Row batches the stream holds (or will), for the byte budget. */
  private readonly rowBatches = new Fifo<{ id: number; bytes: number }>();
  private rowBytesHeld = 0;
  /** The oldest id the stream may hold; older entries are trimmed (or, when Redis lags, never written). */
  firstId: number;
  /** The trim already applied in Redis. */
  trimmedTo = 1;
  lastWrittenId = 0;
  /** The first event ever written to the stream (the stream starts there until trimmed). */
  firstWrittenId?: number;
  metaWritten?: MetaWritten;
  streamExpirySet = false;
  ended = false;
  detach: () => void = () => undefined;

  constructor(
    readonly session: Session,
    readonly meta: SessionMeta,
    readonly keys: SessionKeys,
    private readonly limits: StreamLimits,
    firstHeldId: number,
  ) {
    this.firstId = firstHeldId;
  }

  append(event: CenecaEvent): void {
    this.digest.apply(event);
    this.pending.push(event);
    if (event.type === 'partial_results') {
      const bytes = estimateRowBytes(event.rows);
      this.rowBatches.push({ id: event.id, bytes });
      this.rowBytesHeld += bytes;
    }
    this.applyBudget(event.id);
    if (isTerminal(event)) this.ended = true;
  }

  /** Moves `firstId` past what the count and byte budgets no longer allow; the newest event always stays. */
  private applyBudget(lastId: number): void {
    let first = Math.max(this.firstId, lastId - this.limits.maxEvents + 1);
    while (this.rowBytesHeld > this.limits.rowBytesBudget && this.rowBatches.length > 1) {
      const oldest = this.rowBatches.shift()!;
      this.rowBytesHeld -= oldest.bytes;
      first = Math.max(first, oldest.id + 1);
    }
    for (let oldest = this.rowBatches.peek(); oldest && oldest.id < first; oldest = this.rowBatches.peek()) {
      this.rowBatches.shift();
      this.rowBytesHeld -= oldest.bytes;
    }
    this.firstId = Math.min(first, lastId);
    for (let oldest = this.pending.peek(); oldest && oldest.id < this.firstId; oldest = this.pending.peek()) this.pending.shift();
  }

  written(lastId: number, firstAdded: number | undefined): void {
    this.lastWrittenId = Math.max(this.lastWrittenId, lastId);
    this.firstWrittenId ??= firstAdded;
    for (let oldest = this.pending.peek(); oldest && oldest.id <= this.lastWrittenId; oldest = this.pending.peek()) this.pending.shift();
  }

  /** The oldest id the stream holds once a write that trims to `trimTo` and adds from `firstAdded` is done. */
  heldFrom(trimTo: number | undefined, firstAdded: number | undefined): number {
    return Math.max(trimTo ?? this.trimmedTo, this.firstWrittenId ?? firstAdded ?? this.firstId);
  }

  metaAt(lastId: number, heldFrom: number): WantedMeta {
    // "finished" only once the terminal event is in the stream, so a remote reader never waits for it in vain.
    const terminal = this.digest.terminal && this.digest.terminal.id <= lastId ? this.digest.terminal : undefined;
    const state = terminal ? 'finished' : this.digest.state === 'finished' ? 'running' : this.digest.state;
    return { state, lastId, firstId: lastId === 0 ? heldFrom : Math.min(heldFrom, lastId), ...(terminal ? { terminal } : {}) };
  }

  /** State changes go out at once; progress (last id, trim) at most once per interval. */
  metaDue(wanted: WantedMeta, now: number, intervalMs: number): boolean {
    const written = this.metaWritten;
    if (!written || written.state !== wanted.state) return true;
    const moved = written.lastId !== wanted.lastId || written.firstId !== wanted.firstId;
    return moved && now - written.at >= intervalMs;
  }

  /** Whether a write is owed at `now`: events queued, or a meta update the throttle no longer holds back. */
  hasQueuedWrites(now: number, metaIntervalMs: number): boolean {
    if (this.pending.length > 0) return true;
    return this.metaDue(this.metaAt(this.lastWrittenId, this.heldFrom(undefined, undefined)), now, metaIntervalMs);
  }
}

// ---- the shared follower (one blocking connection per store) ----

type WaitOutcome = 'advanced' | 'timeout' | 'aborted' | 'closed';

interface Waiter {
  finish(outcome: WaitOutcome): void;
}

interface StreamWatch {
  /** The highest event id known to exist in the stream: XREAD waits for anything after it. */
  position: number;
  waiters: Set<Waiter>;
  lastWaitAt: number;
}

interface FollowCycle {
  keys: Set<string>;
  clientId: number;
  unblockSent: boolean;
}

class StreamFollower {
  private readonly watches = new Map<string, StreamWatch>();
  private connection?: Redis;
  private clientId?: number;
  private cycle?: FollowCycle;
  private looping = false;
  private closed = false;

  constructor(
    private readonly open: () => Redis,
    private readonly unblock: (clientId: number) => Promise<number>,
    private readonly blockMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Resolves once stream `key` holds an entry after event `position`, or after `maxWaitMs`, on abort, or on close. */
  waitBeyond(key: string, position: number, maxWaitMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    let watch = this.watches.get(key);
    if (watch && watch.position > position) return Promise.resolve('advanced');
    if (!watch) {
      watch = { position, waiters: new Set(), lastWaitAt: 0 };
      this.watches.set(key, watch);
    } else if (watch.position < position) {
      // This reader has seen a later entry than the others wait after: they can go on.
      watch.position = position;
      this.release(watch, 'advanced');
    }
    const target = watch;
    target.lastWaitAt = Date.now();
    return new Promise<WaitOutcome>((resolve) => {
      const onAbort = (): void => waiter.finish('aborted');
      const timer = setTimeout(() => waiter.finish('timeout'), Math.max(0, maxWaitMs));
      timer.unref();
      const waiter: Waiter = {
        finish: (outcome) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          target.waiters.delete(waiter);
          resolve(outcome);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      target.waiters.add(waiter);
      this.follow(key);
    });
  }

  /** Readers waiting here (for metrics and tests). */
  get waiting(): number {
    let count = 0;
    for (const watch of this.watches.values()) count += watch.waiters.size;
    return count;
  }

  close(): void {
    this.closed = true;
    for (const watch of this.watches.values()) this.release(watch, 'closed');
    this.watches.clear();
    this.connection?.disconnect();
  }

  private follow(key: string): void {
    if (!this.looping) {
      void this.loop();
      return;
    }
    // The XREAD in flight does not watch this key: restart it (a key it watches wakes it anyway).
    const cycle = this.cycle;
    if (cycle && !cycle.keys.has(key) && !cycle.unblockSent) {
      cycle.unblockSent = true;
      void this.interrupt(cycle);
    }
  }

  private async interrupt(cycle: FollowCycle): Promise<void> {
    // The XREAD may not have reached the server yet (then UNBLOCK finds nobody blocked): try again briefly.
    for (let attempt = 0; attempt < 6 && this.cycle === cycle; attempt++) {
      const unblocked = await this.unblock(cycle.clientId).catch(() => 0);
      if (unblocked === 1) return;
      await delay(2 << attempt);
    }
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (!this.closed) {
        this.prune();
        if (this.watches.size === 0) break;
        const connection = this.connect();
        try {
          this.clientId ??= await connection.client('ID');
          const keys = [...this.watches.keys()];
          const ids = keys.map((key) => streamIdOf(this.watches.get(key)!.position));
          this.cycle = { keys: new Set(keys), clientId: this.clientId, unblockSent: false };
          const reply = await connection.xread('COUNT', 1, 'BLOCK', this.blockMs, 'STREAMS', ...keys, ...ids);
          this.cycle = undefined;
          for (const [key, entries] of reply ?? []) {
            const newest = entries[entries.length - 1];
            if (newest) this.advance(key, eventIdOf(newest[0]));
          }
        } catch (error) {
          this.cycle = undefined;
          if (this.closed) break;
          this.onError(error);
          await delay(RETRY_MS);
        }
      }
    } finally {
      this.looping = false;
      this.cycle = undefined;
    }
  }

  private connect(): Redis {
    if (!this.connection) {
      const connection = this.open();
      connection.on('close', () => {
        this.clientId = undefined; // a reconnection gets a new client id
      });
      this.connection = connection;
    }
    return this.connection;
  }

  private advance(key: string, eventId: number): void {
    const watch = this.watches.get(key);
    if (!watch || eventId <= watch.position) return;
    watch.position = eventId;
    this.release(watch, 'advanced');
  }

  private release(watch: StreamWatch, outcome: WaitOutcome): void {
    for (const waiter of [...watch.waiters]) waiter.finish(outcome);
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, watch] of this.watches) {
      if (watch.waiters.size === 0 && now - watch.lastWaitAt > WATCH_LINGER_MS) this.watches.delete(key);
    }
  }
}

// ---- helpers ----

type StreamEntry = [id: string, fields: string[]];

function connectionOptions(connectionName: string): RedisOptions {
  return {
    connectionName: connectionName.replace(/[^\w.:-]/g, '_'),
    // Fail a command after one reconnection attempt instead of queueing it: the write queue retries by itself
    // and stays bounded, and a reader gets an error it can report.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
  };
}

function streamIdOf(eventId: number): string {
  return `0-${eventId}`;
}

function eventIdOf(streamId: string): number {
  const dash = streamId.indexOf('-');
  const eventId = Number(streamId.slice(dash + 1));
  if (dash < 0 || streamId.slice(0, dash) !== '0' || !Number.isInteger(eventId)) throw new Error(`unexpected stream entry id ${streamId}`);
  return eventId;
}

/** Entries come from our own instances, so they are trusted: parsed and checked for id and session, not validated. */
function parseEntry([streamId, fields]: StreamEntry, sessionId: string): CenecaEvent {
  const index = fields.indexOf('e');
  const json = index >= 0 && index % 2 === 0 ? fields[index + 1] : undefined;
  const parsed: unknown = json === undefined ? undefined : JSON.parse(json);
  if (!isRecord(parsed) || parsed.id !== eventIdOf(streamId) || parsed.session !== sessionId) {
    throw new Error(`stream entry ${streamId} of session ${sessionId} does not hold its event`);
  }
  return parsed as unknown as CenecaEvent;
}

function isAlreadyAdded(error: Error): boolean {
  return /equal or smaller than the target stream top item/i.test(error.message);
}

function descriptionFromMeta(id: string, fields: Record<string, string>): SessionDescription {
  const phase = phaseSchema.safeParse(fields.phase);
  const state = fields.state === 'queued' || fields.state === 'running' || fields.state === 'finished' ? fields.state : 'running';
  const progress = parseProgress(fields.progress);
  const sources = parseJson(fields.sources);
  const terminal = parseTerminal(fields.terminal);
  return {
    id,
    kind: fields.kind ?? 'query',
    ...(fields.question !== undefined ? { question: fields.question } : {}),
    createdAt: Number(fields.createdAt) || 0,
    state,
    phase: phase.success ? phase.data : 'session',
    lastEventId: Number(fields.lastId) || 0,
    firstHeldId: Number(fields.firstId) || 1,
    ...(progress ? { progress } : {}),
    sources: Array.isArray(sources) ? sources.filter((s): s is string => typeof s === 'string') : [],
    rowsDelivered: Number(fields.rowsDelivered) || 0,
    ...(terminal ? { terminal } : {}),
  };
}

function parseProgress(json: string | undefined): SessionDescription['progress'] {
  const value = parseJson(json);
  if (!isRecord(value)) return undefined;
  const { step, total, percentage, etaMs } = value;
  if (typeof step !== 'number' || typeof total !== 'number' || typeof percentage !== 'number') return undefined;
  return { step, total, percentage, ...(typeof etaMs === 'number' ? { etaMs } : {}) };
}

/** The meta hash crosses a trust boundary of sorts (another process wrote it): the terminal event is validated. */
function parseTerminal(json: string | undefined): EventOf<'complete'> | EventOf<'error'> | undefined {
  const value = parseJson(json);
  if (value === undefined) return undefined;
  const checked = validateEvent(value);
  if (!checked.ok) return undefined;
  const event = checked.event;
  return event.type === 'complete' || event.type === 'error' ? event : undefined;
}

function parseJson(json: string | undefined): unknown {
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An iterator whose `return()` also aborts `stop`, so a reader waiting for the next entry ends at once (an async generator's own return() would queue behind that wait). */
function stoppable(events: AsyncGenerator<CenecaEvent>, stop: AbortController): AsyncIterableIterator<CenecaEvent> {
  return {
    next: () => events.next(),
    return: (value?: unknown) => {
      stop.abort();
      return events.return(value as CenecaEvent);
    },
    throw: (error?: unknown) => events.throw(error),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function emptyIterator(): AsyncIterableIterator<CenecaEvent> {
  return (async function* (): AsyncGenerator<CenecaEvent> {})();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** QUIT when the connection is up (it waits for pending replies), otherwise drop it: a dead Redis must not hang close(). */
async function quitOrDisconnect(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    const quit = await withTimeout(connection.quit().catch(() => 'failed'), 1_000);
    if (quit === 'OK') return;
  }
  connection.disconnect();
}

/** A queue with O(1) shift (Array#shift copies), compacted now and then. */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  at(index: number): T | undefined {
    return index < 0 || index >= this.length ? undefined : this.items[this.head + index];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
