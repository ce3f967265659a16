import assert from 'node:assert/strict';
import {
  connectionIdProblem,
  httpUrlProblem,
  isHttpUrl,
  mongoUrlWithPassword,
  parseMongoUrl,
  parsePostgresUrl,
  portProblem,
  redactSecrets,
  slackTokenProblem,
  suggestedId,
  type ParsedMongoUrl,
  type ParsedPostgresUrl,
} from '../../src/vscode/connectionForm';

function parsed(text: string): ParsedPostgresUrl {
  const result = parsePostgresUrl(text);
  assert.ok(typeof result !== 'string', `refused: ${String(result)}`);
  return result;
}

describe('connection form: ids and ports', () => {
  it('accepts ids of 1 to 64 letters, digits, _ . -', () => {
    for (const id of ['shop', 'a', 'Shop_2.prod-eu', 'x'.repeat(64)]) assert.equal(connectionIdProblem(id, []), undefined, id);
  });

  it('refuses other ids, and ids already taken', () => {
    for (const id of ['', 'x'.repeat(65), 'has space', 'slash/id', 'ünï', 'semi;colon']) assert.match(connectionIdProblem(id, []) ?? '', /letters, digits/, id);
    assert.match(connectionIdProblem('shop', ['crm', 'shop']) ?? '', /already exists/);
    assert.equal(connectionIdProblem('shop', ['Shop']), undefined, 'ids are case-sensitive, as in settings');
  });

  it('accepts ports 1 to 65535 only', () => {
    for (const port of ['1', '5432', ' 6543 ', '65535']) assert.equal(portProblem(port), undefined, port);
    for (const port of ['', '0', '65536', '-1', '54.32', 'abc', '5432x', '1e3']) assert.ok(portProblem(port), port);
  });
});

describe('connection form: postgres:// URLs', () => {
  it('splits a full URL into its fields, the password apart', () => {
    assert.deepEqual(parsed('postgres://ada:s3cret@db.example.com:6543/shop?sslmode=require'), {
      host: 'db.example.com',
      port: 6543,
      database: 'shop',
      user: 'ada',
      password: 's3cret',
      ssl: true,
      ignoredParameters: [],
    });
  });

  it('accepts postgresql:// and leaves absent parts undefined', () => {
    assert.deepEqual(parsed('postgresql://localhost'), { host: 'localhost', port: undefined, database: undefined, user: undefined, password: undefined, ssl: false, ignoredParameters: [] });
  });

  it('decodes %-escapes in user, password and database', () => {
    const url = parsed('postgres://us%40er:p%3Aa%2Fss%40word@h/my%20db');
    assert.equal(url.user, 'us@er');
    assert.equal(url.password, 'p:a/ss@word');
    assert.equal(url.database, 'my db');
  });

  it('reads TLS from sslmode (require, verify-ca, verify-full) or ssl=true', () => {
    for (const [query, ssl] of [
      ['sslmode=require', true],
      ['sslmode=verify-full', true],
      ['sslmode=verify-ca', true],
      ['sslmode=disable', false],
      ['sslmode=prefer', false],
      ['ssl=true', true],
      ['', false],
    ] as const) {
      assert.equal(parsed(`postgres://h/db?${query}`).ssl, ssl, query);
    }
  });

  it('lists the parameters it cannot keep', () => {
    assert.deepEqual(parsed('postgres://h/db?application_name=x&sslmode=require&options=-c%20a%3Db').ignoredParameters, ['application_name', 'options']);
  });

  it('refuses what is not a single-host postgres URL', () => {
    assert.match(String(parsePostgresUrl('mysql://h/db')), /postgres:\/\//);
    assert.match(String(parsePostgresUrl('host=localhost dbname=shop')), /Not a URL/);
    assert.match(String(parsePostgresUrl('postgres://h1,h2/db')), /one host/);
    assert.match(String(parsePostgresUrl('postgres://u:%zz@h/db')), /%-escape/);
  });
});

describe('connection form: redacting secrets from messages', () => {
  it('blanks every occurrence of the password, raw or %-encoded', () => {
    const message = 'auth failed for p@ss/word; retry with p@ss/word or p%40ss%2Fword';
    assert.equal(redactSecrets(message, ['p@ss/word']), 'auth failed for ****; retry with **** or ****');
  });

  it('blanks the password of any postgres URL in the message', () => {
    assert.equal(redactSecrets('connect postgres://ada:unknown-secret@db:5432/shop failed', []), 'connect postgres://ada:****@db:5432/shop failed');
    assert.equal(redactSecrets('postgresql://ada@db/shop', []), 'postgresql://ada@db/shop');
  });

  it('leaves a message without secrets as it is, and ignores empty secrets', () => {
    assert.equal(redactSecrets('connection refused', [undefined, '']), 'connection refused');
  });
});

describe('connection form: mongodb:// URLs', () => {
  function mongo(text: string): ParsedMongoUrl {
    const result = parseMongoUrl(text);
    assert.ok(typeof result !== 'string', `refused: ${String(result)}`);
    return result;
  }

  it('takes the password out of the URL, keeping everything else', () => {
    assert.deepEqual(mongo('mongodb://ada:s3cret@db.example.com:27017/shop?authSource=admin&tls=true'), {
      url: 'mongodb://ada@db.example.com:27017/shop?authSource=admin&tls=true',
      srv: false,
      hosts: ['db.example.com:27017'],
      user: 'ada',
      password: 's3cret',
      database: 'shop',
    });
  });

  it('reads mongodb+srv:// and several hosts, and leaves absent parts undefined', () => {
    const srv = mongo('mongodb+srv://ada:pw@cluster0.example.net/?retryWrites=true');
    assert.equal(srv.url, 'mongodb+srv://ada@cluster0.example.net/?retryWrites=true');
    assert.equal(srv.srv, true);
    assert.equal(srv.database, undefined);
    const replicaSet = mongo('mongodb://h1:27017,h2:27018,[::1]:27019/crm?replicaSet=rs0');
    assert.deepEqual(replicaSet.hosts, ['h1:27017', 'h2:27018', '[::1]:27019']);
    assert.equal(replicaSet.database, 'crm');
    assert.equal(replicaSet.user, undefined);
    assert.equal(replicaSet.password, undefined);
    assert.equal(replicaSet.url, 'mongodb://h1:27017,h2:27018,[::1]:27019/crm?replicaSet=rs0');
    assert.deepEqual(mongo('mongodb://localhost'), { url: 'mongodb://localhost', srv: false, hosts: ['localhost'], user: undefined, password: undefined, database: undefined });
  });

  it('decodes %-escapes in user, password and database, and re-encodes the user', () => {
    const url = mongo('mongodb://us%40er:p%3Aa%2Fss%40word@h/my%20db');
    assert.equal(url.user, 'us@er');
    assert.equal(url.password, 'p:a/ss@word');
    assert.equal(url.database, 'my db');
    assert.equal(url.url, 'mongodb://us%40er@h/my%20db');
    assert.equal(mongo('mongodb://ada:p@ss@h/db').password, 'p@ss', 'an unencoded @ in the password is read leniently');
  });

  it('never leaves the password in the URL the setting keeps', () => {
    for (const text of ['mongodb://ada:topsecret@h/db', 'mongodb+srv://ada:topsecret@c.example.net', 'mongodb://ada:topsecret@h1,h2/db?w=1', 'MONGODB://ada:topsecret@h']) {
      assert.ok(!mongo(text).url.includes('topsecret'), text);
    }
  });

  it('refuses what is not a usable MongoDB URL', () => {
    assert.match(String(parseMongoUrl('postgres://h/db')), /mongodb:\/\//);
    assert.match(String(parseMongoUrl('mongodb://')), /no host/);
    assert.match(String(parseMongoUrl('mongodb://ada:pa/ss@h/db')), /malformed.*%-encode/);
    assert.match(String(parseMongoUrl('mongodb://h:99999/db')), /malformed/);
    assert.match(String(parseMongoUrl('mongodb+srv://h1,h2/db')), /one host/);
    assert.match(String(parseMongoUrl('mongodb+srv://h:27017/db')), /without a port/);
    assert.match(String(parseMongoUrl('mongodb://u:%zz@h/db')), /%-escape/);
    assert.match(String(parseMongoUrl('mongodb://:pw@h/db')), /no user name/);
    assert.match(String(parseMongoUrl('mongodb://h/db?tlsCertificateKeyFilePassword=x')), /tlsCertificateKeyFilePassword holds a secret/);
    assert.match(String(parseMongoUrl('mongodb://h/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:abc')), /holds a secret/);
  });

  it('puts the stored password back for the driver, %-encoded', () => {
    assert.equal(mongoUrlWithPassword('mongodb://ada@h:27017/shop?tls=true', 'p:a/ss@word'), 'mongodb://ada:p%3Aa%2Fss%40word@h:27017/shop?tls=true');
    assert.equal(mongoUrlWithPassword('mongodb+srv://us%40er@c.example.net/', 'pw'), 'mongodb+srv://us%40er:pw@c.example.net/');
    assert.equal(mongoUrlWithPassword('mongodb://ada@h/db', undefined), 'mongodb://ada@h/db');
    assert.equal(mongoUrlWithPassword('mongodb://h/db', 'pw'), 'mongodb://h/db', 'no user: the password has nowhere to go');
    const roundTrip = mongo(mongoUrlWithPassword(mongo('mongodb://ada:s3cret@h1,h2/db').url, 's3cret'));
    assert.equal(roundTrip.password, 's3cret');
  });
});

describe('connection form: Slack tokens and URLs', () => {
  it('accepts bot and user tokens, also rotating ones', () => {
    for (const token of ['xoxb-1234-5678-abcDEF', 'xoxp-1-2-3-abc', ' xoxb-test ', 'xoxe.xoxb-1-abc', 'xoxe.xoxp-1-abc']) assert.equal(slackTokenProblem(token), undefined, token);
  });

  it('says what is wrong with another kind of token or a malformed one', () => {
    assert.match(slackTokenProblem('') ?? '', /needed/);
    assert.match(slackTokenProblem('xapp-1-A1-123-abc') ?? '', /app-level token/);
    assert.match(slackTokenProblem('xoxa-2-abc') ?? '', /another kind/);
    assert.match(slackTokenProblem('xoxr-abc') ?? '', /another kind/);
    for (const token of ['xoxb-', 'xoxb-abc def', 'xoxb-abc!', 'Bearer xoxb-1', 'abc', 'xoxb_123']) assert.ok(slackTokenProblem(token), token);
  });

  it('checks http(s) URL fields, optional or not', () => {
    assert.equal(httpUrlProblem('http://localhost:6333', { optional: false }), undefined);
    assert.equal(httpUrlProblem('https://x.cloud.qdrant.io:6333/', { optional: false }), undefined);
    assert.equal(httpUrlProblem('', { optional: true }), undefined);
    assert.match(httpUrlProblem('', { optional: false }) ?? '', /needed/);
    assert.match(httpUrlProblem('localhost:6333', { optional: true }) ?? '', /http/);
    assert.match(httpUrlProblem('ftp://h', { optional: true }) ?? '', /http/);
    assert.match(httpUrlProblem('https://u:key@h', { optional: false }) ?? '', /No password/);
    assert.equal(isHttpUrl('http://'), false);
  });

  it('suggests a free, valid id', () => {
    assert.equal(suggestedId('shop', []), 'shop');
    assert.equal(suggestedId('shop', ['shop', 'shop_2']), 'shop_3');
    assert.equal(suggestedId('db.example.com', []), 'db.example.com');
    assert.equal(suggestedId('my db!', []), 'my_db_');
    assert.equal(suggestedId('', []), '');
  });
});

describe('connection form: redacting secrets of every kind', () => {
  it('blanks the password of a mongodb:// or mongodb+srv:// URL in the message', () => {
    assert.equal(redactSecrets('MongoServerError at mongodb://ada:hunter2@h:27017/db', []), 'MongoServerError at mongodb://ada:****@h:27017/db');
    assert.equal(redactSecrets('mongodb+srv://ada:x%2Fy@c.example.net/', []), 'mongodb+srv://ada:****@c.example.net/');
    assert.equal(redactSecrets('mongodb://h1,h2/db', []), 'mongodb://h1,h2/db');
  });

  it('blanks anything shaped like a Slack token', () => {
    assert.equal(redactSecrets('invalid_auth for xoxb-123-456-abcDEF', []), 'invalid_auth for xoxb-****');
    assert.equal(redactSecrets('token xoxe.xoxp-1-abc expired', []), 'token xoxe.xoxp-**** expired');
  });

  it('blanks every given secret, the longest first', () => {
    assert.equal(redactSecrets('key sk-abc123 and sk-abc123456', ['sk-abc123', 'sk-abc123456']), 'key **** and ****');
    assert.equal(redactSecrets('qdrant said: bad api-key qk_live_1 (embeddings key sk-emb)', ['qk_live_1', 'sk-emb', undefined]), 'qdrant said: bad api-key **** (embeddings key ****)');
  });
});
