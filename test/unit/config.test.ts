import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_MODELS, expandEnvReferences, loadConfig, redactUrl } from '../../src/core/config';
import { defaultEngineSettings } from '../../src/core/pipeline/single';

describe('config', () => {
  let dir: string;
  let emptyDir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ceneca-config-'));
    emptyDir = mkdtempSync(join(tmpdir(), 'ceneca-config-empty-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  });

  /** Writes ceneca.config.json (an object is serialised, a string written as it is) and returns its path. */
  function writeConfig(content: unknown, name = 'ceneca.config.json'): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  }

  const load = (env: NodeJS.ProcessEnv, cwd = emptyDir) => loadConfig(env, { cwd });

  /** Asserts that `fn` throws a ConfigError whose message matches every pattern, and returns the message. */
  function configError(fn: () => unknown, ...patterns: Array<RegExp | string>): string {
    let message = '';
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
      assert.equal(error.name, 'ConfigError');
      message = error.message;
      return true;
    });
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(message.includes(pattern), `message ${JSON.stringify(message)} lacks ${JSON.stringify(pattern)}`);
      else assert.match(message, pattern);
    }
    return message;
  }

  describe('without a config file', () => {
    it('has no connections, the default settings and no config file', () => {
      const config = load({ OPENAI_API_KEY: 'sk-test' });
      assert.deepEqual(config.connections, []);
      assert.deepEqual(config.settings, defaultEngineSettings);
      assert.notEqual(config.settings, defaultEngineSettings, 'settings must be a copy, not the shared defaults');
      assert.equal(config.configFile, undefined);
    });

    it('does not read the real process environment when an env object is given', () => {
      const saved = { OPENAI_API_KEY: process.env.OPENAI_API_KEY, CENECA_PG_URL: process.env.CENECA_PG_URL };
      process.env.OPENAI_API_KEY = 'sk-from-process';
      process.env.CENECA_PG_URL = 'postgres://from-process/db';
      try {
        const config = load({});
        assert.equal(config.provider, undefined);
        assert.deepEqual(config.connections, []);
      } finally {
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    });
  });

  describe('provider choice', () => {
    it('OPENAI_API_KEY only → openai with the default model', () => {
      const config = load({ OPENAI_API_KEY: 'sk-openai' });
      assert.deepEqual(config.provider, { provider: 'openai', apiKey: 'sk-openai', model: DEFAULT_MODELS.openai, baseURL: undefined });
      assert.equal(config.providerProblem, undefined);
      assert.ok(DEFAULT_MODELS.openai.length > 0);
    });

    it('ANTHROPIC_API_KEY only → anthropic with the default model', () => {
      const config = load({ ANTHROPIC_API_KEY: 'sk-ant' });
      assert.deepEqual(config.provider, { provider: 'anthropic', apiKey: 'sk-ant', model: DEFAULT_MODELS.anthropic, baseURL: undefined });
      assert.equal(config.providerProblem, undefined);
      assert.notEqual(DEFAULT_MODELS.anthropic, DEFAULT_MODELS.openai);
    });

    it('ANTHROPIC_BASE_URL is passed on', () => {
      const config = load({ ANTHROPIC_API_KEY: 'sk-ant', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999' });
      assert.equal(config.provider?.baseURL, 'http://127.0.0.1:9999');
    });

    it('both keys without CENECA_PROVIDER → no provider and a problem naming CENECA_PROVIDER', () => {
      const config = load({ OPENAI_API_KEY: 'sk-openai', ANTHROPIC_API_KEY: 'sk-ant' });
      assert.equal(config.provider, undefined);
      assert.ok(config.providerProblem?.includes('CENECA_PROVIDER'), config.providerProblem);
      assert.ok(!config.providerProblem?.includes('sk-'), 'the problem must not show a key');
    });

    it('OPENAI_BASE_URL and ANTHROPIC_API_KEY without CENECA_PROVIDER is ambiguous too', () => {
      const config = load({ OPENAI_BASE_URL: 'http://localhost:11434/v1', ANTHROPIC_API_KEY: 'sk-ant' });
      assert.equal(config.provider, undefined);
      assert.ok(config.providerProblem?.includes('CENECA_PROVIDER'));
    });

    it('both keys with CENECA_PROVIDER=anthropic → anthropic', () => {
      const config = load({ OPENAI_API_KEY: 'sk-openai', ANTHROPIC_API_KEY: 'sk-ant', CENECA_PROVIDER: 'anthropic' });
      assert.deepEqual(config.provider, { provider: 'anthropic', apiKey: 'sk-ant', model: DEFAULT_MODELS.anthropic, baseURL: undefined });
      assert.equal(config.providerProblem, undefined);
    });

    it('both keys with CENECA_PROVIDER=openai → openai', () => {
      const config = load({ OPENAI_API_KEY: 'sk-openai', ANTHROPIC_API_KEY: 'sk-ant', CENECA_PROVIDER: 'openai' });
      assert.deepEqual(config.provider, { provider: 'openai', apiKey: 'sk-openai', model: DEFAULT_MODELS.openai, baseURL: undefined });
    });

    it('CENECA_PROVIDER other than openai/anthropic is a problem', () => {
      const config = load({ OPENAI_API_KEY: 'sk-openai', CENECA_PROVIDER: 'gemini' });
      assert.equal(config.provider, undefined);
      assert.ok(config.providerProblem?.includes('CENECA_PROVIDER') && config.providerProblem.includes('gemini'), config.providerProblem);
    });

    it('CENECA_PROVIDER=anthropic without its key is a problem naming ANTHROPIC_API_KEY', () => {
      const config = load({ OPENAI_API_KEY: 'sk-openai', CENECA_PROVIDER: 'anthropic' });
      assert.equal(config.provider, undefined);
      assert.ok(config.providerProblem?.includes('ANTHROPIC_API_KEY'), config.providerProblem);
    });

    it('CENECA_PROVIDER=openai without a key or base URL is a problem naming OPENAI_API_KEY', () => {
      const config = load({ ANTHROPIC_API_KEY: 'sk-ant', CENECA_PROVIDER: 'openai' });
      assert.equal(config.provider, undefined);
      assert.ok(config.providerProblem?.includes('OPENAI_API_KEY'), config.providerProblem);
    });

    it('OPENAI_BASE_URL alone → openai against the local server with a placeholder key', () => {
      const config = load({ OPENAI_BASE_URL: 'http://localhost:11434/v1' });
      assert.equal(config.provider?.provider, 'openai');
      assert.equal(config.provider?.baseURL, 'http://localhost:11434/v1');
      assert.equal(config.provider?.model, DEFAULT_MODELS.openai);
      assert.equal(config.provider?.apiKey, 'not-needed');
      assert.equal(config.providerProblem, undefined);
    });

    it('OPENAI_API_KEY with OPENAI_BASE_URL keeps the real key', () => {
      const config = load({ OPENAI_API_KEY: 'sk-real', OPENAI_BASE_URL: 'https://proxy.example/v1' });
      assert.deepEqual(config.provider, { provider: 'openai', apiKey: 'sk-real', model: DEFAULT_MODELS.openai, baseURL: 'https://proxy.example/v1' });
    });

    it('CENECA_MODEL overrides the default model for either provider', () => {
      assert.equal(load({ OPENAI_API_KEY: 'k', CENECA_MODEL: 'gpt-x' }).provider?.model, 'gpt-x');
      assert.equal(load({ ANTHROPIC_API_KEY: 'k', CENECA_MODEL: 'claude-x' }).provider?.model, 'claude-x');
      assert.equal(load({ OPENAI_BASE_URL: 'http://localhost:1234/v1', CENECA_MODEL: 'llama3' }).provider?.model, 'llama3');
    });

    it('nothing set → no provider and a problem naming OPENAI_API_KEY and ANTHROPIC_API_KEY', () => {
      const config = load({});
      assert.equal(config.provider, undefined);
      const problem = config.providerProblem ?? '';
      assert.ok(problem.includes('OPENAI_API_KEY'), problem);
      assert.ok(problem.includes('ANTHROPIC_API_KEY'), problem);
    });

    it('an empty key counts as not set', () => {
      const config = load({ OPENAI_API_KEY: '', ANTHROPIC_API_KEY: 'sk-ant' });
      assert.equal(config.provider?.provider, 'anthropic');
    });

    it('the config file can choose the provider and model; the environment overrides the model', () => {
      writeConfig({ model: { provider: 'anthropic', model: 'claude-from-file' } });
      const both = { OPENAI_API_KEY: 'sk-openai', ANTHROPIC_API_KEY: 'sk-ant' };
      assert.deepEqual(load(both, dir).provider, { provider: 'anthropic', apiKey: 'sk-ant', model: 'claude-from-file', baseURL: undefined });
      assert.equal(load({ ...both, CENECA_MODEL: 'claude-env' }, dir).provider?.model, 'claude-env');
      assert.equal(load({ ...both, CENECA_PROVIDER: 'openai' }, dir).provider?.provider, 'openai');
    });

    it('a file naming an openai baseURL is enough for a local server', () => {
      writeConfig({ model: { provider: 'openai', baseURL: 'http://localhost:8000/v1', model: 'qwen' } });
      assert.deepEqual(load({}, dir).provider, { provider: 'openai', apiKey: 'not-needed', model: 'qwen', baseURL: 'http://localhost:8000/v1' });
    });
  });

  describe('connections', () => {
    it('CENECA_PG_URL adds a postgres connection', () => {
      const config = load({ CENECA_PG_URL: 'postgres://me:pw@localhost:5432/shop' });
      assert.equal(config.connections.length, 1);
      const [pg] = config.connections;
      assert.equal(pg!.id, 'postgres');
      assert.equal(pg!.kind, 'postgres');
      assert.equal(pg!.url, 'postgres://me:pw@localhost:5432/shop');
      assert.ok(pg!.name && !pg!.name.includes('pw'));
    });

    it('file connections come first, CENECA_PG_URL after them', () => {
      writeConfig({ connections: [{ id: 'warehouse', kind: 'postgres', url: 'postgres://w/db', statementTimeoutMs: 5000 }] });
      const config = load({ CENECA_PG_URL: 'postgres://local/db' }, dir);
      assert.deepEqual(
        config.connections.map((c) => [c.id, 'url' in c ? c.url : undefined]),
        [
          ['warehouse', 'postgres://w/db'],
          ['postgres', 'postgres://local/db'],
        ],
      );
      const warehouse = config.connections[0]!;
      assert.equal(warehouse.kind === 'postgres' && warehouse.statementTimeoutMs, 5000);
      assert.equal(config.configFile, join(dir, 'ceneca.config.json'));
    });

    it('a file connection with id "postgres" and CENECA_PG_URL clash → ConfigError', () => {
      writeConfig({ connections: [{ id: 'postgres', kind: 'postgres', url: 'postgres://w/db' }] });
      configError(() => load({ CENECA_PG_URL: 'postgres://local/db' }, dir), '"postgres"', 'used twice');
    });

    it('${VAR} references in the file are expanded from the given env', () => {
      writeConfig({
        connections: [
          { id: 'shop', kind: 'postgres', name: 'Shop (${REGION})', url: 'postgres://${PGUSER}:${PGPASS}@db.internal:5432/shop' },
          { id: 'docs', kind: 'mongodb', url: '${MONGO_URL}' },
        ],
      });
      const config = load({ PGUSER: 'reader', PGPASS: 's3cr3t', MONGO_URL: 'mongodb://m/docs', REGION: 'eu' }, dir);
      assert.deepEqual(config.connections, [
        { id: 'shop', kind: 'postgres', name: 'Shop (eu)', url: 'postgres://reader:s3cr3t@db.internal:5432/shop' },
        { id: 'docs', kind: 'mongodb', url: 'mongodb://m/docs' },
      ]);
    });

    it('a missing variable → ConfigError naming it', () => {
      writeConfig({ connections: [{ id: 'shop', kind: 'postgres', url: 'postgres://u:${SHOP_PASSWORD}@h/db' }] });
      configError(() => load({ OTHER: 'x' }, dir), '${SHOP_PASSWORD}');
    });

    it('invalid JSON → ConfigError naming the file', () => {
      const path = writeConfig('{ "connections": [ }');
      configError(() => load({}, dir), path, 'not valid JSON');
    });

    it('a duplicate id in the file → ConfigError', () => {
      writeConfig({
        connections: [
          { id: 'db1', kind: 'postgres', url: 'postgres://a/x' },
          { id: 'db1', kind: 'mongodb', url: 'mongodb://b/y' },
        ],
      });
      configError(() => load({}, dir), '"db1"', 'used twice');
    });

    for (const id of ['has space', 'semi;colon', '', 'x'.repeat(65), 'ünï']) {
      it(`an invalid id ${JSON.stringify(id.length > 20 ? `${id.slice(0, 8)}…(${id.length})` : id)} → ConfigError naming the field`, () => {
        const path = writeConfig({ connections: [{ id, kind: 'postgres', url: 'postgres://a/x' }] });
        configError(() => load({}, dir), path, 'connections.0.id');
      });
    }

    it('accepts ids of letters, digits, _ . - up to 64 characters', () => {
      const ids = ['a', 'A_b.c-9', 'x'.repeat(64)];
      writeConfig({ connections: ids.map((id) => ({ id, kind: 'postgres', url: 'postgres://a/x' })) });
      assert.deepEqual(
        load({}, dir).connections.map((c) => c.id),
        ids,
      );
    });

    it('an unknown kind → ConfigError naming the field, without the secret', () => {
      writeConfig({ connections: [{ id: 'x', kind: 'mysql', url: 'mysql://u:${PW}@h/db' }] });
      const message = configError(() => load({ PW: 'hunter2-secret' }, dir), 'connections.0.kind');
      assert.ok(!message.includes('hunter2-secret'), message);
    });

    it('a connection without url → ConfigError', () => {
      writeConfig({ connections: [{ id: 'x', kind: 'postgres' }] });
      configError(() => load({}, dir), 'connections.0.url');
    });

    it('an explicit configPath is read relative to cwd; a missing explicit file is an error', () => {
      writeConfig({ connections: [{ id: 'other', kind: 'postgres', url: 'postgres://o/db' }] }, 'other.json');
      const config = loadConfig({}, { cwd: dir, configPath: 'other.json' });
      assert.deepEqual(
        config.connections.map((c) => c.id),
        ['other'],
      );
      assert.equal(config.configFile, join(dir, 'other.json'));
      configError(() => loadConfig({}, { cwd: dir, configPath: 'missing.json' }), 'config file not found', join(dir, 'missing.json'));
    });

    it('CENECA_CONFIG names the file too', () => {
      writeConfig({ connections: [{ id: 'viaenv', kind: 'postgres', url: 'postgres://o/db' }] }, 'env.json');
      assert.deepEqual(
        load({ CENECA_CONFIG: 'env.json' }, dir).connections.map((c) => c.id),
        ['viaenv'],
      );
      configError(() => load({ CENECA_CONFIG: 'nope.json' }, dir), 'config file not found');
    });
  });

  describe('settings', () => {
    it('settings from the file override the defaults, the rest stay', () => {
      writeConfig({ settings: { maxRows: 10, analysis: false, schemaTables: 3 } });
      const config = load({}, dir);
      assert.deepEqual(config.settings, { ...defaultEngineSettings, maxRows: 10, analysis: false, schemaTables: 3 });
      assert.notEqual(defaultEngineSettings.maxRows, 10, 'the test needs a non-default value');
      assert.equal(defaultEngineSettings.analysis, true);
    });

    it('an empty settings object leaves the defaults', () => {
      writeConfig({ settings: {} });
      assert.deepEqual(load({}, dir).settings, defaultEngineSettings);
    });

    it('an invalid setting → ConfigError naming it', () => {
      writeConfig({ settings: { maxRows: -5 } });
      configError(() => load({}, dir), 'settings.maxRows');
      writeConfig({ settings: { analysis: 'yes' } });
      configError(() => load({}, dir), 'settings.analysis');
    });
  });

  describe('expandEnvReferences', () => {
    it('expands references in every string, deep inside arrays and objects, leaving other values alone', () => {
      const input = {
        a: '${A}',
        list: ['x-${B}-y', 3, true, null, { deep: '${A}${B}' }],
        n: 1.5,
        f: false,
        nothing: null,
      };
      assert.deepEqual(expandEnvReferences(input, { A: 'alpha', B: 'beta' }), {
        a: 'alpha',
        list: ['x-beta-y', 3, true, null, { deep: 'alphabeta' }],
        n: 1.5,
        f: false,
        nothing: null,
      });
    });

    it('does not modify its input', () => {
      const input = { a: '${A}' };
      expandEnvReferences(input, { A: 'v' });
      assert.deepEqual(input, { a: '${A}' });
    });

    it('an empty variable is set (expands to nothing)', () => {
      assert.equal(expandEnvReferences('p=${EMPTY};', { EMPTY: '' }), 'p=;');
    });

    it('leaves $VAR, ${} and ${1X} as they are', () => {
      assert.equal(expandEnvReferences('$A ${} ${1X} $${A}', { A: 'a' }), '$A ${} ${1X} $a');
    });

    it('does not expand a value a second time', () => {
      assert.equal(expandEnvReferences('${A}', { A: '${B}', B: 'b' }), '${B}');
    });

    it('a missing variable → ConfigError naming it and not the values of others', () => {
      const message = configError(() => expandEnvReferences(['${SET}', { x: '${NOT_SET}' }], { SET: 'secret-value' }), '${NOT_SET}');
      assert.ok(!message.includes('secret-value'));
    });
  });

  describe('redactUrl', () => {
    it('hides the password and keeps the rest', () => {
      const redacted = redactUrl('postgres://reader:s3cr3t@db.internal:5432/shop?sslmode=require');
      assert.equal(redacted, 'postgres://reader:****@db.internal:5432/shop?sslmode=require');
    });

    it('hides passwords with encoded characters, and in other schemes', () => {
      for (const url of ['postgres://u:p%40ss%3Aword@h/db', 'mongodb+srv://app:Pa55w0rd@cluster0.example.net/db?retryWrites=true', 'https://user:tok@example.com/x']) {
        const redacted = redactUrl(url);
        assert.ok(redacted.includes(':****@'), redacted);
        for (const secret of ['p%40ss', 'Pa55w0rd', 'tok@']) assert.ok(!redacted.includes(secret), redacted);
      }
    });

    it('leaves a URL without a password as it is', () => {
      assert.equal(redactUrl('postgres://localhost:5432/shop'), 'postgres://localhost:5432/shop');
      assert.equal(redactUrl('postgres://user@localhost/shop'), 'postgres://user@localhost/shop');
    });

    it('never throws, and never echoes what it cannot parse', () => {
      for (const url of ['', 'not a url', 'postgres://u:secret@host:99999/db', 'http://[::1', '::::', 'postgres://u:secret@ho st/db']) {
        let redacted = '';
        assert.doesNotThrow(() => (redacted = redactUrl(url)), url);
        assert.ok(!redacted.includes('secret'), redacted);
      }
      assert.equal(redactUrl('not a url'), '(unparseable URL)');
    });
  });
});

describe('config: edge cases', () => {
  it('an empty CENECA_MODEL falls back to the default model', () => {
    const config = loadConfig({ OPENAI_API_KEY: 'k', CENECA_MODEL: '' }, { cwd: mkdtempSync(join(tmpdir(), 'ceneca-cfg-')) });
    assert.equal(config.provider?.model, DEFAULT_MODELS.openai);
  });

  it('redactUrl hides secrets passed as query parameters', () => {
    const shown = redactUrl('postgres://u:hunter2@h/db?password=hunter3&sslmode=require&api_key=abc');
    assert.ok(!/hunter2|hunter3|abc/.test(shown), shown);
    assert.match(shown, /sslmode=require/);
  });
});

describe('config: connections of every kind', () => {
  it('CENECA_MONGODB_URL and CENECA_SLACK_TOKEN add one source each; a slack entry needs a token, not a url', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ceneca-cfg-'));
    try {
      const config = loadConfig({ OPENAI_API_KEY: 'k', CENECA_MONGODB_URL: 'mongodb://m/db', CENECA_SLACK_TOKEN: 'xoxp-1' }, { cwd: dir });
      assert.deepEqual(config.connections.map((c) => [c.id, c.kind]), [['mongodb', 'mongodb'], ['slack', 'slack']]);
      writeFileSync(join(dir, 'ceneca.config.json'), JSON.stringify({ connections: [{ id: 'chat', kind: 'slack', url: 'x' }] }));
      assert.throws(() => loadConfig({}, { cwd: dir }), (e: unknown) => e instanceof ConfigError && /connections\.0\.token/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config: Qdrant connections and their embeddings', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ceneca-cfg-qdrant-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const load = (env: NodeJS.ProcessEnv) => loadConfig(env, { cwd: dir });
  const writeConnections = (connections: unknown[]) => writeFileSync(join(dir, 'ceneca.config.json'), JSON.stringify({ connections }));

  it('CENECA_QDRANT_URL adds one qdrant connection; CENECA_QDRANT_API_KEY becomes its API key', () => {
    const config = load({ OPENAI_API_KEY: 'sk-1', CENECA_QDRANT_URL: 'http://localhost:6333', CENECA_QDRANT_API_KEY: 'qd-key' });
    assert.deepEqual(config.connections, [
      {
        id: 'qdrant',
        kind: 'qdrant',
        name: 'Qdrant (CENECA_QDRANT_URL)',
        url: 'http://localhost:6333',
        apiKey: 'qd-key',
        embeddings: { model: 'text-embedding-3-small', apiKey: 'sk-1' },
      },
    ]);
  });

  it('without CENECA_QDRANT_API_KEY the connection has no API key; without CENECA_QDRANT_URL there is none', () => {
    const [qdrant] = load({ CENECA_QDRANT_URL: 'http://q:6333' }).connections;
    assert.equal(qdrant?.kind, 'qdrant');
    assert.ok(qdrant && !('apiKey' in qdrant), JSON.stringify(qdrant));
    assert.deepEqual(load({ CENECA_QDRANT_API_KEY: 'orphan' }).connections, []);
  });

  it('embedding defaults: no base URL (api.openai.com), text-embedding-3-small, a placeholder key for local servers', () => {
    const [qdrant] = load({ CENECA_QDRANT_URL: 'http://q:6333' }).connections;
    assert.deepEqual(qdrant?.kind === 'qdrant' && qdrant.embeddings, { model: 'text-embedding-3-small', apiKey: 'not-needed' });
  });

  it('OPENAI_BASE_URL and OPENAI_API_KEY are the fallback; CENECA_EMBEDDINGS_* win over them', () => {
    const openai = load({ CENECA_QDRANT_URL: 'http://q:6333', OPENAI_BASE_URL: 'http://llm:8000/v1', OPENAI_API_KEY: 'sk-o' }).connections[0];
    assert.deepEqual(openai?.kind === 'qdrant' && openai.embeddings, { baseURL: 'http://llm:8000/v1', model: 'text-embedding-3-small', apiKey: 'sk-o' });
    const own = load({
      CENECA_QDRANT_URL: 'http://q:6333',
      OPENAI_BASE_URL: 'http://llm:8000/v1',
      OPENAI_API_KEY: 'sk-o',
      CENECA_EMBEDDINGS_BASE_URL: 'http://emb:9000/v1',
      CENECA_EMBEDDINGS_MODEL: 'nomic-embed-text',
    }).connections[0];
    assert.deepEqual(own?.kind === 'qdrant' && own.embeddings, { baseURL: 'http://emb:9000/v1', model: 'nomic-embed-text', apiKey: 'sk-o' });
  });

  it('a file connection\'s own embeddings win over the environment, field by field, for every qdrant connection', () => {
    writeConnections([
      { id: 'docs', kind: 'qdrant', url: 'http://a:6333', embeddings: { baseURL: 'http://own:1/v1', model: 'bge-small', apiKey: '${EMB_KEY}' } },
      { id: 'faq', kind: 'qdrant', url: 'http://b:6333', embeddings: { model: 'e5-large' } },
      { id: 'plain', kind: 'qdrant', url: 'http://c:6333' },
      { id: 'shop', kind: 'postgres', url: 'postgres://h/db' },
    ]);
    const config = load({ EMB_KEY: 'k-own', CENECA_EMBEDDINGS_BASE_URL: 'http://env:2/v1', CENECA_EMBEDDINGS_MODEL: 'env-model', OPENAI_API_KEY: 'sk-o' });
    const embeddings = Object.fromEntries(config.connections.map((c) => [c.id, c.kind === 'qdrant' ? c.embeddings : 'none']));
    assert.deepEqual(embeddings, {
      docs: { baseURL: 'http://own:1/v1', model: 'bge-small', apiKey: 'k-own' },
      faq: { baseURL: 'http://env:2/v1', model: 'e5-large', apiKey: 'sk-o' },
      plain: { baseURL: 'http://env:2/v1', model: 'env-model', apiKey: 'sk-o' },
      shop: 'none',
    });
    assert.ok(!('embeddings' in config.connections[3]!), 'other kinds get no embeddings');
  });

  it('empty environment values count as unset', () => {
    const [qdrant] = load({ CENECA_QDRANT_URL: 'http://q:6333', CENECA_EMBEDDINGS_BASE_URL: '', CENECA_EMBEDDINGS_MODEL: '', OPENAI_API_KEY: '', OPENAI_BASE_URL: '' }).connections;
    assert.deepEqual(qdrant?.kind === 'qdrant' && qdrant.embeddings, { model: 'text-embedding-3-small', apiKey: 'not-needed' });
  });

  it('a file connection with id "qdrant" clashes with CENECA_QDRANT_URL; a qdrant entry needs a url', () => {
    writeConnections([{ id: 'qdrant', kind: 'qdrant', url: 'http://a:6333' }]);
    assert.throws(() => load({ CENECA_QDRANT_URL: 'http://b:6333' }), (e: unknown) => e instanceof ConfigError && /"qdrant" is used twice/.test(e.message));
    writeConnections([{ id: 'vectors', kind: 'qdrant', apiKey: 'k' }]);
    assert.throws(() => load({}), (e: unknown) => e instanceof ConfigError && /connections\.0\.url/.test(e.message));
  });

  it('the API key never appears in a config error', () => {
    writeConnections([{ id: 'vectors', kind: 'qdrant', url: 'http://a:6333', apiKey: 'top-secret-key', embeddings: { model: 42 } }]);
    assert.throws(
      () => load({}),
      (e: unknown) => e instanceof ConfigError && /connections\.0\.embeddings\.model/.test(e.message) && !e.message.includes('top-secret-key'),
    );
  });
});
