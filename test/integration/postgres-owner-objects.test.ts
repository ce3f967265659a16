/**
 * A database whose owner has created ordinary objects of their own — an overload of a built-in name, an operator,
 * a cast, a view and a function that write through dblink, a foreign server with a password — against the real
 * PostgreSQL server. Validation must resolve what a statement would actually invoke, not trust unqualified names.
 */
import assert from 'node:assert/strict';
import type { Engine } from '../../src/core/engine';
import type { PostgresSource } from '../../src/core/sources/postgres';
import { askAndCollect, makeEngine, ofType, openAIProvider, OpenAIStandIn, postgresSource, seededDatabase, sql, sqlReply, terminal } from '../support/fixtures';

const OWNER_OBJECTS = [
  'CREATE EXTENSION IF NOT EXISTS dblink',
  'CREATE EXTENSION IF NOT EXISTS postgres_fdw',
  'CREATE TABLE audit (note text)',
  // `lower(1)` finds no pg_catalog.lower(integer), so PostgreSQL resolves it to this one — which writes through dblink.
  `CREATE FUNCTION public.lower(int) RETURNS text LANGUAGE sql AS $$
     SELECT dblink_exec(format('dbname=%s port=%s host=127.0.0.1 user=postgres', current_database(), current_setting('port')),
                        'INSERT INTO audit VALUES (''lower ran'')')::text $$`,
  'CREATE FUNCTION public.add_up(int, int) RETURNS int LANGUAGE sql AS $$ SELECT $1 + $2 $$',
  'CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = public.add_up)',
  "CREATE TYPE mood AS ENUM ('x', 'y')",
  'CREATE FUNCTION public.mood_to_int(mood) RETURNS int LANGUAGE sql AS $$ SELECT 42 $$',
  'CREATE CAST (mood AS int) WITH FUNCTION public.mood_to_int(mood)',
  'CREATE FUNCTION public.shout(customers) RETURNS text LANGUAGE sql AS $$ SELECT upper($1.name) $$',
  'CREATE VIEW loud_customers AS SELECT public.shout(c) AS name FROM customers c',
  'CREATE VIEW quiet_customers AS SELECT id, name FROM customers',
  "CREATE SERVER other FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'elsewhere')",
  "CREATE USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (user 'remote', password 'secret-pw')",
];

describe('owner-defined objects in a real PostgreSQL database', function () {
  this.timeout(60_000);
  let url: string;
  let source: PostgresSource;

  before(async () => {
    url = await seededDatabase('ceneca_owner_objects');
    for (const statement of OWNER_OBJECTS) await sql(url, statement);
  });

  beforeEach(() => {
    source = postgresSource(url);
  });

  afterEach(async () => {
    await source.close();
  });

  async function refused(query: string, ...fragments: string[]): Promise<void> {
    const result = await source.validate(query);
    assert.equal(result.ok, false, `should be refused: ${query}`);
    for (const fragment of fragments) {
      assert.ok(result.problems.some((p) => p.includes(fragment)), `${query}: expected a problem naming ${JSON.stringify(fragment)}, got ${JSON.stringify(result.problems)}`);
    }
  }

  async function accepted(query: string): Promise<void> {
    const result = await source.validate(query);
    assert.deepEqual(result.problems, [], `should be accepted: ${query}`);
    assert.equal(result.ok, true);
  }

  describe('functions, operators and casts resolve to what the statement will invoke', () => {
    it('refuses a call that resolves to the owner\'s overload of a built-in name', async () => {
      await refused('SELECT lower(1)', 'public.lower(integer)');
      await refused('SELECT name FROM customers WHERE lower(id) IS NOT NULL', 'public.lower(integer)');
    });

    it('accepts the built-in when the call is qualified with pg_catalog', async () => {
      await accepted('SELECT pg_catalog.lower(name) FROM customers');
    });

    it('refuses an operator the owner defined, naming the function behind it', async () => {
      await refused('SELECT 1 ### 2', '###', 'public.add_up');
      await refused('SELECT id FROM customers WHERE id ### 1 > 2', '###');
    });

    it('refuses a cast the owner defined', async () => {
      await refused("SELECT 'x'::mood::int", 'public.mood_to_int(mood)');
      await refused("SELECT CAST(CAST('x' AS mood) AS integer)", 'public.mood_to_int(mood)');
      await refused("SELECT int4('x'::mood)", 'public.mood_to_int(mood)');
    });

    it('refuses attribute notation that calls the owner\'s function on a row', async () => {
      await refused('SELECT c.shout FROM customers c', 'public.shout(customers)');
    });

    it('refuses a view whose definition calls the owner\'s function, and accepts a plain view', async () => {
      await refused('SELECT * FROM loud_customers', 'public.shout(customers)');
      await accepted('SELECT * FROM quiet_customers');
    });

    it('accepts ordinary queries over the owner\'s tables and types', async () => {
      await accepted("SELECT name, 'x'::mood AS feeling FROM customers WHERE upper(name) LIKE 'A%' ORDER BY 1 LIMIT 5");
      await accepted('SELECT count(*) FROM customers c JOIN orders o ON o.customer_id = c.id');
    });
  });

  describe('relations: an allowlist, not a blocklist', () => {
    it('refuses catalog views that hold secrets or other sessions\' work', async () => {
      await refused('SELECT * FROM information_schema.user_mapping_options', 'information_schema.user_mapping_options');
      await refused('SELECT * FROM information_schema._pg_user_mappings', 'information_schema._pg_user_mappings');
      await refused('SELECT query FROM pg_stat_activity', 'pg_stat_activity');
      await refused('SELECT * FROM pg_catalog.pg_user_mappings', 'pg_user_mappings');
    });

    it('accepts the user\'s tables and a few harmless catalog views', async () => {
      await accepted('SELECT table_name FROM information_schema.tables WHERE table_schema = \'public\'');
      await accepted('SELECT tablename FROM pg_tables');
      await accepted('SELECT * FROM public.customers');
    });

    it('refuses a relation that is not one of the readable tables', async () => {
      await refused('SELECT * FROM no_such_table', 'no_such_table');
    });

    it('a CTE name is not a relation, but only where it is in scope', async () => {
      await accepted('WITH pg_authid AS (SELECT 1 AS x) SELECT x FROM pg_authid');
      await refused('SELECT * FROM (WITH pg_authid AS (SELECT 1 AS x) SELECT x FROM pg_authid) s, pg_authid', 'pg_authid');
    });
  });

  describe('SHOW: only harmless settings', () => {
    it('refuses settings that disclose the server', async () => {
      await refused('SHOW data_directory', 'data_directory');
      await refused('SHOW hba_file', 'hba_file');
      await refused('SHOW ALL', 'SHOW ALL');
    });

    it('accepts harmless settings', async () => {
      await accepted('SHOW server_version');
      await accepted('SHOW statement_timeout');
    });
  });

  describe('through the engine', () => {
    let openai: OpenAIStandIn;
    let engine: Engine;

    before(async () => {
      openai = new OpenAIStandIn([]);
      await openai.start();
    });

    beforeEach(() => {
      engine = makeEngine([source], openAIProvider(openai), { analysis: false });
    });

    afterEach(async () => {
      await engine.close();
    });

    after(async () => {
      await openai.stop();
    });

    it('a query that would write through the owner\'s function is refused, corrected once, and nothing is written', async () => {
      openai.push(
        { match: /Question: How loud/, text: sqlReply('SELECT lower(1) AS loudness') },
        { match: /public\.lower\(integer\)/, text: sqlReply('SELECT pg_catalog.lower(name) AS loudness FROM customers ORDER BY id LIMIT 2') },
      );
      const events = await askAndCollect(engine, { question: 'How loud are the customers?' });
      const validations = ofType(events, 'query_validated');
      assert.equal(validations[0]?.ok, false, 'the first query is refused');
      assert.ok(validations[0]?.problems.some((p) => p.includes('public.lower(integer)')));
      assert.equal(terminal(events).type, 'complete', 'the corrected query answers');
      assert.ok(ofType(events, 'status').some((e) => e.message.startsWith('warning: the role "postgres" is a superuser')), 'the superuser is warned about');
      assert.deepEqual(await sql(url, 'SELECT * FROM audit'), [], 'nothing was written through dblink');
    });
  });

  describe('the connection\'s role', () => {
    it('warns when the role is a superuser, and not for a read-only role made as the README says', async () => {
      assert.match((await source.privilegeWarning()) ?? '', /"postgres" is a superuser/);
      await sql(url, "DO $$ BEGIN CREATE ROLE ceneca_reader LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
      await sql(url, 'GRANT pg_read_all_data TO ceneca_reader');
      const reader = new URL(url);
      reader.username = 'ceneca_reader';
      const readOnly = postgresSource(reader.toString());
      try {
        assert.equal(await readOnly.privilegeWarning(), undefined);
        await sql(url, 'GRANT INSERT ON orders TO ceneca_reader');
        const writer = postgresSource(reader.toString());
        try {
          assert.match((await writer.privilegeWarning()) ?? '', /"ceneca_reader" may change tables/);
        } finally {
          await writer.close();
          await sql(url, 'REVOKE INSERT ON orders FROM ceneca_reader');
        }
      } finally {
        await readOnly.close();
      }
    });
  });
});
