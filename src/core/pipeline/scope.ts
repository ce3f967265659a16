/**
 * Where a run of the pipeline writes its events: straight into the session, or — for one operation of a
 * cross-database plan — into the session with the operation's id on every event, under the plan's own abort
 * signal (one failing operation cancels its siblings, not the whole session's bookkeeping).
 */
import type { EventPayload, Phase } from '../events';
import type { Session } from '../session/session';

export interface RunScope {
  readonly signal: AbortSignal;
  phase: Phase;
  emit(payload: EventPayload): void;
  /** Pauses the producer while the slowest reader of the session is more than `maxLag` events behind. */
  waitForRoom(maxLag: number, signal: AbortSignal): Promise<void>;
  /** The single pipeline's six steps are its progress; inside a plan the plan reports progress instead. */
  readonly reportsProgress: boolean;
  /** Set inside a plan: result ids start with it, so two operations on one source never share a result id. */
  readonly operationId?: string;
}

export function sessionScope(session: Session): RunScope {
  return {
    get signal() {
      return session.signal;
    },
    get phase() {
      return session.phase;
    },
    set phase(phase: Phase) {
      session.phase = phase;
    },
    emit: (payload) => void session.emit(payload),
    waitForRoom: (maxLag, signal) => session.log.waitForRoom(maxLag, signal),
    reportsProgress: true,
  };
}

/** One operation of a plan: its events carry `operationId`. */
export function operationScope(session: Session, operationId: string, signal: AbortSignal): RunScope {
  let phase: Phase = 'plan';
  return {
    signal,
    get phase() {
      return phase;
    },
    set phase(next: Phase) {
      phase = next;
    },
    emit: (payload) => void session.emit({ ...payload, operationId } as EventPayload),
    waitForRoom: (maxLag, waitSignal) => session.log.waitForRoom(maxLag, waitSignal),
    reportsProgress: false,
    operationId,
  };
}
