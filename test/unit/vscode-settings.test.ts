import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { draftOf, secretChangesOf, settingOfDraft, type ConnectionDraft } from '../../src/vscode/connectionDraft';
import {
  CONNECTION_KINDS,
  DEFAULT_EMBEDDINGS_MODEL,
  describeConnection,
  parseConnections,
  replaceConnection,
  SECRETS_OF_KIND,
  type ConnectionKind,
  type ConnectionSetting,
} from '../../src/vscode/connectionSettings';

describe('vscode settings: reading ceneca.connections', () => {
  it('keeps a well-formed entry of every kind, with only its own fields', () => {
    const { connections, problems } = parseConnections([
      { id: 'shop', kind: 'postgres', name: 'Shop', host: 'db', port: 6543, database: 'shop', user: 'ada', ssl: true },
      { id: 'crm', kind: 'mongodb', url: 'mongodb://ada@h1:27017,h2:27017/crm?replicaSet=rs0', database: 'crm2' },
      { id: 'docs', kind: 'qdrant', url: 'http://localhost:6333', embeddings: { baseUrl: 'http://localhost:11434/v1', model: 'nomic-embed-text' } },
      { id: 'chat', kind: 'slack', name: 'Team chat', apiUrl: 'http://localhost:3000/api/', stray: 'dropped' },
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(connections, [
      { id: 'shop', kind: 'postgres', name: 'Shop', host: 'db', port: 6543, database: 'shop', user: 'ada', ssl: true },
      { id: 'crm', kind: 'mongodb', url: 'mongodb://ada@h1:27017,h2:27017/crm?replicaSet=rs0', database: 'crm2' },
      { id: 'docs', kind: 'qdrant', url: 'http://localhost:6333', embeddings: { baseUrl: 'http://localhost:11434/v1', model: 'nomic-embed-text' } },
      { id: 'chat', kind: 'slack', name: 'Team chat', apiUrl: 'http://localhost:3000/api/' },
    ]);
  });

  it('reads the minimal entry of every kind', () => {
    const { connections, problems } = parseConnections([
      { id: 'a', kind: 'postgres' },
      { id: 'b', kind: 'mongodb', url: 'mongodb://localhost' },
      { id: 'c', kind: 'qdrant', url: 'https://q.example.com' },
      { id: 'd', kind: 'slack' },
    ]);
    assert.deepEqual(problems, []);
    assert.deepEqual(connections, [
      { id: 'a', kind: 'postgres', ssl: false },
      { id: 'b', kind: 'mongodb', url: 'mongodb://localhost' },
      { id: 'c', kind: 'qdrant', url: 'https://q.example.com' },
      { id: 'd', kind: 'slack' },
    ]);
  });

  it('skips malformed entries, saying why, and keeps the rest', () => {
    const { connections, problems } = parseConnections([
      null,
      'shop',
      ['array'],
      { kind: 'postgres' },
      { id: 'bad id', kind: 'postgres' },
      { id: 'x', kind: 'mysql' },
      { id: 'x' },
      { id: 'm1', kind: 'mongodb' },
      { id: 'm2', kind: 'mongodb', url: 'postgres://h/db' },
      { id: 'm3', kind: 'mongodb', url: 'mongodb://ada:hunter2@h/db' },
      { id: 'q1', kind: 'qdrant' },
      { id: 'q2', kind: 'qdrant', url: 'localhost:6333' },
      { id: 'q3', kind: 'qdrant', url: 'http://u:key@h:6333' },
      { id: 'q4', kind: 'qdrant', url: 'http://h:6333', embeddings: { baseUrl: 'not a url' } },
      { id: 's1', kind: 'slack', apiUrl: 'file:///etc/passwd' },
      { id: 's2', kind: 'slack', apiUrl: 42 },
      { id: 'ok', kind: 'slack' },
    ]);
    assert.deepEqual(connections, [{ id: 'ok', kind: 'slack' }]);
    assert.equal(problems.length, 16);
    assert.ok(problems.every((p) => /^ceneca\.connections\[\d+\].*: skipped: /.test(p)), problems.join('\n'));
    assert.match(problems[5]!, /\[5\] \("x"\): skipped: unknown kind "mysql"/);
    assert.match(problems[9]!, /\("m3"\): skipped: its URL holds a password/);
    assert.ok(!problems.join('\n').includes('hunter2'), 'a problem never repeats the secret');
  });

  it('takes the first of two entries with one id', () => {
    const { connections, problems } = parseConnections([
      { id: 'shop', kind: 'mongodb', url: 'mongodb://h' },
      { id: 'shop', kind: 'postgres' },
    ]);
    assert.deepEqual(connections, [{ id: 'shop', kind: 'mongodb', url: 'mongodb://h' }]);
    assert.match(problems[0]!, /\[1\] \("shop"\): skipped: an earlier connection has the id "shop"/);
  });

  it('drops a secret written into the setting by hand, and says so', () => {
    const { connections, problems } = parseConnections([
      { id: 'shop', kind: 'postgres', password: 'hunter2' },
      { id: 'chat', kind: 'slack', token: 'xoxb-1-secret' },
    ]);
    assert.deepEqual(connections, [{ id: 'shop', kind: 'postgres', ssl: false }, { id: 'chat', kind: 'slack' }]);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /"password" is ignored: secrets live in SecretStorage/);
    assert.match(problems[1]!, /"token" is ignored/);
    assert.ok(!JSON.stringify({ connections, problems }).match(/hunter2|xoxb-1-secret/));
  });

  it('reads a missing or non-list setting as no connections', () => {
    assert.deepEqual(parseConnections(undefined), { connections: [], problems: [] });
    assert.deepEqual(parseConnections([]), { connections: [], problems: [] });
    assert.equal(parseConnections({ id: 'shop' }).problems.length, 1);
  });

  it('treats empty optional strings as absent', () => {
    assert.deepEqual(parseConnections([{ id: 'a', kind: 'slack', name: ' ', apiUrl: '' }]).connections, [{ id: 'a', kind: 'slack' }]);
  });
});

describe('vscode settings: saving one connection', () => {
  const raw: unknown[] = [
    { id: 'shop', kind: 'postgres', host: 'db' },
    { id: 'future', kind: 'cassandra', hosts: ['h'] },
    { id: 'chat', kind: 'slack' },
  ];
  const docs: ConnectionSetting = { id: 'docs', kind: 'qdrant', url: 'http://q:6333' };

  it('appends a new connection and leaves entries it cannot read as they were', () => {
    assert.deepEqual(replaceConnection(raw, undefined, docs), [...raw, docs]);
  });

  it('replaces and removes by id', () => {
    const chat: ConnectionSetting = { id: 'team', kind: 'slack', apiUrl: 'http://localhost:3000/api/' };
    assert.deepEqual(replaceConnection(raw, 'chat', chat), [raw[0], raw[1], chat]);
    assert.deepEqual(replaceConnection(raw, 'shop', undefined), [raw[1], raw[2]]);
    assert.deepEqual(replaceConnection(raw, 'future', undefined), raw, 'an entry that is not read is not a connection to remove');
    assert.deepEqual(raw.length, 3, 'the input is not changed');
  });

  it('replaces the entry that was read, not a malformed one of the same id', () => {
    const repeated = [{ id: 'shop', kind: 'postgres', port: 'x' }, { id: 'shop', kind: 'mongodb' }, { id: 'shop', kind: 'slack' }];
    // The first entry is well-formed (a wrong-typed port is dropped), so it is the one in use.
    assert.deepEqual(replaceConnection(repeated, 'shop', undefined), [repeated[1], repeated[2]]);
    const malformedFirst = [{ id: 'shop', kind: 'mongodb' }, { id: 'shop', kind: 'slack' }];
    assert.deepEqual(replaceConnection(malformedFirst, 'shop', undefined), [malformedFirst[0]]);
  });

  it('starts a list when the setting is not one', () => {
    assert.deepEqual(replaceConnection(undefined, undefined, docs), [docs]);
  });
});

describe('vscode settings: the form draft', () => {
  function draft(kind: ConnectionKind, fields: Partial<ConnectionDraft> = {}): ConnectionDraft {
    return { ...draftOf(), kind, id: 'c1', ...fields };
  }
  const withSecrets = (d: ConnectionDraft, value: string): ConnectionDraft => ({
    ...d,
    secrets: { password: { value, change: 'set' }, apiKey: { value, change: 'set' }, embeddingsApiKey: { value, change: 'set' }, token: { value, change: 'set' } },
  });

  it('turns each kind into its setting', () => {
    assert.deepEqual(settingOfDraft(draft('postgres', { name: 'Shop', host: 'db', port: '6543', database: 'shop', user: 'ada', ssl: true })), {
      id: 'c1',
      kind: 'postgres',
      name: 'Shop',
      host: 'db',
      port: 6543,
      database: 'shop',
      user: 'ada',
      ssl: true,
    });
    assert.deepEqual(settingOfDraft(draft('mongodb', { url: 'mongodb://ada@h/crm', database: '' })), { id: 'c1', kind: 'mongodb', url: 'mongodb://ada@h/crm' });
    assert.deepEqual(settingOfDraft(draft('qdrant', { url: 'http://q:6333 ', embeddingsBaseUrl: '', embeddingsModel: '' })), {
      id: 'c1',
      kind: 'qdrant',
      url: 'http://q:6333',
      embeddings: { model: DEFAULT_EMBEDDINGS_MODEL },
    });
    assert.deepEqual(settingOfDraft(draft('slack', { apiUrl: 'http://localhost:3000/api/' })), { id: 'c1', kind: 'slack', apiUrl: 'http://localhost:3000/api/' });
  });

  it('never puts a secret into the setting, whatever the draft holds', () => {
    const secret = 'TOPSECRET-9';
    for (const kind of CONNECTION_KINDS) {
      const d = withSecrets(draft(kind, { url: kind === 'mongodb' ? `mongodb://ada:${secret}@h/db` : 'http://q:6333' }), secret);
      const setting = settingOfDraft(d);
      assert.ok(!JSON.stringify(setting).includes(secret), `${kind}: ${JSON.stringify(setting)}`);
      assert.deepEqual(parseConnections([setting]).problems, [], `${kind}: the saved setting reads back without problems`);
    }
  });

  it('reads back what it saves, through an edit draft', () => {
    const settings: ConnectionSetting[] = [
      { id: 'shop', kind: 'postgres', name: 'Shop', host: 'db', port: 6543, database: 'shop', user: 'ada', ssl: true },
      { id: 'crm', kind: 'mongodb', url: 'mongodb://ada@h1,h2/crm?replicaSet=rs0', database: 'crm2' },
      { id: 'docs', kind: 'qdrant', url: 'http://q:6333', embeddings: { baseUrl: 'http://localhost:11434/v1', model: 'nomic-embed-text' } },
      { id: 'chat', kind: 'slack', apiUrl: 'http://localhost:3000/api/' },
    ];
    for (const setting of settings) assert.deepEqual(settingOfDraft(draftOf(setting)), setting, setting.kind);
    assert.deepEqual(parseConnections(settings).connections, settings);
  });

  it('sets, keeps and removes the secrets of the kind only', () => {
    assert.deepEqual(secretChangesOf(withSecrets(draft('slack'), 'xoxb-1')), { token: { set: 'xoxb-1' } });
    assert.deepEqual(secretChangesOf(withSecrets(draft('qdrant'), 'k')), { apiKey: { set: 'k' }, embeddingsApiKey: { set: 'k' } });
    assert.deepEqual(secretChangesOf(withSecrets(draft('postgres'), '')), { password: 'remove' }, 'adding with no password stores none');
    const edited = draftOf({ id: 'docs', kind: 'qdrant', url: 'http://q:6333' });
    assert.deepEqual(secretChangesOf(edited), { apiKey: 'keep', embeddingsApiKey: 'keep' }, 'editing keeps what is not touched');
    edited.secrets.apiKey = { value: '', change: 'remove' };
    assert.deepEqual(secretChangesOf(edited), { apiKey: 'remove', embeddingsApiKey: 'keep' });
    for (const kind of CONNECTION_KINDS) assert.deepEqual(Object.keys(secretChangesOf(draft(kind, { url: 'mongodb://ada@h' }))), [...SECRETS_OF_KIND[kind]]);
  });

  it('removes a MongoDB password when the URL names no user', () => {
    const d = withSecrets(draftOf({ id: 'crm', kind: 'mongodb', url: 'mongodb://h/crm' }), 'pw');
    assert.deepEqual(secretChangesOf(d), { password: 'remove' });
    assert.deepEqual(secretChangesOf({ ...d, url: 'mongodb://ada@h/crm' }), { password: { set: 'pw' } });
  });

  it('describes each kind in one line without secrets', () => {
    assert.equal(describeConnection({ id: 'a', kind: 'postgres', user: 'ada', host: 'db', port: 5433, database: 'shop' }), 'ada@db:5433/shop');
    assert.equal(describeConnection({ id: 'b', kind: 'mongodb', url: 'mongodb://ada@h/crm', database: 'crm2' }), 'mongodb://ada@h/crm (database crm2)');
    assert.equal(describeConnection({ id: 'c', kind: 'qdrant', url: 'http://q:6333' }), `http://q:6333 · ${DEFAULT_EMBEDDINGS_MODEL}`);
    assert.equal(describeConnection({ id: 'd', kind: 'slack' }), 'Slack');
  });
});

describe('vscode settings: the package.json schema of ceneca.connections', () => {
  interface Branch {
    required: string[];
    properties: Record<string, { const?: string; pattern?: string; properties?: Record<string, unknown> }>;
    additionalProperties: boolean;
  }
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { scope: string; items: { oneOf: Branch[] } }> } };
  };
  const schema = manifest.contributes.configuration.properties['ceneca.connections']!;
  const branchOf = (kind: ConnectionKind): Branch => schema.items.oneOf.find((b) => b.properties.kind?.const === kind)!;

  it('describes every kind, in machine scope', () => {
    assert.equal(schema.scope, 'machine');
    assert.deepEqual(schema.items.oneOf.map((b) => b.properties.kind?.const), [...CONNECTION_KINDS]);
  });

  it('allows every field the form writes, and no secret field', () => {
    const full: Record<ConnectionKind, ConnectionSetting> = {
      postgres: { id: 'a', kind: 'postgres', name: 'n', host: 'h', port: 1, database: 'd', user: 'u', ssl: true },
      mongodb: { id: 'b', kind: 'mongodb', name: 'n', url: 'mongodb://u@h/d', database: 'd' },
      qdrant: { id: 'c', kind: 'qdrant', name: 'n', url: 'http://q', embeddings: { baseUrl: 'http://e', model: 'm' } },
      slack: { id: 'd', kind: 'slack', name: 'n', apiUrl: 'http://s' },
    };
    for (const kind of CONNECTION_KINDS) {
      const branch = branchOf(kind);
      assert.equal(branch.additionalProperties, false, kind);
      for (const key of Object.keys(full[kind])) assert.ok(key in branch.properties, `${kind}.${key}`);
      for (const key of ['password', 'token', 'apiKey']) assert.ok(!(key in branch.properties), `${kind}.${key}`);
    }
    assert.deepEqual(Object.keys(branchOf('qdrant').properties.embeddings!.properties!), ['baseUrl', 'model']);
  });

  it('flags a MongoDB URL that holds a password', () => {
    const pattern = new RegExp(branchOf('mongodb').properties.url!.pattern!, 'u');
    for (const url of ['mongodb://h', 'mongodb://ada@h1,h2/db', 'mongodb+srv://ada@c.example.net/?w=1', 'mongodb://h/db?x=a:b@c']) assert.ok(pattern.test(url), url);
    for (const url of ['mongodb://ada:pw@h/db', 'mongodb+srv://ada:pw@c.example.net', 'http://h']) assert.ok(!pattern.test(url), url);
  });
});
