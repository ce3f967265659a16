/** Pieces both views share: message checks, elapsed/ETA text, notices, the fatal error panel. */
import type { HostMessage } from '../src/vscode/protocol';
import { button, el, replaceChildren } from './dom';
import { formatCount, formatDuration } from './format';
import type { ErrorInfo, Notice, SessionModel } from './model';
import { usageOf } from './model';

const HOST_KINDS = new Set(['session', 'events', 'resume-gap', 'session-gone', 'export-request']);

/** A light shape check on what arrives by `message` (the host is trusted; this guards against stray messages). */
export function isHostMessage(data: unknown): data is HostMessage {
  if (!data || typeof data !== 'object') return false;
  const message = data as { kind?: unknown; session?: unknown; events?: unknown };
  if (typeof message.kind !== 'string' || !HOST_KINDS.has(message.kind)) return false;
  if (message.kind === 'events') return typeof message.session === 'string' && Array.isArray(message.events);
  return true;
}

export function elapsedMs(model: SessionModel, now: number): number {
  if (model.state === 'running') return Math.max(0, now - model.startedAt);
  if (model.elapsedMs !== undefined) return model.elapsedMs;
  return model.endedAt !== undefined ? Math.max(0, model.endedAt - model.startedAt) : 0;
}

/** Remaining time from the last `progress.etaMs`, counted down since it arrived; undefined when unknown. */
export function etaText(model: SessionModel, now: number): string | undefined {
  const p = model.progress;
  if (model.state !== 'running' || !p || p.etaMs === undefined) return undefined;
  const left = p.etaMs - (now - p.receivedAt);
  return left > 500 ? `ETA ~${formatDuration(left)}` : 'ETA: finishing';
}

export function usageText(model: SessionModel): string | undefined {
  const usage = usageOf(model);
  return usage ? `Tokens: ${formatCount(usage.inputTokens)} in · ${formatCount(usage.outputTokens)} out` : undefined;
}

export function stateLabel(model: SessionModel): string {
  switch (model.state) {
    case 'running':
      return 'Running';
    case 'complete':
      return 'Done';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
    case 'interrupted':
      return 'Interrupted';
  }
}

export const NOTICE_TEXT = {
  gap: 'Some events are no longer available: the host no longer holds them. What is shown was kept; re-run the question for the full answer.',
  gone: 'This session is no longer available (the window was reloaded or the session ended): showing what was kept.',
};

/** Notices (resume gap, session gone) with a Re-run button that asks the question again. */
export function renderNotices(target: HTMLElement, notices: readonly Notice[], question: string, ask: (question: string) => void): void {
  replaceChildren(
    target,
    ...notices.map((notice) =>
      el(
        'div',
        { class: `notice notice-${notice.kind}`, attrs: { role: 'status' } },
        el('span', { class: 'notice-text', text: notice.text }),
        question ? button('Re-run', () => ask(question), { class: 'secondary rerun' }) : null,
      ),
    ),
  );
  target.hidden = notices.length === 0;
}

/** The fatal error: what failed, the suggestion, a Retry button. */
export function renderFatal(target: HTMLElement, fatal: ErrorInfo | undefined, question: string, ask: (question: string) => void): void {
  if (!fatal) {
    target.hidden = true;
    target.replaceChildren();
    return;
  }
  const cancelled = fatal.code === 'cancelled';
  replaceChildren(
    target,
    el('div', { class: 'error-title', text: cancelled ? 'Cancelled' : `Failed while ${phaseVerb(fatal.phase)} (${fatal.code})` }),
    el('div', { class: 'error-message', text: fatal.message }),
    fatal.suggestion ? el('div', { class: 'error-suggestion' }, el('strong', { text: 'Suggestion: ' }), fatal.suggestion) : null,
    question ? button(cancelled ? 'Run again' : 'Retry', () => ask(question), { class: 'retry' }) : null,
  );
  target.hidden = false;
}

function phaseVerb(phase: string): string {
  const verbs: Record<string, string> = {
    classify: 'choosing the sources',
    schema: 'reading the schema',
    generate: 'writing the query',
    validate: 'validating the query',
    execute: 'running the query',
    analyze: 'analysing the result',
    plan: 'planning',
    aggregate: 'combining results',
    queued: 'waiting in the queue',
    session: 'running the session',
  };
  return verbs[phase] ?? phase;
}
