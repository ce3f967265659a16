import assert from 'node:assert/strict';
import { connectionIdProblem, parsePostgresUrl, portProblem, redactSecrets, type ParsedPostgresUrl } from '../../src/vscode/connectionForm';

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
