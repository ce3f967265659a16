/**
 * One question's run: owns the event log, the abort controller, and the overall and idle timeouts.
 * The engine emits payloads; the session guarantees exactly one terminal event, last.
 */
import { randomUUID } from 'node:crypto';
import type { CenecaEvent, ErrorCode, EventOf, EventPayload, Phase } from '../events';
import { SessionLog } from './log';

export interface SessionOptions {
  id?: string;
  /** Whole-session limit (ms). */
  timeoutMs?: number;
  /** Longest quiet spell between two events (ms). */
  idleTimeoutMs?: number;
  /** An outer cancel (e.g. Ctrl-C or an HTTP client) that aborts this session. */
  signal?: AbortSignal;
  /** How long cancelled work may take to wind down before the terminal event is written anyway (ms). */
  cancelGraceMs?: number;
  /** How many events, and how many estimated bytes of row batches, the log keeps for late subscribers and resumes (see SessionLogOptions). */
  retainEvents?: number;
  rowBytesBudget?: number;
}

const DEFAULT_RETAINED_EVENTS = 50_000;

/** Why a session's signal aborted; the terminal error's code comes from here. */
export class SessionAbort extends Error {
  constructor(
    readonly code: Extract<ErrorCode, 'cancelled' | 'timeout' | 'idle_timeout'>,
    message: string,
  ) {
    super(message);
    this.name = 'SessionAbort';
  }
}

/** An error the engine raises on purpose: it becomes the terminal `error` event as given. */
export class PipelineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly phase: Phase,
    readonly suggestion?: string,
  ) {
    super(message);
    this.name = 'PipelineError';
  }
}

export type CompleteSummary = EventOf<'complete'>['summary'];

export class Session {
  readonly id: string;
  readonly log: SessionLog;
  /** The phase the engine is in; a fatal error is reported against it. */
  phase: Phase = 'classify';
  private readonly controller = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private idleTimer?: NodeJS.Timeout;
  private readonly idleTimeoutMs: number;
  private readonly cancelGraceMs: number;
  private readonly detachOuter: () => void;

  constructor(options: SessionOptions = {}) {
    this.id = options.id ?? randomUUID();
    this.log = new SessionLog(this.id, { retainEvents: options.retainEvents ?? DEFAULT_RETAINED_EVENTS, rowBytesBudget: options.rowBytesBudget });
    this.idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.cancelGraceMs = options.cancelGraceMs ?? 3_000;
    const timeoutMs = options.timeoutMs ?? 600_000;
    this.timers.push(setTimeout(() => this.abort(new SessionAbort("timeout", `the question took longer than ${formatMs(timeoutMs)}`)), timeoutMs).unref());
    this.armIdleTimer();
    const outer = options.signal;
    const onOuterAbort = (): void => this.cancel();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    this.detachOuter = () => outer?.removeEventListener('abort', onOuterAbort);
    if (outer?.aborted) this.cancel();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get ended(): boolean {
    return this.log.closed;
  }

  cancel(message = 'cancelled by the user'): void {
    this.abort(new SessionAbort('cancelled', message));
  }

  /** Appends an event unless the session has ended (late events from winding-down work are dropped). */
  emit(payload: EventPayload): CenecaEvent | undefined {
    if (this.log.closed) return undefined;
    this.armIdleTimer();
    return this.log.append(payload);
  }

  /**
   * Runs the engine's work and writes the terminal event: `complete` with the summary it returns, or `error`
   * for whatever stopped it. Resolves once the terminal event is in the log.
   */
  async run(work: (session: Session) => Promise<CompleteSummary>): Promise<void> {
    const aborted = new Promise<'aborted'>((resolve) => {
      // Already aborted (an outer signal aborted before the session began, or cancel() before run): no event will come.
      if (this.signal.aborted) resolve('aborted');
      this.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    // A synchronous throw in `work` becomes a rejection, so it still ends in a terminal event.
    const outcome = Promise.resolve()
      .then(() => work(this))
      .then(
      (summary) => ({ summary }),
      (error: unknown) => ({ error }),
    );
    try {
      const first = await Promise.race([outcome, aborted]);
      if (first === 'aborted') {
        // Give the work its chance to close cursors and requests, but never wait on it for ever.
        await Promise.race([outcome, delay(this.cancelGraceMs)]);
        this.finishWithAbort();
        return;
      }
      if ('summary' in first) {
        this.phase = 'session';
        this.emit({ type: 'complete', summary: first.summary });
      } else if (this.signal.aborted) {
        this.finishWithAbort();
      } else {
        this.fail(first.error);
      }
    } finally {
      this.dispose();
    }
  }

  private finishWithAbort(): void {
    const reason: unknown = this.signal.reason;
    const abort = reason instanceof SessionAbort ? reason : new SessionAbort('cancelled', 'cancelled');
    this.emit({ type: 'error', code: abort.code, message: abort.message, phase: this.phase, recoverable: false });
  }

  private fail(error: unknown): void {
    if (error instanceof PipelineError) {
      this.emit({
        type: 'error',
        code: error.code,
        message: error.message,
        phase: error.phase,
        recoverable: false,
        ...(error.suggestion ? { suggestion: error.suggestion } : {}),
      });
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.emit({ type: 'error', code: 'internal', message: message || 'unexpected failure', phase: this.phase, recoverable: false });
  }

  private abort(reason: SessionAbort): void {
    if (this.controller.signal.aborted || this.log.closed) return;
    this.controller.abort(reason);
  }

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.abort(new SessionAbort('idle_timeout', `no progress for ${formatMs(this.idleTimeoutMs)}`)),
      this.idleTimeoutMs,
    ).unref();
  }

  private dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.detachOuter();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
