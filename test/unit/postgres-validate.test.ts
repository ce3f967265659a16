import assert from 'node:assert/strict';
import { DatabaseCatalog, type CatalogData } from '../../src/core/sources/postgres-catalog';
import { validateReadOnlySql, type SqlValidation } from '../../src/core/sources/postgres-validate';

/** The user tables these cases read, and nothing of the owner's: the rules below that are not about the catalog. */
const TABLES = [
  ...['orders', 'customers', 'regions', 'order_items', 'a', 'b', 'c', 'd', 't', 'u', 's', 'v', 'w', 'x', 'y', 'Customer', 'products', 'events', 'items', 'sales', 'employees', 'users', 'logs', 'big_table'].map((name) => ['public', name]),
  ['Sales', 'Orders'],
];
function catalogOf(data: Partial<CatalogData> = {}): DatabaseCatalog {
  return new DatabaseCatalog({
    searchPath: ['pg_catalog', 'public'],
    relations: TABLES.map(([schema, name]) => ({ schema: schema!, name: name!, ownerTypes: [name!] })),
    functions: [],
    operators: [],
    casts: [],
    riskyTypes: [],
    ...data,
  });
}
const PLAIN = catalogOf();

interface Case {
  name: string;
  sql: string;
  /** Substrings that must each appear in some problem (refuse cases only). */
  expect?: string[];
}

async function expectAccepted(c: Case): Promise<SqlValidation> {
  const result = await validateReadOnlySql(c.sql, PLAIN);
  assert.deepEqual(result.problems, [], `${c.name} should be accepted: ${c.sql}`);
  assert.equal(result.ok, true, c.name);
  assert.ok(result.statement, `${c.name}: statement is set`);
  assert.ok(!/;\s*$/.test(result.statement), `${c.name}: statement has no trailing semicolon`);
  assert.equal(result.statement, result.statement.trim(), `${c.name}: statement is trimmed`);
  return result;
}

async function expectRefused(c: Case): Promise<SqlValidation> {
  const result = await validateReadOnlySql(c.sql, PLAIN);
  assert.equal(result.ok, false, `${c.name} should be refused: ${c.sql}`);
  assert.ok(result.problems.length > 0, `${c.name}: has problems`);
  for (const fragment of c.expect ?? []) {
    assert.ok(
      result.problems.some((p) => p.includes(fragment)),
      `${c.name}: expected a problem mentioning ${JSON.stringify(fragment)}, got ${JSON.stringify(result.problems)}`,
    );
  }
  return result;
}

function acceptGroup(title: string, cases: Case[]): void {
  it(`accepts ${title}`, async () => {
    for (const c of cases) await expectAccepted(c);
  });
}

function refuseGroup(title: string, cases: Case[]): void {
  it(`refuses ${title}`, async () => {
    for (const c of cases) await expectRefused(c);
  });
}

describe('validateReadOnlySql', () => {
  it('handles concurrent first calls (the parser is loaded once and shared)', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => validateReadOnlySql(i % 2 === 0 ? `SELECT ${i}` : 'SELECT pg_sleep(1)', PLAIN)),
    );
    results.forEach((r, i) => assert.equal(r.ok, i % 2 === 0));
  });

  describe('accepted queries', () => {
    acceptGroup('plain selects, joins and set operations', [
      { name: 'select literal', sql: 'SELECT 1' },
      { name: 'join', sql: 'SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN regions r USING (region_id) WHERE o.total > 100' },
      { name: 'union', sql: 'SELECT id FROM a UNION ALL SELECT id FROM b EXCEPT SELECT id FROM c INTERSECT SELECT id FROM d' },
      { name: 'values', sql: 'VALUES (1, \'a\'), (2, \'b\')' },
      { name: 'table shorthand', sql: 'TABLE customers' },
      { name: 'distinct on + fetch', sql: 'SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b DESC NULLS LAST FETCH FIRST 5 ROWS WITH TIES' },
      { name: 'subqueries', sql: 'SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.t_id = t.id) AND id IN (SELECT t_id FROM v) AND x > ALL (SELECT y FROM w)' },
      { name: 'quoted identifiers', sql: 'SELECT "Order ID", "Customer"."Full Name" FROM "Sales"."Orders" JOIN "Customer" ON true' },
      { name: 'tablesample', sql: 'SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (42)' },
      { name: 'pg_catalog introspection', sql: 'SELECT c.relname, n.nspname FROM pg_catalog.pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace' },
      { name: 'information_schema', sql: 'SELECT table_name FROM information_schema.columns WHERE table_schema = \'public\'' },
    ]);

    acceptGroup('CTEs, window functions and aggregates', [
      { name: 'cte', sql: 'WITH recent AS (SELECT * FROM orders WHERE created_at > now() - INTERVAL \'7 days\') SELECT count(*) FROM recent' },
      { name: 'recursive cte', sql: 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT sum(n) FROM r' },
      { name: 'window', sql: 'SELECT id, row_number() OVER w, rank() OVER (PARTITION BY cat ORDER BY price DESC), lag(price) OVER w, sum(price) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM products WINDOW w AS (ORDER BY id)' },
      { name: 'aggregates with FILTER', sql: 'SELECT count(*) FILTER (WHERE status = \'paid\'), avg(total)::numeric(10,2), string_agg(name, \', \' ORDER BY name), percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders GROUP BY ROLLUP (region) HAVING count(*) > 1' },
      { name: 'count distinct + stats', sql: 'SELECT count(DISTINCT customer_id), stddev_samp(total), corr(a, b), regr_slope(a, b), bool_and(active) FROM t' },
    ]);

    acceptGroup('expressions: CASE, COALESCE, casts, intervals, dates', [
      { name: 'case/coalesce/nullif/greatest', sql: 'SELECT CASE WHEN total > 100 THEN \'big\' ELSE \'small\' END, COALESCE(note, \'-\'), NULLIF(a, 0), GREATEST(a, b), LEAST(a, b) FROM t' },
      { name: 'casts', sql: 'SELECT total::numeric, CAST(qty AS integer), \'2024-01-01\'::date, \'pg_class\'::regclass FROM t' },
      { name: 'interval and extract', sql: 'SELECT EXTRACT(YEAR FROM created_at), date_trunc(\'month\', created_at), created_at AT TIME ZONE \'UTC\', current_date - INTERVAL \'7 days\', age(now(), created_at) FROM orders' },
      { name: 'sql-syntax functions', sql: 'SELECT substring(name FROM 1 FOR 3), position(\'a\' IN name), trim(BOTH \' \' FROM name), overlay(name PLACING \'x\' FROM 1), name SIMILAR TO \'a%\', (a, b) OVERLAPS (c, d) FROM t' },
      { name: 'sql value functions', sql: 'SELECT current_date, current_timestamp, localtimestamp, current_user, current_schema' },
      { name: 'json', sql: 'SELECT data->>\'name\', jsonb_build_object(\'a\', 1), jsonb_array_length(data->\'items\'), JSON_VALUE(data, \'$.a\'), data IS JSON FROM events' },
      { name: 'pg_catalog-qualified allowed function', sql: 'SELECT pg_catalog.upper(name), pg_catalog.count(*) FROM t GROUP BY name' },
      { name: 'arrays', sql: 'SELECT ARRAY[1, 2], array_length(tags, 1), cardinality(tags), tags[1:2], \'x\' = ANY(tags) FROM t' },
    ]);

    acceptGroup('set-returning functions in FROM, LATERAL', [
      { name: 'lateral generate_series', sql: 'SELECT d::date, count(o.id) FROM generate_series(now() - INTERVAL \'30 days\', now(), INTERVAL \'1 day\') AS d LEFT JOIN LATERAL (SELECT id FROM orders WHERE created_at::date = d::date) o ON true GROUP BY d' },
      { name: 'rows from + unnest + jsonb_each', sql: 'SELECT * FROM ROWS FROM (generate_series(1, 3), unnest(ARRAY[\'a\'])) WITH ORDINALITY AS r(n, s, o), LATERAL jsonb_each(\'{}\'::jsonb) e' },
      { name: 'json_table', sql: 'SELECT jt.* FROM events, JSON_TABLE(data, \'$.items[*]\' COLUMNS (sku text PATH \'$.sku\', qty int PATH \'$.qty\')) jt' },
    ]);

    acceptGroup('EXPLAIN and SHOW', [
      { name: 'explain', sql: 'EXPLAIN SELECT * FROM t WHERE id = 1' },
      { name: 'explain with options', sql: 'EXPLAIN (VERBOSE, FORMAT JSON) SELECT 1' },
      { name: 'explain analyze explicitly off', sql: 'EXPLAIN (ANALYZE false) SELECT 1' },
      { name: 'show', sql: 'SHOW statement_timeout' },
    ]);

    acceptGroup('comments, whitespace and semicolons', [
      { name: 'line comment', sql: '-- count the orders\nSELECT count(*) FROM orders' },
      { name: 'question-mark comment line', sql: '-- ?\nSELECT 1' },
      { name: 'block comment', sql: 'SELECT /* the id */ id FROM t' },
      { name: 'trailing semicolon', sql: 'SELECT 1;' },
      { name: 'several trailing semicolons and whitespace', sql: '  SELECT 1 ;; \n' },
    ]);

    it('normalises the statement: trimmed, without trailing semicolons or surrounding comments', async () => {
      const cases: Array<[string, string]> = [
        ['SELECT 1;', 'SELECT 1'],
        ['  SELECT 1 ;; \n', 'SELECT 1'],
        ['-- ?\nSELECT 1', 'SELECT 1'],
        ['SELECT 1 -- trailing comment', 'SELECT 1'],
        ['SELECT 1; -- done', 'SELECT 1'],
        ['SELECT /* keep */ 1\n-- end\n;', 'SELECT /* keep */ 1'],
        ['SELECT \'café\' AS name, \'ü\';', 'SELECT \'café\' AS name, \'ü\''],
        ['SELECT \';\'', 'SELECT \';\''],
      ];
      for (const [sql, statement] of cases) {
        const result = await validateReadOnlySql(sql, PLAIN);
        assert.equal(result.ok, true, sql);
        assert.equal(result.statement, statement, sql);
      }
    });
  });

  describe('refused queries', () => {
    refuseGroup('data modification and DDL', [
      { name: 'delete', sql: 'DELETE FROM orders', expect: ['DELETE statements are not allowed'] },
      { name: 'update', sql: 'UPDATE orders SET total = 0', expect: ['UPDATE statements are not allowed'] },
      { name: 'insert', sql: 'INSERT INTO orders (id) VALUES (1)', expect: ['INSERT statements are not allowed'] },
      { name: 'merge', sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', expect: ['MERGE'] },
      { name: 'drop', sql: 'DROP TABLE orders', expect: ['DROP statements are not allowed'] },
      { name: 'truncate', sql: 'TRUNCATE orders', expect: ['TRUNCATE'] },
      { name: 'alter', sql: 'ALTER TABLE t ADD COLUMN x int', expect: ['ALTER TABLE'] },
      { name: 'create table as', sql: 'CREATE TABLE x AS SELECT 1', expect: ['CREATE TABLE AS'] },
      { name: 'grant', sql: 'GRANT SELECT ON t TO bob', expect: ['GRANT'] },
    ]);

    refuseGroup('session, transaction and procedural statements', [
      { name: 'set role', sql: 'SET ROLE postgres', expect: ['SET/RESET statements are not allowed'] },
      { name: 'set', sql: 'SET statement_timeout = 0', expect: ['SET/RESET'] },
      { name: 'do', sql: 'DO $$ BEGIN PERFORM pg_sleep(10); END $$', expect: ['DO statements are not allowed'] },
      { name: 'call', sql: 'CALL p()', expect: ['CALL statements are not allowed'] },
      { name: 'copy to file', sql: 'COPY t TO \'/tmp/x\'', expect: ['COPY statements are not allowed'] },
      { name: 'copy from program', sql: 'COPY t FROM PROGRAM \'id\'', expect: ['COPY'] },
      { name: 'begin', sql: 'BEGIN', expect: ['transaction control'] },
      { name: 'lock', sql: 'LOCK TABLE t', expect: ['LOCK'] },
      { name: 'vacuum', sql: 'VACUUM t', expect: ['VACUUM'] },
      { name: 'prepare', sql: 'PREPARE p AS SELECT 1', expect: ['PREPARE'] },
      { name: 'execute', sql: 'EXECUTE p', expect: ['EXECUTE'] },
      { name: 'listen', sql: 'LISTEN chan', expect: ['LISTEN'] },
      { name: 'notify', sql: 'NOTIFY chan', expect: ['NOTIFY'] },
      { name: 'declare cursor', sql: 'DECLARE c CURSOR FOR SELECT 1', expect: ['DECLARE CURSOR'] },
    ]);

    refuseGroup('more than one statement', [
      { name: 'select then drop', sql: 'SELECT 1; DROP TABLE x', expect: ['expected exactly one SQL statement but found 2', 'DROP statements are not allowed'] },
      { name: 'two selects', sql: 'SELECT 1; SELECT 2;', expect: ['found 2'] },
    ]);

    it('omits statement when there is not exactly one statement', async () => {
      const result = await expectRefused({ name: 'multi', sql: 'SELECT 1; SELECT 2' });
      assert.equal(result.statement, undefined);
    });

    refuseGroup('writes and locks hidden inside a SELECT', [
      { name: 'data-modifying cte', sql: 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', expect: ['DELETE inside the query is not allowed'] },
      { name: 'insert cte', sql: 'WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i', expect: ['INSERT inside the query'] },
      { name: 'nested update cte', sql: 'SELECT * FROM (WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM u) s', expect: ['UPDATE inside the query'] },
      { name: 'select into', sql: 'SELECT * INTO newtable FROM t', expect: ['SELECT … INTO is not allowed'] },
      { name: 'select into in set operation', sql: 'SELECT 1 UNION SELECT 2 INTO x', expect: ['SELECT … INTO'] },
      { name: 'for update', sql: 'SELECT * FROM t FOR UPDATE', expect: ['FOR UPDATE is not allowed'] },
      { name: 'for share in subquery', sql: 'SELECT * FROM (SELECT * FROM t FOR SHARE) s', expect: ['FOR SHARE'] },
      { name: 'for no key update', sql: 'SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED', expect: ['FOR NO KEY UPDATE'] },
      { name: 'for key share', sql: 'SELECT * FROM t FOR KEY SHARE', expect: ['FOR KEY SHARE'] },
    ]);

    refuseGroup('EXPLAIN ANALYZE and EXPLAIN of non-SELECT', [
      { name: 'explain analyze delete', sql: 'EXPLAIN ANALYZE DELETE FROM t', expect: ['EXPLAIN ANALYZE is not allowed', 'EXPLAIN is only allowed for SELECT queries, not for DELETE'] },
      { name: 'explain analyze select', sql: 'EXPLAIN ANALYZE SELECT 1', expect: ['EXPLAIN ANALYZE is not allowed'] },
      { name: 'explain (analyze)', sql: 'EXPLAIN (ANALYZE, BUFFERS) SELECT 1', expect: ['EXPLAIN ANALYZE'] },
      { name: 'explain (analyze on)', sql: 'EXPLAIN (ANALYZE on) SELECT 1', expect: ['EXPLAIN ANALYZE'] },
      { name: 'explain insert', sql: 'EXPLAIN INSERT INTO t VALUES (1)', expect: ['not for INSERT'] },
      { name: 'explain select with bad function', sql: 'EXPLAIN SELECT pg_sleep(1)', expect: ['pg_sleep()'] },
    ]);

    refuseGroup('functions with side effects or server access', [
      { name: 'pg_terminate_backend', sql: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity', expect: ['function pg_terminate_backend() is not allowed: it has side effects or server access'] },
      { name: 'pg_cancel_backend', sql: 'SELECT pg_cancel_backend(1)', expect: ['pg_cancel_backend()'] },
      { name: 'pg_read_file', sql: 'SELECT pg_read_file(\'/etc/passwd\')', expect: ['pg_read_file()'] },
      { name: 'pg_read_binary_file', sql: 'SELECT pg_read_binary_file(\'/etc/passwd\')', expect: ['pg_read_binary_file()'] },
      { name: 'pg_ls_dir', sql: 'SELECT * FROM pg_ls_dir(\'.\')', expect: ['pg_ls_dir()'] },
      { name: 'pg_stat_file', sql: 'SELECT pg_stat_file(\'postgresql.conf\')', expect: ['pg_stat_file()'] },
      { name: 'lo_from_bytea', sql: 'SELECT lo_from_bytea(0, \'x\')', expect: ['lo_from_bytea()'] },
      { name: 'lo_import', sql: 'SELECT lo_import(\'/etc/passwd\')', expect: ['lo_import()'] },
      { name: 'lo_export', sql: 'SELECT lo_export(1, \'/tmp/x\')', expect: ['lo_export()'] },
      { name: 'lo_unlink', sql: 'SELECT lo_unlink(1)', expect: ['lo_unlink()'] },
      { name: 'dblink', sql: 'SELECT * FROM dblink(\'host=evil\', \'SELECT 1\') AS x(a int)', expect: ['dblink()'] },
      { name: 'dblink_exec', sql: 'SELECT dblink_exec(\'host=evil\', \'DROP TABLE t\')', expect: ['dblink_exec()'] },
      { name: 'set_config', sql: 'SELECT set_config(\'role\', \'postgres\', false)', expect: ['set_config()', 'changes server settings'] },
      { name: 'pg_sleep', sql: 'SELECT pg_sleep(100)', expect: ['pg_sleep()'] },
      { name: 'pg_advisory_lock', sql: 'SELECT pg_advisory_lock(1)', expect: ['pg_advisory_lock()'] },
      { name: 'nextval', sql: 'SELECT nextval(\'orders_id_seq\')', expect: ['nextval()', 'sequence'] },
      { name: 'setval', sql: 'SELECT setval(\'orders_id_seq\', 1)', expect: ['setval()'] },
      { name: 'pg_reload_conf', sql: 'SELECT pg_reload_conf()', expect: ['pg_reload_conf()'] },
      { name: 'pg_rotate_logfile', sql: 'SELECT pg_rotate_logfile()', expect: ['pg_rotate_logfile()'] },
      { name: 'query_to_xml', sql: 'SELECT query_to_xml(\'DELETE FROM t RETURNING *\', true, false, \'\')', expect: ['query_to_xml()', 'executes SQL'] },
      { name: 'current_setting', sql: 'SELECT current_setting(\'data_directory\')', expect: ['current_setting()', 'reads server settings'] },
      { name: 'txid_current', sql: 'SELECT txid_current()', expect: ['txid_current()'] },
      { name: 'pg_switch_wal', sql: 'SELECT pg_switch_wal()', expect: ['pg_switch_wal()'] },
      { name: 'pg_catalog-qualified dangerous function', sql: 'SELECT pg_catalog.pg_read_file(\'/etc/passwd\')', expect: ['function pg_catalog.pg_read_file() is not allowed'] },
      { name: 'user-schema function', sql: 'SELECT public.evil_fn()', expect: ['function public.evil_fn() is not allowed'] },
      { name: 'user-schema function shadowing a built-in name', sql: 'SELECT public.upper(\'x\')', expect: ['function public.upper() is not allowed'] },
      { name: 'unknown unqualified function', sql: 'SELECT evil_fn()', expect: ['function evil_fn() is not allowed: it is not on the allowlist'] },
      { name: 'user-schema operator', sql: 'SELECT 1 OPERATOR(public.+) 2', expect: ['OPERATOR(public.+)'] },
    ]);

    refuseGroup('forbidden functions anywhere in the tree', [
      { name: 'nested call', sql: 'SELECT upper(pg_read_file(\'/etc/passwd\'))', expect: ['pg_read_file()'] },
      { name: 'subquery in WHERE', sql: 'SELECT * FROM t WHERE id IN (SELECT pg_terminate_backend(pid) FROM pg_stat_activity)', expect: ['pg_terminate_backend()'] },
      { name: 'scalar subquery', sql: 'SELECT (SELECT max(x) FROM u WHERE pg_sleep(1) IS NULL) FROM t', expect: ['pg_sleep()'] },
      { name: 'cte body', sql: 'WITH x AS (SELECT lo_import(\'/etc/passwd\') AS oid) SELECT * FROM x', expect: ['lo_import()'] },
      { name: 'lateral', sql: 'SELECT * FROM t, LATERAL (SELECT pg_ls_dir(t.path)) d', expect: ['pg_ls_dir()'] },
      { name: 'from-clause function', sql: 'SELECT * FROM pg_ls_dir(\'/\') AS f', expect: ['pg_ls_dir()'] },
      { name: 'rows from', sql: 'SELECT * FROM ROWS FROM (generate_series(1, 2), pg_ls_dir(\'/\')) r', expect: ['pg_ls_dir()'] },
      { name: 'order by', sql: 'SELECT id FROM t ORDER BY nextval(\'s\')', expect: ['nextval()'] },
      { name: 'window clause', sql: 'SELECT row_number() OVER (ORDER BY setval(\'s\', 1)) FROM t', expect: ['setval()'] },
      { name: 'aggregate filter', sql: 'SELECT count(*) FILTER (WHERE current_setting(\'x\') = \'y\') FROM t', expect: ['current_setting()'] },
      { name: 'group by / having', sql: 'SELECT a FROM t GROUP BY a HAVING pg_advisory_lock(1) IS NOT NULL', expect: ['pg_advisory_lock()'] },
      { name: 'case branch', sql: 'SELECT CASE WHEN a THEN pg_sleep(1) END FROM t', expect: ['pg_sleep()'] },
      { name: 'coalesce argument', sql: 'SELECT COALESCE(NULL, set_config(\'a.b\', \'c\', false))', expect: ['set_config()'] },
      { name: 'union branch', sql: 'SELECT 1 UNION SELECT pg_reload_conf()::int', expect: ['pg_reload_conf()'] },
      { name: 'values list', sql: 'VALUES (1), (pg_cancel_backend(1)::int)', expect: ['pg_cancel_backend()'] },
      { name: 'tablesample argument', sql: 'SELECT * FROM t TABLESAMPLE SYSTEM (pg_sleep(1)::int)', expect: ['pg_sleep()'] },
      { name: 'explain inner query', sql: 'EXPLAIN SELECT * FROM t WHERE id = nextval(\'s\')', expect: ['nextval()'] },
    ]);

    refuseGroup('relations exposing credentials or server configuration', [
      { name: 'pg_authid', sql: 'SELECT rolname, rolpassword FROM pg_authid', expect: ['relation pg_authid is not allowed'] },
      { name: 'qualified pg_authid', sql: 'SELECT * FROM pg_catalog.pg_authid', expect: ['pg_catalog.pg_authid'] },
      { name: 'pg_shadow', sql: 'SELECT * FROM pg_shadow', expect: ['pg_shadow'] },
      { name: 'pg_user_mappings', sql: 'SELECT * FROM pg_user_mappings', expect: ['pg_user_mappings'] },
      { name: 'pg_user_mapping', sql: 'SELECT * FROM pg_user_mapping', expect: ['pg_user_mapping'] },
      { name: 'pg_hba_file_rules', sql: 'SELECT * FROM pg_hba_file_rules', expect: ['pg_hba_file_rules'] },
      { name: 'pg_file_settings', sql: 'SELECT * FROM pg_file_settings', expect: ['pg_file_settings'] },
      { name: 'pg_settings', sql: 'SELECT name, setting FROM pg_settings', expect: ['pg_settings'] },
      { name: 'in a subquery', sql: 'SELECT 1 WHERE EXISTS (SELECT 1 FROM pg_shadow)', expect: ['pg_shadow'] },
    ]);

    refuseGroup('syntax errors and empty input', [
      { name: 'syntax error', sql: 'SELEC * FROM t', expect: ['syntax error at or near "SELEC"', 'position 1'] },
      { name: 'syntax error with position', sql: 'SELECT a,\nFROM t', expect: ['syntax error at or near "FROM"', 'line 2, column 1'] },
      { name: 'unterminated string', sql: 'SELECT \'abc', expect: ['unterminated quoted string'] },
      { name: 'empty string', sql: '', expect: ['empty'] },
      { name: 'whitespace only', sql: '  \n\t ', expect: ['empty'] },
      { name: 'comment only', sql: '-- nothing here', expect: ['no SQL statement'] },
      { name: 'semicolons only', sql: ';;', expect: ['no SQL statement'] },
    ]);

    it('reports every problem, not just the first', async () => {
      const result = await expectRefused({
        name: 'many problems',
        sql: 'WITH d AS (DELETE FROM t RETURNING *) SELECT pg_sleep(1), lo_unlink(1), pg_sleep(2) FROM d, pg_shadow FOR UPDATE',
      });
      // Order follows the parser's field order (the WITH clause comes after the target list), so compare as sets.
      assert.deepEqual([...result.problems].sort(), [
        'DELETE inside the query is not allowed: data-modifying statements are not allowed, not even inside WITH',
        'function pg_sleep() is not allowed: it has side effects or server access',
        'function lo_unlink() is not allowed: it has side effects or server access',
        "relation pg_shadow is not allowed: of the system catalogs only a few structural views may be read (it may expose credentials, server configuration or other sessions' work)",
        'locking clause FOR UPDATE is not allowed: it takes row locks; remove it',
      ].sort());
    });

    it('still returns the normalised statement when a parsed statement is refused', async () => {
      const result = await expectRefused({ name: 'delete', sql: 'DELETE FROM t;' });
      assert.equal(result.statement, 'DELETE FROM t');
    });

    it('gives no statement for a syntax error', async () => {
      const result = await expectRefused({ name: 'syntax', sql: 'SELECT FROM WHERE' });
      assert.equal(result.statement, undefined);
      assert.equal(result.problems.length, 1);
    });
  });

  describe('against the catalog of a database with objects of its own', () => {
    const citext = catalogOf({
      relations: [
        ...TABLES.map(([schema, name]) => ({ schema: schema!, name: name!, ownerTypes: [name!] })),
        { schema: 'public', name: 'accounts', ownerTypes: ['accounts', 'citext'] },
        { schema: 'app', name: 'hidden', ownerTypes: ['hidden'] },
      ],
      functions: [
        // an extension's overload takes its own type: it can only win when a citext value is involved
        { schema: 'public', name: 'replace', signature: 'replace(citext, citext, citext)', arguments: 3, ownerTypes: ['citext'] },
        // an overload on built-in types competes with the built-in for every call of the name
        { schema: 'public', name: 'upper', signature: 'upper(integer)', arguments: 1, ownerTypes: [] },
        { schema: 'app', name: 'lower', signature: 'lower(integer)', arguments: 1, ownerTypes: [] },
      ],
      operators: [{ schema: 'public', name: '=', function: 'public.citext_eq(citext, citext)', ownerTypes: ['citext'] }],
      casts: [{ source: 'text', target: 'integer', targetType: 'int4', function: 'public.parse_int(text)', implicit: false, ownerTypes: [] }],
      riskyTypes: [{ schema: 'public', name: 'money2', why: 'a base type with its own input and output functions' }],
    });

    async function problemsOf(sql: string): Promise<string[]> {
      return (await validateReadOnlySql(sql, citext)).problems;
    }

    it('refuses a name the owner overloaded on built-in types, and accepts it qualified with pg_catalog', async () => {
      assert.match((await problemsOf('SELECT upper(name) FROM customers')).join(), /public\.upper\(integer\)/);
      assert.deepEqual(await problemsOf('SELECT pg_catalog.upper(name) FROM customers'), []);
    });

    it('an overload in a schema off the search path cannot be reached unqualified', async () => {
      assert.deepEqual(await problemsOf('SELECT lower(name) FROM customers'), []);
    });

    it('an extension overload on its own type is refused only when a value of that type is involved', async () => {
      assert.deepEqual(await problemsOf("SELECT replace(name, 'a', 'b') FROM customers WHERE id = 1"), []);
      assert.match((await problemsOf("SELECT replace(email, 'a', 'b') FROM accounts")).join(), /public\.replace\(citext, citext, citext\)/);
      assert.match((await problemsOf("SELECT id FROM accounts WHERE email = 'x'")).join(), /operator = is not allowed/);
    });

    it('refuses a cast the owner defined to a built-in type, and a cast to a risky type of theirs', async () => {
      assert.match((await problemsOf("SELECT '1'::int")).join(), /public\.parse_int\(text\)/);
      assert.match((await problemsOf("SELECT '1'::money2")).join(), /public\.money2/);
    });

    it('resolves relations by the search path: off-path tables need their schema', async () => {
      assert.match((await problemsOf('SELECT * FROM hidden')).join(), /relation hidden is not allowed/);
      assert.deepEqual(await problemsOf('SELECT * FROM app.hidden'), []);
    });

    it('a recursive CTE sees itself; a plain one does not see the ones after it', async () => {
      assert.deepEqual(await problemsOf('WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r'), []);
      assert.match((await problemsOf('WITH first AS (SELECT * FROM pg_shadow2), pg_shadow2 AS (SELECT 1) SELECT * FROM first')).join(), /pg_shadow2/);
    });
  });
});
