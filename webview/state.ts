/**
 * What a view keeps across a reload, and how it resumes — without ever showing an event twice or a silent gap.
 *
 * Ordering. A view applies a session's events strictly in id order: an event whose id is ≤ the last applied id
 * is a duplicate and is ignored; an event whose id skips ahead is not applied (nor anything after it in the
 * batch) — the view posts `ready` with its last id again so the host resends from there (rate-limited, so a burst
 * of out-of-order batches asks once).
 *
 * Saved state (`setState`). A snapshot of the model, taken whole at one instant, so it is consistent with its
 * own `lastId`: the session id, lastId, steps, status, queries, analysis, errors, notices, (chat) the turns and
 * their analyses — and, per result, the columns, at most the first ROWS_KEPT rows (and at most
 * CELL_CHARS_KEPT characters of cells) plus `received`, the number of rows the session had sent. Never a million
 * rows: the state is serialised on every save.
 *
 * Resume after a reload (the webview is destroyed when hidden unless retainContextWhenHidden, and on a window
 * reload), on restoring a snapshot:
 *  1. No rows were dropped from it (every result holds all the rows it received): post `ready` with its lastId.
 *     The host replays what came after; the model continues exactly where the snapshot stopped. Lossless.
 *  2. Rows were dropped: the rows lie in events at or below lastId, which a resume from lastId never replays, and
 *     rows cannot be spliced back into the middle of a model without re-applying the events around them. So the
 *     view shows the snapshot (its first rows) and asks for a FULL replay: `ready` with lastId 0. The replay is
 *     applied to a fresh model in the background; once it has caught up with the snapshot's lastId it replaces
 *     the snapshot (every row once, nothing twice), and the live events follow in order. Lossless whenever the
 *     host's log still holds the whole session.
 *  3. The host answers the full replay with `resume-gap` (its log dropped the early events — long row streams are
 *     held against a byte budget): the fresh model is discarded, the snapshot stays, its results that lost rows
 *     are marked `lostRows` and say so ("showing the first 2,000 of N rows kept across the reload; re-run for
 *     all", with a Re-run button). If the log still holds everything after the snapshot's lastId (gap.firstId ≤
 *     lastId + 1) the view resumes from lastId — steps, analysis and later results stay complete; later batches
 *     of a result that lost rows only raise its count (they cannot be placed after the missing rows). Otherwise
 *     the events after lastId are gone too, and the view shows the "some events are no longer available" notice.
 *  The chat view keeps no rows, so it always resumes as in 1.
 */
import type { SessionModel, ResultModel } from './model';
import { newSession } from './model';

export const STATE_VERSION = 1;
export const ROWS_KEPT = 2_000;
export const CELL_CHARS_KEPT = 2_000_000;

export interface ResultsViewState {
  v: typeof STATE_VERSION;
  view: 'results';
  session?: SessionModel;
}

export interface ChatViewState {
  v: typeof STATE_VERSION;
  view: 'chat';
  turns: SessionModel[];
  /** The next question continues the conversation (false after "New conversation"). */
  followUp: boolean;
  draft: string;
}

/** A copy of the model that is safe to serialise: at most ROWS_KEPT rows (and CELL_CHARS_KEPT characters) per result. */
export function snapshotSession(model: SessionModel): SessionModel {
  return { ...model, results: model.results.map(snapshotResult) };
}

function snapshotResult(result: ResultModel): ResultModel {
  let kept = Math.min(result.rows.length, ROWS_KEPT);
  let chars = 0;
  for (let i = 0; i < kept; i++) {
    const row = result.rows[i]!;
    for (const cell of row) chars += typeof cell === 'string' ? cell.length + 2 : 8;
    if (chars > CELL_CHARS_KEPT) {
      kept = i;
      break;
    }
  }
  return { ...result, rows: kept === result.rows.length ? result.rows : result.rows.slice(0, kept) };
}

/** Results whose snapshot holds fewer rows than the session sent. */
export function resultsMissingRows(model: SessionModel): ResultModel[] {
  return model.keepRows ? model.results.filter((r) => r.rows.length < r.received) : [];
}

/** Case 2 above: the snapshot dropped rows, so a resume from lastId would leave them out. */
export function needsFullReplay(model: SessionModel): boolean {
  return resultsMissingRows(model).length > 0;
}

/** Case 3 above: the rows that could not be replayed are marked lost and the view says so. */
export function markRowsLost(model: SessionModel): void {
  for (const result of resultsMissingRows(model)) {
    result.lostRows = true;
    result.version++;
  }
  model.rev.results++;
}

/** Reads a saved session back, or undefined when it is not one this version wrote. */
export function restoreSession(value: unknown, keepRows: boolean): SessionModel | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const raw = value as Partial<SessionModel>;
  if (typeof raw.session !== 'string' || !raw.session || typeof raw.lastId !== 'number' || !Number.isInteger(raw.lastId) || raw.lastId < 0) return undefined;
  const fresh = newSession(raw.session, typeof raw.question === 'string' ? raw.question : '', typeof raw.startedAt === 'number' ? raw.startedAt : Date.now(), keepRows);
  const model: SessionModel = { ...fresh, ...raw, keepRows, rev: { ...fresh.rev } } as SessionModel;
  if (!Array.isArray(model.steps) || !Array.isArray(model.results) || !Array.isArray(model.queries) || !Array.isArray(model.notices)) return undefined;
  for (const result of model.results) {
    if (!Array.isArray(result.rows) || !Array.isArray(result.columns)) return undefined;
    result.version = 0;
    if (!keepRows) result.rows = [];
  }
  return model;
}

export function restoreResultsState(value: unknown): SessionModel | undefined {
  const raw = value as Partial<ResultsViewState> | undefined;
  if (!raw || raw.v !== STATE_VERSION || raw.view !== 'results') return undefined;
  return raw.session ? restoreSession(raw.session, true) : undefined;
}

export function restoreChatState(value: unknown): { turns: SessionModel[]; followUp: boolean; draft: string } {
  const raw = value as Partial<ChatViewState> | undefined;
  if (!raw || raw.v !== STATE_VERSION || raw.view !== 'chat' || !Array.isArray(raw.turns)) return { turns: [], followUp: true, draft: '' };
  const turns = raw.turns.map((t) => restoreSession(t, false)).filter((t): t is SessionModel => t !== undefined);
  return { turns, followUp: raw.followUp !== false, draft: typeof raw.draft === 'string' ? raw.draft : '' };
}

export interface AcceptOutcome {
  applied: number;
  /** Set when an event skipped ahead: the model stopped at this id and needs a resume from it. */
  gapAfter?: number;
}

/** Applies `events` of `model.session` in strict id order: duplicates ignored, a skip stops the batch. */
export function acceptEvents<E extends { session: string; id: number }>(model: SessionModel, events: readonly E[], apply: (event: E) => void): AcceptOutcome {
  let applied = 0;
  for (const event of events) {
    if (event.session !== model.session || event.id <= model.lastId) continue;
    if (event.id !== model.lastId + 1) return { applied, gapAfter: model.lastId };
    apply(event);
    model.lastId = event.id;
    applied++;
  }
  return { applied };
}
