/**
 * A loopback stand-in for the Slack Web API, speaking its wire format to the real `@slack/web-api` `WebClient`
 * (`new WebClient(token, { slackApiUrl: standIn.apiUrl })`): every call is `POST /api/<method>` with a form-encoded
 * (or JSON) body and the token in `Authorization: Bearer` (or a `token` body field); every answer is HTTP 200 with
 * `{ok: true, …}` or `{ok: false, error}`, except a scripted rate limit (HTTP 429, `Retry-After`).
 *
 * Served: auth.test, conversations.list/info/history/replies, users.list/info, search.messages, chat.getPermalink.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type TokenKind = 'user' | 'bot';

export interface StandInMessage {
  ts: string;
  user: string;
  text: string;
  /** For a thread reply: the parent's ts (a parent may also carry its own ts here). */
  thread_ts?: string;
}

export interface StandInChannel {
  id: string;
  name: string;
  topic?: string;
  purpose?: string;
  members?: string[];
  is_private?: boolean;
  messages: StandInMessage[];
}

export interface StandInUser {
  id: string;
  name: string;
  real_name: string;
}

export interface SlackStandInOptions {
  tokens: Record<string, TokenKind>;
  channels: StandInChannel[];
  users?: StandInUser[];
}

type Params = Record<string, string>;
type Reply = { status?: number; headers?: Record<string, string>; body: Record<string, unknown> };

const TEAM = { id: 'T0STANDIN', name: 'Example', url: 'https://example.slack.com/' };
const BOT = { user_id: 'U0STANDBOT', user: 'ceneca', bot_id: 'B0STANDBOT', app_id: 'A0STANDAPP' };
const CREATED = 1_600_000_000;

/** Methods the stand-in answers; anything else gets `unknown_method`. */
const METHODS = new Set([
  'auth.test',
  'conversations.list',
  'conversations.info',
  'conversations.history',
  'conversations.replies',
  'users.list',
  'users.info',
  'search.messages',
  'chat.getPermalink',
]);

export class SlackStandIn {
  /** Method names received, in order (rate-limited and failed calls included). */
  readonly calls: string[] = [];
  private readonly tokens: Record<string, TokenKind>;
  private readonly channels: StandInChannel[];
  private readonly users: StandInUser[];
  private readonly limits = new Map<string, { times: number; retryAfter: number }>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;

  constructor(options: SlackStandInOptions) {
    this.tokens = { ...options.tokens };
    this.channels = options.channels;
    this.users = options.users ?? [];
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.onRequest(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** `http://127.0.0.1:PORT/api/`, as the `WebClient`'s `slackApiUrl`. */
  get apiUrl(): string {
    if (!this.server) throw new Error('SlackStandIn is not started');
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** The next `times` calls of `method` answer HTTP 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, times: number, retryAfterSeconds: number): void {
    this.limits.set(method, { times, retryAfter: retryAfterSeconds });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- HTTP plumbing ------------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      reply = this.route(req, Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      reply = { status: 500, body: { ok: false, error: 'internal_error', detail: String(error) } };
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status ?? 200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      ...reply.headers,
    });
    res.end(text);
  }

  private route(req: IncomingMessage, rawBody: string): Reply {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    const method = match ? match[1] : url.pathname;
    this.calls.push(method);
    if (!match || !METHODS.has(method)) return ok(false, { error: 'unknown_method', req_method: method });

    const limit = this.limits.get(method);
    if (limit && limit.times > 0) {
      limit.times -= 1;
      return { status: 429, headers: { 'Retry-After': String(limit.retryAfter) }, body: { ok: false, error: 'ratelimited' } };
    }

    const params = parseParams(req, rawBody, url);
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? params.token;
    // Real Slack answers `not_authed` for a missing token; the brief asks for `invalid_auth` for both.
    if (!token) return ok(false, { error: 'invalid_auth' });
    const kind = Object.prototype.hasOwnProperty.call(this.tokens, token) ? this.tokens[token] : undefined;
    if (!kind) return ok(false, { error: 'invalid_auth' });

    switch (method) {
      case 'auth.test':
        return this.authTest(kind);
      case 'conversations.list':
        return this.conversationsList(params);
      case 'conversations.info':
        return this.conversationsInfo(params);
      case 'conversations.history':
        return this.conversationsHistory(params);
      case 'conversations.replies':
        return this.conversationsReplies(params);
      case 'users.list':
        return this.usersList(params);
      case 'users.info':
        return this.usersInfo(params);
      case 'search.messages':
        return kind === 'bot' ? ok(false, { error: 'not_allowed_token_type' }) : this.searchMessages(params);
      case 'chat.getPermalink':
        return this.getPermalink(params);
      default:
        return ok(false, { error: 'unknown_method', req_method: method });
    }
  }

  // ---- methods ------------------------------------------------------------------------------------------------

  private userIdentity(): { user_id: string; user: string } {
    const first = this.users[0];
    return first ? { user_id: first.id, user: first.name } : { user_id: 'U0STANDUSR', user: 'standin-user' };
  }

  private authTest(kind: TokenKind): Reply {
    const base = { url: TEAM.url, team: TEAM.name, team_id: TEAM.id, is_enterprise_install: false };
    if (kind === 'bot') return ok(true, { ...base, user: BOT.user, user_id: BOT.user_id, bot_id: BOT.bot_id });
    return ok(true, { ...base, ...this.userIdentity() });
  }

  private conversationsList(p: Params): Reply {
    const types = (p.types || 'public_channel').split(',').map((t) => t.trim());
    const wanted = this.channels.filter((c) => types.includes(c.is_private ? 'private_channel' : 'public_channel'));
    const page = paginate(wanted, p, 100, 1000);
    if ('error' in page) return ok(false, { error: page.error });
    return ok(true, {
      channels: page.items.map((c) => this.channelObject(c)),
      response_metadata: { next_cursor: page.nextCursor },
    });
  }

  private conversationsInfo(p: Params): Reply {
    const channel = this.findChannel(p.channel);
    if (!channel) return ok(false, { error: 'channel_not_found' });
    return ok(true, { channel: this.channelObject(channel) });
  }

  private conversationsHistory(p: Params): Reply {
    const channel = this.findChannel(p.channel);
    if (!channel) return ok(false, { error: 'channel_not_found' });
    const inclusive = isTrue(p.inclusive);
    const oldest = p.oldest ? tsKey(p.oldest) : undefined;
    const latest = p.latest ? tsKey(p.latest) : undefined;
    const inRange = channel.messages
      .filter((m) => !isReply(m))
      .filter((m) => {
        const k = tsKey(m.ts);
        if (oldest !== undefined && (inclusive ? k < oldest : k <= oldest)) return false;
        if (latest !== undefined && (inclusive ? k > latest : k >= latest)) return false;
        return true;
      })
      .sort((a, b) => compareTs(b.ts, a.ts));
    const page = paginate(inRange, p, 100, 999);
    if ('error' in page) return ok(false, { error: page.error });
    const hasMore = page.nextCursor !== '';
    return ok(true, {
      messages: page.items.map((m) => this.messageObject(channel, m)),
      has_more: hasMore,
      pin_count: 0,
      channel_actions_ts: null,
      channel_actions_count: 0,
      ...(hasMore ? { response_metadata: { next_cursor: page.nextCursor } } : {}),
    });
  }

  private conversationsReplies(p: Params): Reply {
    const channel = this.findChannel(p.channel);
    if (!channel) return ok(false, { error: 'channel_not_found' });
    const parent = channel.messages.find((m) => m.ts === p.ts);
    if (!parent) return ok(false, { error: 'thread_not_found' });
    const thread = [parent, ...channel.messages.filter((m) => isReply(m) && m.thread_ts === parent.ts)].sort((a, b) =>
      compareTs(a.ts, b.ts),
    );
    const page = paginate(thread, p, 1000, 1000);
    if ('error' in page) return ok(false, { error: page.error });
    const hasMore = page.nextCursor !== '';
    return ok(true, {
      messages: page.items.map((m) => this.messageObject(channel, m)),
      has_more: hasMore,
      ...(hasMore ? { response_metadata: { next_cursor: page.nextCursor } } : {}),
    });
  }

  private usersList(p: Params): Reply {
    const page = paginate(this.users, p, 1000, 1000);
    if ('error' in page) return ok(false, { error: page.error });
    return ok(true, {
      members: page.items.map((u) => userObject(u)),
      cache_ts: Math.floor(Date.now() / 1000),
      response_metadata: { next_cursor: page.nextCursor },
    });
  }

  private usersInfo(p: Params): Reply {
    const user = this.users.find((u) => u.id === p.user);
    if (!user) return ok(false, { error: 'user_not_found' });
    return ok(true, { user: userObject(user) });
  }

  private searchMessages(p: Params): Reply {
    const query = (p.query ?? '').trim();
    if (!query) return ok(false, { error: 'no_query' });
    const count = clampInt(p.count, 20, 1, 100);
    const pageNo = clampInt(p.page, 1, 1, 100);
    const filter = parseQuery(query);
    const hits: { channel: StandInChannel; message: StandInMessage }[] = [];
    for (const channel of this.channels) {
      if (filter.inChannels.length && !filter.inChannels.some((c) => c === channel.name.toLowerCase() || c === channel.id.toLowerCase())) {
        continue;
      }
      for (const message of channel.messages) {
        if (filter.fromUsers.length && !filter.fromUsers.some((u) => this.userMatches(message.user, u))) continue;
        if (filter.after !== undefined && tsSeconds(message.ts) < filter.after) continue;
        if (filter.before !== undefined && tsSeconds(message.ts) >= filter.before) continue;
        const text = message.text.toLowerCase();
        if (!filter.words.every((w) => text.includes(w))) continue;
        hits.push({ channel, message });
      }
    }
    const asc = p.sort === 'timestamp' && (p.sort_dir ?? '').toLowerCase() === 'asc';
    hits.sort((a, b) => (asc ? 1 : -1) * compareTs(a.message.ts, b.message.ts));
    const total = hits.length;
    const pages = Math.max(1, Math.ceil(total / count));
    const slice = hits.slice((pageNo - 1) * count, pageNo * count);
    const first = total === 0 ? 0 : (pageNo - 1) * count + 1;
    return ok(true, {
      query,
      messages: {
        total,
        matches: slice.map(({ channel, message }) => ({
          iid: `${channel.id}-${message.ts}`,
          team: TEAM.id,
          type: 'message',
          channel: {
            id: channel.id,
            name: channel.name,
            is_channel: !channel.is_private,
            is_private: Boolean(channel.is_private),
            is_mpim: false,
            is_shared: false,
            is_ext_shared: false,
            is_org_shared: false,
            is_pending_ext_shared: false,
          },
          user: message.user,
          username: this.users.find((u) => u.id === message.user)?.name ?? message.user,
          ts: message.ts,
          text: message.text,
          permalink: permalink(channel.id, message),
          no_reactions: true,
        })),
        paging: { count, total, page: pageNo, pages },
        pagination: {
          total_count: total,
          page: pageNo,
          per_page: count,
          page_count: pages,
          first,
          last: Math.min(total, pageNo * count),
        },
      },
    });
  }

  private getPermalink(p: Params): Reply {
    const channel = this.findChannel(p.channel);
    if (!channel) return ok(false, { error: 'channel_not_found' });
    const message = channel.messages.find((m) => m.ts === p.message_ts);
    if (!message) return ok(false, { error: 'message_not_found' });
    return ok(true, { channel: channel.id, permalink: permalink(channel.id, message) });
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  private findChannel(id: string | undefined): StandInChannel | undefined {
    return id ? this.channels.find((c) => c.id === id) : undefined;
  }

  private userMatches(userId: string, wanted: string): boolean {
    if (userId.toLowerCase() === wanted) return true;
    const user = this.users.find((u) => u.id === userId);
    return Boolean(user && (user.name.toLowerCase() === wanted || user.real_name.toLowerCase() === wanted));
  }

  private channelObject(c: StandInChannel): Record<string, unknown> {
    const creator = c.members?.[0] ?? '';
    return {
      id: c.id,
      name: c.name,
      name_normalized: c.name,
      is_channel: !c.is_private,
      is_group: false,
      is_im: false,
      is_mpim: false,
      is_private: Boolean(c.is_private),
      is_archived: false,
      is_general: c.name === 'general',
      is_shared: false,
      is_ext_shared: false,
      is_org_shared: false,
      is_member: true,
      created: CREATED,
      creator,
      context_team_id: TEAM.id,
      topic: { value: c.topic ?? '', creator: c.topic ? creator : '', last_set: c.topic ? CREATED : 0 },
      purpose: { value: c.purpose ?? '', creator: c.purpose ? creator : '', last_set: c.purpose ? CREATED : 0 },
      num_members: c.members?.length ?? 0,
    };
  }

  private messageObject(channel: StandInChannel, m: StandInMessage): Record<string, unknown> {
    const out: Record<string, unknown> = { type: 'message', user: m.user, text: m.text, ts: m.ts, team: TEAM.id };
    if (m.thread_ts) out.thread_ts = m.thread_ts;
    const replies = channel.messages.filter((r) => isReply(r) && r.thread_ts === m.ts);
    if (!isReply(m) && replies.length) {
      out.thread_ts = m.ts;
      out.reply_count = replies.length;
      out.reply_users = [...new Set(replies.map((r) => r.user))];
      out.latest_reply = replies.map((r) => r.ts).sort(compareTs).at(-1);
    }
    if (isReply(m)) out.parent_user_id = channel.messages.find((r) => r.ts === m.thread_ts)?.user;
    return out;
  }
}

// ---- free helpers ---------------------------------------------------------------------------------------------

function ok(success: boolean, fields: Record<string, unknown>): Reply {
  return { body: { ok: success, ...fields } };
}

function parseParams(req: IncomingMessage, rawBody: string, url: URL): Params {
  const params: Params = {};
  for (const [k, v] of url.searchParams) params[k] = v;
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/json')) {
    if (!rawBody.trim()) return params;
    const json = JSON.parse(rawBody) as unknown;
    if (json && typeof json === 'object' && !Array.isArray(json)) {
      for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
        if (v !== undefined && v !== null) params[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
      }
    }
  } else {
    for (const [k, v] of new URLSearchParams(rawBody)) params[k] = v;
  }
  return params;
}

function isTrue(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

function isReply(m: StandInMessage): boolean {
  return m.thread_ts !== undefined && m.thread_ts !== m.ts;
}

/** A sortable key for a Slack ts ("1700000000.123456"), exact where a double would round. */
function tsKey(ts: string): string {
  const [whole = '0', frac = ''] = ts.split('.');
  return `${whole.padStart(12, '0')}.${frac.padEnd(6, '0').slice(0, 6)}`;
}

function compareTs(a: string, b: string): number {
  const ka = tsKey(a);
  const kb = tsKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function tsSeconds(ts: string): number {
  return Number.parseInt(ts.split('.')[0] ?? '0', 10);
}

function permalink(channelId: string, m: StandInMessage): string {
  const base = `https://example.slack.com/archives/${channelId}/p${m.ts.replace('.', '')}`;
  return isReply(m) ? `${base}?thread_ts=${m.thread_ts}&cid=${channelId}` : base;
}

function clampInt(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = value === undefined || value === '' ? fallback : Number.parseInt(value, 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64');
}

function decodeCursor(cursor: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/** Cursor pagination as Slack does it: `limit` (0 or absent → default), opaque `cursor`, empty next_cursor at the end. */
function paginate<T>(items: T[], p: Params, defaultLimit: number, maxLimit: number): { items: T[]; nextCursor: string } | { error: string } {
  const limitRaw = p.limit ? Number.parseInt(p.limit, 10) : 0;
  const limit = !Number.isFinite(limitRaw) || limitRaw <= 0 ? defaultLimit : Math.min(limitRaw, maxLimit);
  let offset = 0;
  if (p.cursor) {
    const decoded = decodeCursor(p.cursor);
    if (decoded === undefined) return { error: 'invalid_cursor' };
    offset = decoded;
  }
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit;
  return { items: slice, nextCursor: next < items.length ? encodeCursor(next) : '' };
}

interface SearchFilter {
  words: string[];
  inChannels: string[];
  fromUsers: string[];
  /** Unix seconds: a message must be at or after this (the day after `after:`). */
  after?: number;
  /** Unix seconds: a message must be before this (the start of `before:`'s day). */
  before?: number;
}

/** Plain words (all must appear, case-insensitive; "quoted phrases" kept whole) plus in:, from:, after:, before:. */
function parseQuery(query: string): SearchFilter {
  const filter: SearchFilter = { words: [], inChannels: [], fromUsers: [] };
  const tokens = query.match(/"[^"]*"|\S+/g) ?? [];
  for (const raw of tokens) {
    if (raw.startsWith('"')) {
      const phrase = raw.slice(1, -1).trim().toLowerCase();
      if (phrase) filter.words.push(phrase);
      continue;
    }
    const mod = /^(in|from|after|before|on):(.+)$/i.exec(raw);
    if (!mod) {
      filter.words.push(raw.toLowerCase());
      continue;
    }
    const key = mod[1].toLowerCase();
    const value = mod[2];
    if (key === 'in') filter.inChannels.push(stripRef(value, '#'));
    else if (key === 'from') filter.fromUsers.push(stripRef(value, '@'));
    else {
      const day = dayStart(value);
      if (day === undefined) {
        filter.words.push(raw.toLowerCase());
      } else if (key === 'after') {
        filter.after = Math.max(filter.after ?? -Infinity, day + 86_400);
      } else if (key === 'before') {
        filter.before = Math.min(filter.before ?? Infinity, day);
      } else {
        filter.after = Math.max(filter.after ?? -Infinity, day);
        filter.before = Math.min(filter.before ?? Infinity, day + 86_400);
      }
    }
  }
  return filter;
}

/** `#name`, `@name`, `<#C123|name>`, `<@U123>` or a bare name → lower-cased name or id. */
function stripRef(value: string, sigil: string): string {
  const linked = /^<[#@]([A-Z0-9]+)(?:\|[^>]*)?>$/i.exec(value);
  if (linked) return linked[1].toLowerCase();
  return (value.startsWith(sigil) ? value.slice(1) : value).toLowerCase();
}

function dayStart(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

function userObject(u: StandInUser): Record<string, unknown> {
  return {
    id: u.id,
    team_id: TEAM.id,
    name: u.name,
    real_name: u.real_name,
    deleted: false,
    is_bot: false,
    is_admin: false,
    is_owner: false,
    is_app_user: false,
    tz: 'UTC',
    tz_offset: 0,
    profile: { real_name: u.real_name, display_name: u.name, real_name_normalized: u.real_name, display_name_normalized: u.name },
  };
}
