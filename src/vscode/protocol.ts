/**
 * The host ↔ webview message protocol, shared by the extension host (src/vscode) and the webview bundle
 * (webview/). Pure TypeScript: no `vscode` import, so esbuild can bundle it for the browser.
 * Messages from the webview cross a trust boundary and are validated with `parseWebviewMessage` before use.
 */
import { z } from 'zod';
import type { CenecaEvent } from '../core/events';

/** Which sidebar view a webview is. */
export type WebviewKind = 'results' | 'chat';

/** Host → webview. */
export type HostMessage =
  /** A question started: the view resets for this session (the chat view appends a new turn). */
  | { kind: 'session'; session: string; question: string; startedAt: number }
  /** Events of one session, consecutive ids, in order, coalesced per animation frame by the host. */
  | { kind: 'events'; session: string; events: CenecaEvent[] }
  /** The log no longer holds the events after `afterId`: the view keeps what it has and offers a re-run. */
  | { kind: 'resume-gap'; session: string; afterId: number; firstId: number; question: string }
  /** The session is unknown to the host (e.g. after a window reload): nothing more will come for it. */
  | { kind: 'session-gone'; session: string }
  /** Asks the results view for its rows, for `Ceneca: Export Results…`. */
  | { kind: 'export-request'; requestId: number; format: 'csv' | 'json' };

const sessionId = z.string().min(1).max(200);

const webviewMessageSchema = z.discriminatedUnion('kind', [
  /** The webview has loaded (or been re-shown): resume `session` after `lastId`, or say what is current. */
  z.object({ kind: z.literal('ready'), view: z.enum(['results', 'chat']), session: sessionId.optional(), lastId: z.number().int().nonnegative() }),
  /** Ask a question (chat input, Retry, re-run). `followUp` carries the conversation's context. */
  z.object({ kind: z.literal('ask'), question: z.string().min(1).max(4000), followUp: z.boolean().optional() }),
  z.object({ kind: z.literal('cancel'), session: sessionId }),
  /** Copy text (a cell, a row) to the clipboard through the host. */
  z.object({ kind: z.literal('copy'), text: z.string().max(10_000_000) }),
  /** Open the query of a session in an editor. */
  z.object({ kind: z.literal('open-query'), query: z.string().min(1).max(1_000_000), language: z.enum(['sql', 'mongodb', 'qdrant', 'slack']) }),
  /** The user pressed Export in the view. */
  z.object({ kind: z.literal('export'), format: z.enum(['csv', 'json']) }),
  /** The answer to an export-request: the rows the view holds. */
  z.object({
    kind: z.literal('export-data'),
    requestId: z.number().int().nonnegative(),
    format: z.enum(['csv', 'json']),
    columns: z.array(z.string()),
    rows: z.array(z.array(z.union([z.string(), z.number(), z.boolean(), z.null()]))),
  }),
]);

export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

export type ParsedWebviewMessage = { ok: true; message: WebviewMessage } | { ok: false; problem: string };

export function parseWebviewMessage(value: unknown): ParsedWebviewMessage {
  const result = webviewMessageSchema.safeParse(value);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  return { ok: false, problem: `invalid webview message${issue?.path.length ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'unknown problem'}` };
}
