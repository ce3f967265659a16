/**
 * The path a secret takes in the extension, through the real drivers and the stand-ins: a URL or token from the
 * Add Connection form, the setting without it, the secret put back when the source is built, and error messages
 * with it blanked out.
 */
import assert from 'node:assert/strict';
import { MongoSource } from '../../src/core/sources/mongodb';
import { SlackSource } from '../../src/core/sources/slack';
import { mongoUrlWithPassword, parseMongoUrl, redactSecrets, slackTokenProblem } from '../../src/vscode/connectionForm';
import { parseConnections, type MongoConnectionSetting } from '../../src/vscode/connectionSettings';
import { MongoStandIn } from '../support/mongo-standin';
import { SlackStandIn } from '../support/slack-standin';

describe('vscode connections: secrets from the form to the drivers', () => {
  const password = 'p@ss:w/rd';
  let mongo: MongoStandIn;
  let slack: SlackStandIn;

  before(async () => {
    mongo = new MongoStandIn({ users: [{ username: 'ada', password }] });
    await mongo.start();
    slack = await new SlackStandIn({ tokens: { 'xoxb-standin-1': 'bot' }, channels: [] }).start();
  });

  after(async () => {
    await mongo.stop();
    await slack.stop();
  });

  /** What the form stores for a pasted URL: the setting (read back as the extension reads it) and the password. */
  function added(pasted: string): { setting: MongoConnectionSetting; password: string | undefined } {
    const parsed = parseMongoUrl(pasted);
    assert.ok(typeof parsed !== 'string', String(parsed));
    const { connections } = parseConnections([{ id: 'crm', kind: 'mongodb', url: parsed.url }]);
    assert.equal(connections[0]?.kind, 'mongodb');
    return { setting: connections[0] as MongoConnectionSetting, password: parsed.password };
  }

  function mongoSource(setting: MongoConnectionSetting, stored: string | undefined): MongoSource {
    return new MongoSource({ id: setting.id, url: mongoUrlWithPassword(setting.url, stored), serverSelectionTimeoutMs: 3000 });
  }

  it('MongoDB: the password leaves the setting and comes back for the driver', async () => {
    const host = new URL(mongo.url.replace('mongodb:', 'http:')).host;
    const { setting, password: stored } = added(`mongodb://ada:${encodeURIComponent(password)}@${host}/shop?directConnection=true&authSource=admin`);
    assert.equal(stored, password);
    assert.ok(!JSON.stringify(setting).includes('w/rd') && !JSON.stringify(setting).includes(encodeURIComponent(password)));
    const source = mongoSource(setting, stored);
    try {
      await source.ping();
    } finally {
      await source.close();
    }
  });

  it('MongoDB: a wrong password fails, and the message shows no secret', async () => {
    const host = new URL(mongo.url.replace('mongodb:', 'http:')).host;
    const { setting } = added(`mongodb://ada@${host}/shop?directConnection=true&authSource=admin`);
    const wrong = 'wr0ng:p@ss';
    const source = mongoSource(setting, wrong);
    try {
      const error = await source.ping().then(
        () => assert.fail('a wrong password was accepted'),
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      const shown = redactSecrets(error, [wrong]);
      assert.ok(!shown.includes(wrong) && !shown.includes(encodeURIComponent(wrong)), shown);
    } finally {
      await source.close();
    }
  });

  it('Slack: a token of the right shape reaches a Slack-compatible server at the setting’s URL', async () => {
    assert.equal(slackTokenProblem('xoxb-standin-1'), undefined);
    const { connections } = parseConnections([{ id: 'chat', kind: 'slack', apiUrl: slack.apiUrl }]);
    const setting = connections[0];
    assert.ok(setting?.kind === 'slack');
    await new SlackSource({ id: setting.id, token: 'xoxb-standin-1', slackApiUrl: setting.apiUrl }).ping();
    const error = await new SlackSource({ id: 'chat', token: 'xoxb-revoked-2', slackApiUrl: setting.apiUrl }).ping().then(
      () => assert.fail('an unknown token was accepted'),
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    assert.ok(!redactSecrets(error, []).includes('revoked-2'), error);
  });
});
