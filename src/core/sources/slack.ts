/**
 * Slack messages through `@slack/web-api`: channels are the "tables" (kind 'collection'), the model writes one
 * JSON search object (channels, words, from, after, before, limit), and rows are
 * `[channel, user, time (ISO), text, permalink]`.
 *
 * Two ways of running the same search, chosen by the token kind `auth.test` reports:
 * - a USER token (xoxp) uses `search.messages`, with the words plus `in:#channel`, `from:@user`, `after:` and
 *   `before:` modifiers, paged by `page` until the limit; Slack ranks and filters on its side.
 * - a BOT token (xoxb) may not call `search.messages` (`not_allowed_token_type`), so the source pages
 *   `conversations.history` of the chosen channels (or of every known channel, at most MAX_HISTORY_CHANNELS),
 *   narrowed by `oldest`/`latest` from after/before, and keeps the messages whose text contains every query word
 *   (case-insensitive) and whose author matches `from`. Only top-level messages are seen (no thread replies), only
 *   in channels the bot is a member of, and the result is ordered channel by channel, newest first within each.
 *
 * Permalinks come from search results, or are built from the workspace URL that `auth.test` returns
 * (`<url>archives/<channel id>/p<ts without the dot>`) instead of one `chat.getPermalink` call per message.
 *
 * Rate limits: the client is built with `rejectRateLimitedCalls`, so an HTTP 429 surfaces at once as
 * `slack_webapi_rate_limited_error` with `retryAfter`; this source waits itself, honouring Retry-After, at most
 * MAX_RATE_LIMIT_RETRIES times and at most RATE_LIMIT_BUDGET_MS in total per call, and the wait ends when the
 * signal aborts. A Retry-After beyond the remaining budget fails at once with a clear message.
 */
import { SnapshotCache } from '../schema/snapshotCache';
import { ErrorCode, LogLevel, WebClient, type Logger, type WebAPICallResult } from '@slack/web-api';
import type { Cell, ResultColumn } from '../events';
import { JsonObjectExtractor } from '../llm/extract';
import { slackSearchPrompt } from '../llm/prompts/slack';
import type { CompletionRequest } from '../llm/provider';
import { searchSchema } from '../schema/search';
import type { RankedTable, SchemaSnapshot, TableInfo } from '../schema/types';
import {
  QueryExecutionError,
  type DataSource,
  type ExecuteOptions,
  type GenerationInput,
  type IntrospectOptions,
  type QueryStreamingExtractor,
  type QueryValidation,
  type RowBatch,
} from './source';

export interface SlackSourceOptions {
  id: string;
  name?: string;
  /** A user token (xoxp-…, search allowed) or a bot token (xoxb-…, history scan). */
  token: string;
  /** The Web API base URL; the default is Slack's own. */
  slackApiUrl?: string;
}

/** The search the model writes (after validation, with channel names normalised to `#name`). */
export interface SlackQuery {
  channels?: string[];
  query: string;
  from?: string;
  after?: string;
  before?: string;
  limit?: number;
}

export const MAX_RATE_LIMIT_RETRIES = 3;
export const RATE_LIMIT_BUDGET_MS = 30_000;
/** With a bot token and no channel named, at most this many channels are scanned. */
export const MAX_HISTORY_CHANNELS = 50;
const MAX_LIMIT = 1000;
const SEARCH_PAGE_SIZE = 100;
const HISTORY_PAGE_SIZE = 200;
/** Channels listed by name in the prompt beyond the ranked ones. */
const MAX_PROMPT_CHANNELS = 200;
const DAY_SECONDS = 86_400;

/** Slack error codes that mean the credentials are wrong, not the query. */
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'missing_scope', 'not_allowed_token_type', 'ekm_access_denied']);
/** Slack error codes the model can fix by writing a different search. */
const CORRECTABLE_ERRORS = new Set(['channel_not_found', 'no_query', 'invalid_arguments', 'invalid_ts_latest', 'invalid_ts_oldest', 'user_not_found']);

export const SLACK_COLUMNS: ResultColumn[] = [
  { name: 'channel', type: 'text' },
  { name: 'user', type: 'text' },
  { name: 'ts', type: 'timestamp' },
  { name: 'text', type: 'text' },
  { name: 'permalink', type: 'text' },
];

interface Workspace {
  tokenKind: 'user' | 'bot';
  /** e.g. `https://example.slack.com/`. */
  url: string;
  /** Channel id by lower-cased name. */
  channelIds: Map<string, string>;
}

interface SlackMessage {
  ts?: string;
  user?: string;
  username?: string;
  bot_id?: string;
  text?: string;
  permalink?: string;
  subtype?: string;
  channel?: { id?: string; name?: string };
}

export class SlackError extends Error {
  constructor(
    message: string,
    readonly slackCode: string,
  ) {
    super(message);
    this.name = 'SlackError';
  }
}

export class SlackSource implements DataSource {
  readonly kind = 'slack' as const;
  readonly language = 'slack' as const;
  readonly id: string;
  readonly name: string;
  private readonly client: WebClient;
  private readonly snapshots = new SnapshotCache((onProgress, signal) => this.loadSnapshot(onProgress, signal));
  private readonly apiUrl: string;
  private workspace?: Workspace;
  private userNames?: Promise<Map<string, string>>;

  constructor(options: SlackSourceOptions) {
    this.id = options.id;
    this.name = options.name ?? options.id;
    this.client = new WebClient(options.token, {
      ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
      // Never the default policy (ten retries over about half an hour): network failures retry briefly, and rate
      // limits are handled by `call` below.
      retryConfig: { retries: 2, minTimeout: 500, factor: 2, maxRetryTime: RATE_LIMIT_BUDGET_MS },
      rejectRateLimitedCalls: true,
      timeout: 30_000,
      // The client would print its warnings to the console (stdout of `ceneca ask --json`); every failure reaches
      // the user as an error event instead.
      logger: SILENT_LOGGER,
    });
    this.apiUrl = options.slackApiUrl ?? 'https://slack.com/api/';
  }

  introspect(options: IntrospectOptions = {}): Promise<SchemaSnapshot> {
    return this.snapshots.get(options);
  }

  searchSchema(snapshot: SchemaSnapshot, question: string, limit: number): RankedTable[] {
    return searchSchema(snapshot.tables, question, { limit });
  }

  generationPrompt(input: GenerationInput): CompletionRequest {
    const lines = input.tables.map(({ table }) => channelLine(table));
    const shown = new Set(input.tables.map(({ table }) => table.qualifiedName));
    const others = (this.cachedTables() ?? []).filter((t) => !shown.has(t.qualifiedName)).slice(0, MAX_PROMPT_CHANNELS);
    if (others.length > 0) lines.push('', 'Other channels:', others.map((t) => t.qualifiedName).join(', '));
    return slackSearchPrompt({
      question: input.question,
      channelText: lines.join('\n') || '(no channels visible to this token)',
      maxRows: input.maxRows,
      today: new Date().toISOString().slice(0, 10),
      history: input.history,
    });
  }

  createExtractor(): QueryStreamingExtractor {
    return new JsonObjectExtractor();
  }

  async validate(query: string): Promise<QueryValidation> {
    const parsed = parseQueryJson(query);
    if ('problems' in parsed) return { ok: false, problems: parsed.problems };
    const problems: string[] = [];
    const spec = parsed.spec;
    if (spec.channels && spec.channels.length > 0) {
      let known: TableInfo[];
      try {
        known = (await this.introspect()).tables;
      } catch (error) {
        return { ok: false, problems: [`the channel list could not be read: ${errorText(error, this.apiUrl)}`] };
      }
      const names = new Set(known.map((t) => t.name.toLowerCase()));
      const unknown = spec.channels.filter((c) => !names.has(c.slice(1)));
      if (unknown.length > 0) {
        const list = known.map((t) => t.qualifiedName).slice(0, MAX_PROMPT_CHANNELS).join(', ') || 'none';
        problems.push(`unknown channel${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the channels are: ${list}`);
      }
    }
    if (problems.length > 0) return { ok: false, problems };
    return { ok: true, problems: [], query: canonicalJson(spec) };
  }

  async *execute(query: string, options: ExecuteOptions): AsyncIterable<RowBatch> {
    const { signal } = options;
    const parsed = parseQueryJson(query);
    if ('problems' in parsed) throw new QueryExecutionError(parsed.problems.join('; '), 'invalid_arguments', true);
    const spec = parsed.spec;
    await this.introspect({ signal });
    const workspace = this.workspace!;
    const limit = Math.max(0, Math.min(spec.limit ?? options.maxRows, options.maxRows));
    try {
      const calls = { signal, onStatus: options.onStatus };
      const pages = workspace.tokenKind === 'user' ? this.searchPages(spec, limit, calls) : this.historyPages(spec, limit, calls);
      let delivered = 0;
      let first = true;
      for await (const rows of pages) {
        if (signal.aborted) throw signal.reason;
        const kept = rows.slice(0, limit - delivered);
        delivered += kept.length;
        if (first || kept.length > 0) yield first ? { columns: SLACK_COLUMNS, rows: kept } : { rows: kept };
        first = false;
        if (delivered >= limit) break;
      }
      if (first) yield { columns: SLACK_COLUMNS, rows: [] };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw toExecutionError(error);
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call('auth.test', {}, { signal });
  }

  async close(): Promise<void> {
    this.snapshots.clear();
    this.workspace = undefined;
    this.userNames = undefined;
  }

  // ---- introspection ------------------------------------------------------------------------------------------

  private tablesCache?: TableInfo[];

  private cachedTables(): TableInfo[] | undefined {
    return this.tablesCache;
  }

  private async loadSnapshot(onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<SchemaSnapshot> {
    onProgress(0);
    try {
      const auth = (await this.call('auth.test', {}, { signal })) as WebAPICallResult & { url?: string; bot_id?: string };
      onProgress(0.2);
      const tokenKind = auth.bot_id ? 'bot' : 'user';
      const tables: TableInfo[] = [];
      const channelIds = new Map<string, string>();
      let cursor: string | undefined;
      do {
        const page = (await this.call(
          'conversations.list',
          { types: 'public_channel,private_channel', exclude_archived: true, limit: 200, ...(cursor ? { cursor } : {}) },
          { signal },
        )) as WebAPICallResult & { channels?: ChannelObject[] };
        for (const channel of page.channels ?? []) {
          if (!channel.id || !channel.name) continue;
          channelIds.set(channel.name.toLowerCase(), channel.id);
          tables.push(channelTable(channel));
        }
        cursor = page.response_metadata?.next_cursor || undefined;
        onProgress(Math.min(0.95, 0.2 + tables.length / 1000));
      } while (cursor);
      this.workspace = { tokenKind, url: withSlash(auth.url ?? 'https://slack.com/'), channelIds };
      this.tablesCache = tables;
      onProgress(1);
      return { source: this.id, tables, loadedAt: Date.now() };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new Error(`could not read the channels of ${this.name}: ${errorText(error, this.apiUrl)}`);
    }
  }

  // ---- execution ----------------------------------------------------------------------------------------------

  /** User token: `search.messages`, newest first, one batch per page. */
  private async *searchPages(spec: SlackQuery, limit: number, calls: CallContext & { signal: AbortSignal }): AsyncIterable<Cell[][]> {
    const { signal } = calls;
    const parts = [spec.query.trim()];
    for (const channel of spec.channels ?? []) parts.push(`in:${channel}`);
    if (spec.from) parts.push(`from:@${spec.from.replace(/^@/, '')}`);
    if (spec.after) parts.push(`after:${spec.after}`);
    if (spec.before) parts.push(`before:${spec.before}`);
    const text = parts.filter(Boolean).join(' ');
    if (!text) throw new QueryExecutionError('the search has no words and no channel, person or dates', 'no_query', true);
    const count = Math.min(SEARCH_PAGE_SIZE, Math.max(1, limit));
    let delivered = 0;
    for (let page = 1; delivered < limit; page++) {
      if (signal.aborted) throw signal.reason;
      const result = (await this.call('search.messages', { query: text, count, page, sort: 'timestamp', sort_dir: 'desc' }, calls)) as WebAPICallResult & {
        messages?: { matches?: SlackMessage[]; paging?: { pages?: number }; pagination?: { page_count?: number } };
      };
      const matches = result.messages?.matches ?? [];
      const rows = matches.map((m) => this.row(m.channel?.name ?? '', m.channel?.id ?? '', m, m.username));
      delivered += rows.length;
      yield rows;
      const pages = result.messages?.paging?.pages ?? result.messages?.pagination?.page_count ?? page;
      if (matches.length === 0 || page >= pages) break;
    }
  }

  /** Bot token: `conversations.history` per channel, filtered here; one batch per page. */
  private async *historyPages(spec: SlackQuery, limit: number, calls: CallContext & { signal: AbortSignal }): AsyncIterable<Cell[][]> {
    const { signal } = calls;
    const workspace = this.workspace!;
    const channels = spec.channels && spec.channels.length > 0 ? spec.channels.map((c) => c.slice(1)) : [...workspace.channelIds.keys()].slice(0, MAX_HISTORY_CHANNELS);
    const words = queryWords(spec.query);
    const oldest = spec.after ? dayStart(spec.after)! + DAY_SECONDS : undefined;
    const latest = spec.before ? dayStart(spec.before)! : undefined;
    const names = await this.userNameMap(calls);
    const fromUser = spec.from ? spec.from.replace(/^@/, '').toLowerCase() : undefined;
    const fromIds = fromUser ? new Set([...names].filter(([id, name]) => id.toLowerCase() === fromUser || name.toLowerCase() === fromUser).map(([id]) => id)) : undefined;
    if (fromUser && fromIds) fromIds.add(fromUser.toUpperCase());
    let delivered = 0;
    for (const name of channels) {
      const channelId = workspace.channelIds.get(name);
      if (!channelId) throw new SlackError(`channel_not_found: #${name} is not visible to this token`, 'channel_not_found');
      let cursor: string | undefined;
      do {
        if (signal.aborted) throw signal.reason;
        const params: Record<string, unknown> = { channel: channelId, limit: HISTORY_PAGE_SIZE, ...(cursor ? { cursor } : {}) };
        // `oldest` and `latest` are exclusive: a message exactly at midnight after the `after` day still counts.
        if (oldest !== undefined) params.oldest = `${oldest - 1}.999999`;
        if (latest !== undefined) params.latest = `${latest}.000000`;
        const page = (await this.call('conversations.history', params, calls)) as WebAPICallResult & { messages?: SlackMessage[]; has_more?: boolean };
        const rows: Cell[][] = [];
        for (const message of page.messages ?? []) {
          const seconds = Number.parseFloat(message.ts ?? '0');
          if (oldest !== undefined && seconds < oldest) continue;
          if (latest !== undefined && seconds >= latest) continue;
          if (fromIds && !(message.user && fromIds.has(message.user))) continue;
          const text = (message.text ?? '').toLowerCase();
          if (!words.every((w) => text.includes(w))) continue;
          rows.push(this.row(name, channelId, message, message.user ? names.get(message.user) : undefined));
        }
        delivered += rows.length;
        yield rows;
        if (delivered >= limit) return;
        cursor = page.has_more ? page.response_metadata?.next_cursor || undefined : undefined;
      } while (cursor);
    }
  }

  private row(channelName: string, channelId: string, message: SlackMessage, userName: string | undefined): Cell[] {
    const ts = message.ts ?? '0';
    const permalink = message.permalink ?? `${this.workspace!.url}archives/${channelId}/p${ts.replace('.', '')}`;
    return [`#${channelName}`, userName ?? message.user ?? message.username ?? message.bot_id ?? '', tsToIso(ts), message.text ?? '', permalink];
  }

  /** User id → name, read once (`users.list`); an empty map when the token may not list users. */
  private userNameMap(calls: CallContext & { signal: AbortSignal }): Promise<Map<string, string>> {
    const { signal } = calls;
    if (!this.userNames) {
      const loading = (async () => {
        const map = new Map<string, string>();
        let cursor: string | undefined;
        do {
          const page = (await this.call('users.list', { limit: 1000, ...(cursor ? { cursor } : {}) }, calls)) as WebAPICallResult & {
            members?: { id?: string; name?: string }[];
          };
          for (const m of page.members ?? []) if (m.id && m.name) map.set(m.id, m.name);
          cursor = page.response_metadata?.next_cursor || undefined;
        } while (cursor);
        return map;
      })();
      this.userNames = loading.catch((error: unknown) => {
        this.userNames = undefined;
        if (signal.aborted || isRateLimitFailure(error)) throw error;
        return new Map<string, string>();
      });
    }
    return this.userNames;
  }

  /**
   * One Web API call: rejects as soon as `signal` aborts, and waits out rate limits (Retry-After) at most
   * MAX_RATE_LIMIT_RETRIES times within RATE_LIMIT_BUDGET_MS.
   */
  private async call(method: string, params: Record<string, unknown>, { signal, onStatus }: CallContext = {}): Promise<WebAPICallResult> {
    let waitedMs = 0;
    for (let retries = 0; ; retries++) {
      if (signal?.aborted) throw signal.reason;
      try {
        return await abortable(this.client.apiCall(method, params), signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (!isRateLimited(error)) throw error;
        const waitMs = Math.max(0, error.retryAfter) * 1000;
        if (retries >= MAX_RATE_LIMIT_RETRIES) {
          throw new RateLimitError(`Slack rate-limited ${method} ${retries + 1} times in a row; giving up after ${MAX_RATE_LIMIT_RETRIES} retries`);
        }
        if (waitedMs + waitMs > RATE_LIMIT_BUDGET_MS) {
          throw new RateLimitError(`Slack rate-limited ${method} and asks to wait ${error.retryAfter} s, beyond the ${RATE_LIMIT_BUDGET_MS / 1000} s budget; try again later`);
        }
        onStatus?.(`Slack rate-limited ${method}; waiting ${error.retryAfter} s as it asks (retry ${retries + 1} of ${MAX_RATE_LIMIT_RETRIES})`);
        await sleep(waitMs, signal);
        waitedMs += waitMs;
      }
    }
  }
}

/** What one Web API call may be cancelled by, and where it reports a rate-limit wait. */
interface CallContext {
  signal?: AbortSignal;
  onStatus?: (message: string) => void;
}

/** The rate limit outlasted the retry budget. */
export class RateLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RateLimitError';
  }
}

// ---- query parsing --------------------------------------------------------------------------------------------

export function parseQueryJson(text: string): { spec: SlackQuery } | { problems: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [`the search is not valid JSON: ${errorText(error)}`] };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { problems: ['the search must be one JSON object'] };
  const raw = value as Record<string, unknown>;
  const problems: string[] = [];
  const allowed = new Set(['channels', 'query', 'from', 'after', 'before', 'on', 'limit']);
  const extra = Object.keys(raw).filter((k) => !allowed.has(k));
  if (extra.length > 0) problems.push(`unknown key(s) ${extra.join(', ')}; allowed: ${[...allowed].join(', ')}`);

  let channels: string[] | undefined;
  if (raw.channels !== undefined && raw.channels !== null) {
    const list = typeof raw.channels === 'string' ? [raw.channels] : raw.channels;
    if (!Array.isArray(list) || !list.every((c) => typeof c === 'string' && c.trim() !== '')) {
      problems.push('"channels" must be a list of channel names such as ["#general"]');
    } else {
      channels = [...new Set(list.map((c) => `#${(c as string).trim().replace(/^#/, '').toLowerCase()}`))];
    }
  }
  const query = raw.query === undefined || raw.query === null ? '' : raw.query;
  if (typeof query !== 'string') problems.push('"query" must be a string');
  let from: string | undefined;
  if (raw.from !== undefined && raw.from !== null && raw.from !== '') {
    if (typeof raw.from !== 'string' || !/^@?[\w.\-]+$/.test(raw.from.trim())) problems.push('"from" must be a user name such as "@alice"');
    else from = `@${raw.from.trim().replace(/^@/, '')}`;
  }
  const dates: Record<'after' | 'before', string | undefined> = { after: undefined, before: undefined };
  for (const key of ['after', 'before'] as const) {
    const v = raw[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' || dayStart(v) === undefined) problems.push(`"${key}" must be a date written YYYY-MM-DD`);
    else dates[key] = v;
  }
  // "on": one day — the same search as after the day before and before the day after.
  if (raw.on !== undefined && raw.on !== null && raw.on !== '') {
    const day = typeof raw.on === 'string' ? dayStart(raw.on.slice(0, 10)) : undefined;
    if (day === undefined) problems.push('"on" must be a date written YYYY-MM-DD');
    else if (dates.after || dates.before) problems.push('use "on" alone, or "after"/"before", not both');
    else {
      dates.after = isoDay(day - DAY_SECONDS);
      dates.before = isoDay(day + DAY_SECONDS);
    }
  }
  if (dates.after && dates.before && dayStart(dates.after)! + DAY_SECONDS >= dayStart(dates.before)!) {
    problems.push(`no day lies after ${dates.after} and before ${dates.before}`);
  }
  let limit: number | undefined;
  if (raw.limit !== undefined && raw.limit !== null) {
    if (typeof raw.limit !== 'number' || !Number.isInteger(raw.limit) || raw.limit < 1 || raw.limit > MAX_LIMIT) problems.push(`"limit" must be a whole number from 1 to ${MAX_LIMIT}`);
    else limit = raw.limit;
  }
  const words = typeof query === 'string' ? query.trim() : '';
  if (problems.length === 0 && !words && !channels?.length && !from && !dates.after && !dates.before) {
    problems.push('the search needs words in "query", or channels, "from" or dates to select messages');
  }
  if (problems.length > 0) return { problems };
  return { spec: { ...(channels?.length ? { channels } : {}), query: words, ...(from ? { from } : {}), ...(dates.after ? { after: dates.after } : {}), ...(dates.before ? { before: dates.before } : {}), ...(limit ? { limit } : {}) } };
}

function isoDay(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}

/** The normalised search with its keys in a fixed order. */
function canonicalJson(spec: SlackQuery): string {
  return JSON.stringify({ channels: spec.channels, query: spec.query, from: spec.from, after: spec.after, before: spec.before, limit: spec.limit });
}

/** Words and "quoted phrases", lower-cased; search modifiers the model left in are ignored here. */
function queryWords(query: string): string[] {
  const tokens = query.match(/"[^"]*"|\S+/g) ?? [];
  return tokens.map((t) => (t.startsWith('"') ? t.slice(1, -1).trim() : t).toLowerCase()).filter((t) => t && !/^(in|from|after|before|on):/.test(t));
}

function dayStart(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined; // 2024-02-30
  return ms / 1000;
}

// ---- helpers --------------------------------------------------------------------------------------------------

interface ChannelObject {
  id?: string;
  name?: string;
  is_private?: boolean;
  topic?: { value?: string };
  purpose?: { value?: string };
  num_members?: number;
}

function channelTable(channel: ChannelObject): TableInfo {
  const about = [channel.topic?.value, channel.purpose?.value].filter((v): v is string => Boolean(v && v.trim())).map((v) => v.trim());
  const members = channel.num_members ?? 0;
  const comment = [...new Set(about)].join(' — ') + `${about.length ? '; ' : ''}${members} member${members === 1 ? '' : 's'}${channel.is_private ? ', private' : ''}`;
  const column = (name: string, type: string, note: string) => ({ name, type, nullable: false, isPrimaryKey: false, comment: note });
  return {
    schema: 'slack',
    name: channel.name!,
    qualifiedName: `#${channel.name!}`,
    kind: 'collection',
    comment,
    rowEstimate: -1,
    columns: [
      column('channel', 'text', 'channel name'),
      column('user', 'text', 'author'),
      column('ts', 'timestamp', 'when it was posted'),
      column('text', 'text', 'message text'),
      column('permalink', 'text', 'link to the message'),
    ],
    primaryKey: [],
    foreignKeys: [],
  };
}

function channelLine(table: TableInfo): string {
  return `${table.qualifiedName}${table.comment ? ` — ${table.comment}` : ''}`;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function tsToIso(ts: string): string {
  const seconds = Number.parseFloat(ts);
  return Number.isFinite(seconds) ? new Date(Math.round(seconds * 1000)).toISOString() : ts;
}

function isRateLimited(error: unknown): error is { retryAfter: number } {
  return (error as { code?: unknown } | null)?.code === ErrorCode.RateLimitedError && typeof (error as { retryAfter?: unknown }).retryAfter === 'number';
}

function isRateLimitFailure(error: unknown): boolean {
  return error instanceof RateLimitError;
}

/** The Slack error code of a `{ok: false}` answer, if that is what failed. */
function platformCode(error: unknown): string | undefined {
  if ((error as { code?: unknown } | null)?.code !== ErrorCode.PlatformError) return undefined;
  const code = (error as { data?: { error?: unknown } }).data?.error;
  return typeof code === 'string' ? code : undefined;
}

function toExecutionError(error: unknown): Error {
  if (error instanceof QueryExecutionError || error instanceof RateLimitError) return error;
  const code = error instanceof SlackError ? error.slackCode : platformCode(error);
  if (code && AUTH_ERRORS.has(code)) return new SlackError(`Slack refused the token: ${code}`, code);
  if (code) return new QueryExecutionError(error instanceof SlackError ? error.message : `Slack error ${code}`, code, CORRECTABLE_ERRORS.has(code));
  if ((error as { code?: unknown } | null)?.code === ErrorCode.RequestError) return new Error(errorText(error));
  return error instanceof Error ? error : new Error(String(error));
}

function errorText(error: unknown, apiUrl?: string): string {
  const code = platformCode(error);
  if (code) return `Slack error ${code}`;
  if ((error as { code?: unknown } | null)?.code === ErrorCode.RequestError) {
    // `fetch failed` says nothing; the network error under it (ECONNREFUSED, ENOTFOUND, …) says what is wrong.
    const original = (error as { original?: { message?: string; cause?: { code?: string; message?: string } } }).original;
    const cause = original?.cause?.code ?? original?.cause?.message ?? original?.message ?? 'the request failed';
    return `cannot reach the Slack API${apiUrl ? ` at ${apiUrl}` : ''} (${cause})`;
  }
  return error instanceof Error ? error.message : String(error);
}

const SILENT_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
