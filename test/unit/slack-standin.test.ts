import assert from 'node:assert/strict';
import { ErrorCode, LogLevel, WebClient, type WebClientOptions } from '@slack/web-api';
import { SlackStandIn, type StandInChannel } from '../support/slack-standin';

const USER_TOKEN = 'xoxp-standin-user';
const BOT_TOKEN = 'xoxb-standin-bot';

// Day starts (UTC): 2023-11-14 = 1699920000, -15 = 1700006400, -16 = 1700092800, -17 = 1700179200.
const channels: StandInChannel[] = [
  {
    id: 'C0GENERAL',
    name: 'general',
    topic: 'Company-wide',
    purpose: 'Announcements',
    members: ['U0ALICE', 'U0BOB', 'U0CAROL'],
    messages: [
      { ts: '1699930000.000100', user: 'U0ALICE', text: 'deploy failed on staging' },
      { ts: '1700010000.000200', user: 'U0BOB', text: 'deploy succeeded after retry' },
      { ts: '1700100000.000300', user: 'U0ALICE', text: 'lunch anyone?' },
      { ts: '1700190000.000400', user: 'U0CAROL', text: 'deploy of v2 scheduled' },
      { ts: '1700190000.000500', user: 'U0ALICE', text: 'Deploy checklist updated' },
      { ts: '1700190100.000550', user: 'U0BOB', text: 'thanks, looks good', thread_ts: '1700190000.000500' },
    ],
  },
  {
    id: 'C0ENG',
    name: 'eng',
    members: ['U0ALICE', 'U0BOB'],
    messages: [
      { ts: '1700010000.000600', user: 'U0ALICE', text: 'deploy pipeline is green' },
      { ts: '1700100000.000700', user: 'U0BOB', text: 'deploy rollback done' },
    ],
  },
  { id: 'C0RANDOM', name: 'random', members: ['U0BOB'], messages: [] },
  {
    id: 'C0SECRET',
    name: 'secret',
    is_private: true,
    members: ['U0ALICE'],
    messages: [{ ts: '1700010000.000800', user: 'U0ALICE', text: 'deploy secret keys rotated' }],
  },
  { id: 'C0SALES', name: 'sales', members: [], messages: [] },
];

const users = [
  { id: 'U0ALICE', name: 'alice', real_name: 'Alice Archer' },
  { id: 'U0BOB', name: 'bob', real_name: 'Bob Baker' },
  { id: 'U0CAROL', name: 'carol', real_name: 'Carol Cole' },
];

describe('SlackStandIn (through the real @slack/web-api WebClient)', function () {
  let standIn: SlackStandIn;

  const client = (token: string, options: WebClientOptions = {}): WebClient =>
    new WebClient(token, { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR, ...options });

  /** Runs `call`, which must reject; returns the error. */
  async function rejection(call: Promise<unknown>): Promise<Record<string, unknown> & Error> {
    try {
      await call;
    } catch (error) {
      return error as Record<string, unknown> & Error;
    }
    assert.fail('expected the call to reject');
  }

  beforeEach(async function () {
    standIn = await new SlackStandIn({ tokens: { [USER_TOKEN]: 'user', [BOT_TOKEN]: 'bot' }, channels, users }).start();
  });

  afterEach(async function () {
    await standIn.stop();
  });

  it('serves its API under http://127.0.0.1:PORT/api/', function () {
    assert.match(standIn.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });

  it('auth.test tells a user token from a bot token', async function () {
    const user = await client(USER_TOKEN).auth.test();
    assert.equal(user.ok, true);
    assert.equal(user.user_id, 'U0ALICE');
    assert.equal(user.user, 'alice');
    assert.equal(user.bot_id, undefined);
    assert.equal(user.url, 'https://example.slack.com/');
    const bot = await client(BOT_TOKEN).auth.test();
    assert.equal(typeof bot.bot_id, 'string');
    assert.notEqual(bot.user_id, 'U0ALICE');
    assert.deepEqual(standIn.calls, ['auth.test', 'auth.test']);
  });

  it('an unknown token gets invalid_auth as a platform error', async function () {
    const error = await rejection(client('xoxp-nobody').auth.test());
    assert.equal(error.code, ErrorCode.PlatformError);
    assert.equal((error.data as { error: string }).error, 'invalid_auth');
    const missing = await rejection(new WebClient(undefined, { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR }).auth.test());
    assert.equal((missing.data as { error: string }).error, 'invalid_auth');
  });

  it('conversations.list paginates with a cursor and returns every channel exactly once', async function () {
    const web = client(USER_TOKEN);
    const first = await web.conversations.list({ limit: 2 });
    assert.deepEqual(first.channels?.map((c) => c.id), ['C0GENERAL', 'C0ENG']);
    const cursor = first.response_metadata?.next_cursor;
    assert.ok(cursor, 'a limit below the channel count yields a next_cursor');
    const general = first.channels?.[0];
    assert.equal(general?.num_members, 3);
    assert.equal(general?.topic?.value, 'Company-wide');
    assert.equal(general?.purpose?.value, 'Announcements');
    assert.equal(general?.is_private, false);

    const seen = [...(first.channels ?? []).map((c) => c.id)];
    let next: string | undefined = cursor;
    let pages = 1;
    while (next) {
      const page = await web.conversations.list({ limit: 2, cursor: next });
      seen.push(...(page.channels ?? []).map((c) => c.id));
      next = page.response_metadata?.next_cursor || undefined;
      pages += 1;
    }
    // Public channels only by default: the private one stays out.
    assert.deepEqual(seen, ['C0GENERAL', 'C0ENG', 'C0RANDOM', 'C0SALES']);
    assert.equal(pages, 2);
  });

  it('conversations.list pages through the client paginate helper, private channels included when asked', async function () {
    const web = client(USER_TOKEN);
    const ids: string[] = [];
    let pages = 0;
    for await (const page of web.paginate('conversations.list', { limit: 2, types: 'public_channel,private_channel' })) {
      pages += 1;
      ids.push(...((page as { channels?: { id: string }[] }).channels ?? []).map((c) => c.id));
    }
    assert.equal(pages, 3);
    assert.deepEqual(ids, ['C0GENERAL', 'C0ENG', 'C0RANDOM', 'C0SECRET', 'C0SALES']);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(standIn.calls, ['conversations.list', 'conversations.list', 'conversations.list']);
  });

  it('conversations.info finds a channel and reports channel_not_found otherwise', async function () {
    const web = client(USER_TOKEN);
    const info = await web.conversations.info({ channel: 'C0SECRET' });
    assert.equal(info.channel?.name, 'secret');
    assert.equal(info.channel?.is_private, true);
    const error = await rejection(web.conversations.info({ channel: 'C0NOPE' }));
    assert.equal((error.data as { error: string }).error, 'channel_not_found');
  });

  it('conversations.history honours oldest/latest (exclusive unless inclusive) newest first', async function () {
    const web = client(BOT_TOKEN);
    const exclusive = await web.conversations.history({ channel: 'C0GENERAL', oldest: '1700010000.000200', latest: '1700190000.000500' });
    assert.deepEqual(exclusive.messages?.map((m) => m.ts), ['1700190000.000400', '1700100000.000300']);
    assert.equal(exclusive.has_more, false);
    const inclusive = await web.conversations.history({
      channel: 'C0GENERAL',
      oldest: '1700010000.000200',
      latest: '1700190000.000500',
      inclusive: true,
    });
    assert.deepEqual(inclusive.messages?.map((m) => m.ts), [
      '1700190000.000500',
      '1700190000.000400',
      '1700100000.000300',
      '1700010000.000200',
    ]);
    const parent = inclusive.messages?.[0];
    assert.equal(parent?.reply_count, 1, 'a thread parent carries its reply count; the reply itself stays out');
    assert.equal(parent?.text, 'Deploy checklist updated');
    assert.equal(parent?.user, 'U0ALICE');
  });

  it('conversations.history paginates with has_more and next_cursor', async function () {
    const web = client(BOT_TOKEN);
    const seen: string[] = [];
    const hasMore: boolean[] = [];
    let cursor: string | undefined;
    do {
      const page = await web.conversations.history({ channel: 'C0GENERAL', limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...(page.messages ?? []).map((m) => m.ts ?? ''));
      hasMore.push(page.has_more === true);
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    assert.deepEqual(seen, ['1700190000.000500', '1700190000.000400', '1700100000.000300', '1700010000.000200', '1699930000.000100']);
    assert.deepEqual(hasMore, [true, true, false]);
    const error = await rejection(web.conversations.history({ channel: 'C0NOPE' }));
    assert.equal((error.data as { error: string }).error, 'channel_not_found');
  });

  it('conversations.replies returns a thread oldest first', async function () {
    const replies = await client(USER_TOKEN).conversations.replies({ channel: 'C0GENERAL', ts: '1700190000.000500' });
    assert.deepEqual(replies.messages?.map((m) => m.ts), ['1700190000.000500', '1700190100.000550']);
  });

  it('users.list and users.info', async function () {
    const web = client(BOT_TOKEN);
    const list = await web.users.list({});
    assert.deepEqual(list.members?.map((u) => [u.id, u.name, u.real_name]), users.map((u) => [u.id, u.name, u.real_name]));
    const info = await web.users.info({ user: 'U0BOB' });
    assert.equal(info.user?.real_name, 'Bob Baker');
    const error = await rejection(web.users.info({ user: 'U0NOBODY' }));
    assert.equal((error.data as { error: string }).error, 'user_not_found');
  });

  describe('search.messages', function () {
    async function tsOf(query: string, extra: { count?: number; page?: number } = {}): Promise<string[]> {
      const result = await client(USER_TOKEN).search.messages({ query, ...extra });
      return (result.messages?.matches ?? []).map((m) => m.ts ?? '');
    }

    it('matches words case-insensitively, restricted by in:#channel', async function () {
      assert.deepEqual(await tsOf('deploy in:#general'), [
        '1700190000.000500',
        '1700190000.000400',
        '1700010000.000200',
        '1699930000.000100',
      ]);
    });

    it('restricts by from:@user', async function () {
      assert.deepEqual(await tsOf('deploy from:@alice'), [
        '1700190000.000500',
        '1700010000.000800',
        '1700010000.000600',
        '1699930000.000100',
      ]);
    });

    it('after: and before: are exclusive of the named day', async function () {
      assert.deepEqual(await tsOf('deploy after:2023-11-15'), ['1700190000.000500', '1700190000.000400', '1700100000.000700']);
      assert.deepEqual(await tsOf('deploy before:2023-11-15'), ['1699930000.000100']);
      assert.deepEqual(await tsOf('deploy in:#general from:@bob after:2023-11-14 before:2023-11-16'), ['1700010000.000200']);
    });

    it('answers the real match shape with paging', async function () {
      const result = await client(USER_TOKEN).search.messages({ query: 'deploy in:#general', count: 3, page: 2 });
      const messages = result.messages;
      assert.deepEqual(messages?.paging, { count: 3, total: 4, page: 2, pages: 2 });
      assert.equal(messages?.matches?.length, 1);
      const match = messages?.matches?.[0];
      assert.deepEqual(match?.channel && { id: match.channel.id, name: match.channel.name }, { id: 'C0GENERAL', name: 'general' });
      assert.equal(match?.user, 'U0ALICE');
      assert.equal(match?.username, 'alice');
      assert.equal(match?.text, 'deploy failed on staging');
      assert.equal(match?.permalink, 'https://example.slack.com/archives/C0GENERAL/p1699930000000100');
      assert.deepEqual(await tsOf('nothing-like-this'), []);
    });

    it('refuses a bot token with not_allowed_token_type', async function () {
      const error = await rejection(client(BOT_TOKEN).search.messages({ query: 'deploy' }));
      assert.equal(error.code, ErrorCode.PlatformError);
      assert.equal(error.code, 'slack_webapi_platform_error');
      assert.equal((error.data as { error: string }).error, 'not_allowed_token_type');
    });
  });

  it('chat.getPermalink builds the archives link', async function () {
    const web = client(BOT_TOKEN);
    const link = await web.chat.getPermalink({ channel: 'C0ENG', message_ts: '1700100000.000700' });
    assert.equal(link.permalink, 'https://example.slack.com/archives/C0ENG/p1700100000000700');
    const reply = await web.chat.getPermalink({ channel: 'C0GENERAL', message_ts: '1700190100.000550' });
    assert.equal(reply.permalink, 'https://example.slack.com/archives/C0GENERAL/p1700190100000550?thread_ts=1700190000.000500&cid=C0GENERAL');
  });

  it('an unknown method gets unknown_method', async function () {
    const error = await rejection(client(USER_TOKEN).apiCall('nope.nothing'));
    assert.equal((error.data as { error: string }).error, 'unknown_method');
  });

  describe('rate limiting (HTTP 429 with Retry-After: 1)', function () {
    it('with rejectRateLimitedCalls the client throws slack_webapi_rate_limited_error at once', async function () {
      standIn.rateLimit('conversations.history', 1, 1);
      const started = Date.now();
      const error = await rejection(
        client(USER_TOKEN, { rejectRateLimitedCalls: true }).conversations.history({ channel: 'C0GENERAL' }),
      );
      assert.equal(error.code, ErrorCode.RateLimitedError);
      assert.equal(error.code, 'slack_webapi_rate_limited_error');
      assert.equal(error.retryAfter, 1);
      assert.ok(Date.now() - started < 900, 'no wait before rejecting');
      assert.deepEqual(standIn.calls, ['conversations.history']);
    });

    it('with retries: 0 (and rejectRateLimitedCalls off) the client waits Retry-After, then throws a request error', async function () {
      standIn.rateLimit('conversations.history', 1, 1);
      const started = Date.now();
      const error = await rejection(client(USER_TOKEN).conversations.history({ channel: 'C0GENERAL' }));
      // The client sleeps for Retry-After, then its "retry" error is wrapped: not a rate-limited error.
      assert.equal(error.code, ErrorCode.RequestError);
      assert.match(String((error.original as Error).message), /rate limit was exceeded.*retry-after: 1/);
      assert.ok(Date.now() - started >= 950, 'the client waited Retry-After before giving up');
      assert.deepEqual(standIn.calls, ['conversations.history']);
    });

    it('with retries: 1 the second call succeeds', async function () {
      standIn.rateLimit('conversations.history', 1, 1);
      const result = await client(USER_TOKEN, { retryConfig: { retries: 1, minTimeout: 10, maxTimeout: 10 } }).conversations.history({
        channel: 'C0GENERAL',
        limit: 1,
      });
      assert.equal(result.ok, true);
      assert.deepEqual(result.messages?.map((m) => m.ts), ['1700190000.000500']);
      assert.deepEqual(standIn.calls, ['conversations.history', 'conversations.history']);
    });

    it('limits only the named method, and only as many times as asked', async function () {
      standIn.rateLimit('search.messages', 2, 1);
      const web = client(USER_TOKEN, { rejectRateLimitedCalls: true });
      assert.equal((await web.auth.test()).ok, true);
      assert.equal((await rejection(web.search.messages({ query: 'deploy' }))).code, ErrorCode.RateLimitedError);
      assert.equal((await rejection(web.search.messages({ query: 'deploy' }))).code, ErrorCode.RateLimitedError);
      assert.equal((await web.search.messages({ query: 'deploy' })).ok, true);
    });
  });
});
