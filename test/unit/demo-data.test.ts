import assert from 'node:assert/strict';
import { PGlite } from '@electric-sql/pglite';
import { demoDatabaseSql, sqlLiteral } from '../../src/core/sources/demo-data';
import { demoRecordings, type DemoRecording } from '../../src/demo/recordings';

type Row = Record<string, unknown>;

/** The SQL inside the first ```sql fence of a reply. */
function fencedSql(reply: string): string {
  const match = /```sql\s*\n([\s\S]*?)```/.exec(reply);
  if (!match) throw new Error('no ```sql block in reply');
  return match[1].trim();
}

/** Cell → number, when it is one (PGlite returns numeric as string, int/bigint as number). */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return undefined;
}

interface QuotedNumber {
  text: string;
  value: number;
  decimals: number;
}

const ISO_DATE = /\b\d{4}-\d{2}(?:-\d{2})?\b/g;

/** Every number written in `text` (ISO dates excluded), accepting 12,345.67 and 12.3% forms. */
function quotedNumbers(text: string): QuotedNumber[] {
  const withoutDates = text.replace(ISO_DATE, ' ');
  const out: QuotedNumber[] = [];
  for (const m of withoutDates.matchAll(/\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?/g)) {
    const raw = m[0];
    const plain = raw.replace(/,/g, '');
    const dot = plain.indexOf('.');
    out.push({ text: raw, value: Number(plain), decimals: dot < 0 ? 0 : plain.length - dot - 1 });
  }
  return out;
}

/** True when `candidate`, rounded to the quoted precision, is the quoted figure. */
function matches(quoted: QuotedNumber, candidate: number): boolean {
  return Math.abs(candidate - quoted.value) <= 0.5 * 10 ** -quoted.decimals + 1e-9;
}

/**
 * The figures an analysis may honestly quote from a result: any cell, the sum or average of a numeric
 * column, the number of rows, and numbers from the question itself ("top 10").
 */
function derivableFigures(recording: DemoRecording, rows: Row[]): number[] {
  const figures = new Set<number>([rows.length]);
  for (const q of quotedNumbers(recording.question)) figures.add(q.value);
  const columns = Object.keys(rows[0] ?? {});
  for (const column of columns) {
    const values = rows.map((r) => asNumber(r[column]));
    for (const v of values) if (v !== undefined) figures.add(v);
    if (values.every((v) => v !== undefined)) {
      const sum = (values as number[]).reduce((s, v) => s + v, 0);
      figures.add(sum);
      figures.add(sum / values.length);
    }
  }
  return [...figures];
}

describe('demo database', function () {
  this.timeout(60_000);

  let db: PGlite;
  let sql: string[];
  let buildMs = 0;

  before(async function () {
    this.timeout(120_000);
    sql = demoDatabaseSql();
    db = await PGlite.create();
    const started = Date.now();
    for (const statement of sql) await db.exec(statement);
    buildMs = Date.now() - started;
  });

  after(async () => {
    await db?.close();
  });

  async function scalar(query: string): Promise<unknown> {
    const result = await db.query<Row>(query);
    return Object.values(result.rows[0])[0];
  }

  describe('generator', () => {
    it('is deterministic: two calls give identical SQL', () => {
      const again = demoDatabaseSql();
      assert.equal(again.length, sql.length);
      assert.ok(again.every((s, i) => s === sql[i]), 'statement text differs between calls');
    });

    it('emits DDL first, batched INSERTs of at most 500 rows, and ends with ANALYZE', () => {
      assert.match(sql[0], /^CREATE TABLE customers/);
      assert.equal(sql[sql.length - 1], 'ANALYZE');
      const inserts = sql.filter((s) => s.startsWith('INSERT INTO'));
      assert.ok(inserts.length >= 15, `expected batched inserts, got ${inserts.length}`);
      for (const s of inserts) assert.ok(s.split('\n').length - 1 <= 500, 'an INSERT has more than 500 rows');
      const firstInsert = sql.findIndex((s) => s.startsWith('INSERT'));
      const lastDdl = sql.map((s) => /^(CREATE|COMMENT)/.test(s)).lastIndexOf(true);
      assert.ok(lastDdl < firstInsert, 'DDL and comments must come before data');
    });

    it('quotes string literals by doubling single quotes', () => {
      assert.equal(sqlLiteral("O'Brien"), "'O''Brien'");
      assert.equal(sqlLiteral("'; DROP TABLE orders; --"), "'''; DROP TABLE orders; --'");
      assert.equal(sqlLiteral(null), 'NULL');
      assert.equal(sqlLiteral(12.5), '12.5');
      assert.equal(sqlLiteral(false), 'FALSE');
    });

    it('builds quickly once PGlite is up', () => {
      // Typically 0.3-0.6 s; the brief allows ~3 s. Generous bound to stay stable on slow CI.
      assert.ok(buildMs < 6000, `building the demo database took ${buildMs} ms`);
    });
  });

  describe('schema and data', () => {
    it('has the exact row counts', async () => {
      const expected: Record<string, number> = {
        customers: 300,
        products: 60,
        orders: 2500,
        order_items: 6107,
        support_tickets: 400,
      };
      for (const [table, count] of Object.entries(expected)) {
        assert.equal(await scalar(`SELECT count(*) FROM ${table}`), count, `row count of ${table}`);
      }
    });

    it('has the same data distribution as when the recordings were made', async () => {
      const statuses = await db.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM orders GROUP BY status ORDER BY status',
      );
      assert.deepEqual(
        Object.fromEntries(statuses.rows.map((r) => [r.status, r.n])),
        { cancelled: 101, delivered: 2280, paid: 16, pending: 3, refunded: 79, shipped: 21 },
      );
      assert.equal(
        await scalar(`SELECT sum(oi.quantity * oi.unit_price)::text FROM order_items oi JOIN orders o ON o.id = oi.order_id
                      WHERE o.status NOT IN ('cancelled', 'refunded')`),
        '758006.69',
      );
    });

    it('keeps every date inside 2025-01-01 .. 2026-06-30 and orders after signup', async () => {
      const range = await db.query<{ lo: string; hi: string }>(
        `SELECT min(t)::text AS lo, max(t)::text AS hi FROM (
           SELECT ordered_at AS t FROM orders UNION ALL SELECT opened_at FROM support_tickets
           UNION ALL SELECT closed_at FROM support_tickets WHERE closed_at IS NOT NULL
           UNION ALL SELECT signup_date::timestamptz FROM customers) x`,
      );
      assert.ok(range.rows[0].lo >= '2025-01-01', range.rows[0].lo);
      assert.ok(range.rows[0].hi < '2026-07-01', range.rows[0].hi);
      assert.equal(
        await scalar('SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.ordered_at < c.signup_date'),
        0,
      );
    });

    it('declares the foreign keys and they hold', async () => {
      const fks = await db.query<{ fk: string }>(
        `SELECT conrelid::regclass::text || '->' || confrelid::regclass::text AS fk
         FROM pg_constraint WHERE contype = 'f' ORDER BY 1`,
      );
      assert.deepEqual(
        fks.rows.map((r) => r.fk),
        ['order_items->orders', 'order_items->products', 'orders->customers', 'support_tickets->customers'],
      );
      const orphans = await scalar(`SELECT
          (SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL)
        + (SELECT count(*) FROM order_items i LEFT JOIN orders o ON o.id = i.order_id WHERE o.id IS NULL)
        + (SELECT count(*) FROM order_items i LEFT JOIN products p ON p.id = i.product_id WHERE p.id IS NULL)
        + (SELECT count(*) FROM support_tickets t LEFT JOIN customers c ON c.id = t.customer_id WHERE c.id IS NULL)`);
      assert.equal(orphans, 0);
      assert.equal(await scalar('SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)'), 0);
    });

    it('has CHECK constraints and primary keys on every table', async () => {
      const rows = await db.query<{ table: string; pk: number; checks: number }>(
        `SELECT c.relname AS table,
                count(*) FILTER (WHERE k.contype = 'p')::int AS pk,
                count(*) FILTER (WHERE k.contype = 'c')::int AS checks
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         LEFT JOIN pg_constraint k ON k.conrelid = c.oid
         WHERE c.relkind = 'r' GROUP BY c.relname ORDER BY 1`,
      );
      assert.deepEqual(rows.rows.map((r) => r.table), ['customers', 'order_items', 'orders', 'products', 'support_tickets']);
      for (const r of rows.rows) {
        assert.equal(r.pk, 1, `${r.table} primary key`);
        assert.ok(r.checks >= 1, `${r.table} has no CHECK constraint`);
      }
    });

    it('comments every table and the less obvious columns', async () => {
      for (const table of ['customers', 'products', 'orders', 'order_items', 'support_tickets']) {
        const comment = await scalar(`SELECT obj_description('${table}'::regclass, 'pg_class')`);
        assert.ok(typeof comment === 'string' && comment.length > 10, `no comment on table ${table}`);
      }
      const columns = [
        ['orders', 'status'],
        ['orders', 'channel'],
        ['order_items', 'unit_price'],
        ['products', 'cost'],
        ['products', 'active'],
        ['customers', 'segment'],
        ['support_tickets', 'closed_at'],
      ];
      for (const [table, column] of columns) {
        const comment = await scalar(
          `SELECT col_description('${table}'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = '${table}'::regclass AND attname = '${column}'))`,
        );
        assert.ok(typeof comment === 'string' && comment.length > 10, `no comment on ${table}.${column}`);
      }
    });

    it('stores the hostile values verbatim and harmlessly', async () => {
      assert.equal(
        await scalar(`SELECT count(*) FROM products WHERE description LIKE '%''; DROP TABLE orders; --'`),
        1,
      );
      assert.equal(await scalar(`SELECT count(*) FROM support_tickets WHERE subject = '<script>alert(1)</script>'`), 1);
      const unicode = await db.query<{ subject: string }>(`SELECT subject FROM support_tickets WHERE subject LIKE '%📦%'`);
      assert.equal(unicode.rows.length, 1);
      assert.match(unicode.rows[0].subject, /配送/);
      assert.equal(await scalar(`SELECT count(*) FROM products WHERE name LIKE '%抹茶 🍵'`), 1);
      assert.ok(((await scalar(`SELECT count(*) FROM customers WHERE name LIKE '%O''Brien'`)) as number) > 0);
      // Still there after all that.
      assert.equal(await scalar(`SELECT to_regclass('orders')::text`), 'orders');
    });
  });

  describe('recordings', () => {
    it('has five recordings with distinct questions', () => {
      assert.equal(demoRecordings.length, 5);
      assert.equal(new Set(demoRecordings.map((r) => r.question)).size, 5);
    });

    for (const recording of demoRecordings) {
      describe(recording.question, () => {
        let rows: Row[] = [];

        before(async () => {
          // Read-only transaction: proves the recorded query writes nothing.
          await db.exec('BEGIN READ ONLY');
          try {
            rows = (await db.query<Row>(fencedSql(recording.sqlReply))).rows;
          } finally {
            await db.exec('ROLLBACK');
          }
        });

        it('sqlReply is one sentence then a single SELECT in a ```sql fence', () => {
          assert.match(recording.sqlReply, /^(?!```)[^\n]+\n\n```sql\n[^`]+\n```$/);
          assert.match(fencedSql(recording.sqlReply), /^(SELECT|WITH)\b/i);
        });

        it('its SQL returns rows', () => {
          assert.ok(rows.length >= 1, 'query returned no rows');
        });

        it('the quoted key figures match the rows', () => {
          assert.ok(recording.checks.length >= 3, 'too few checks');
          for (const check of recording.checks) {
            const where = `recording "${recording.question}" drifted: row ${check.row}, column ${check.column}`;
            assert.ok(check.row < rows.length, `${where}: only ${rows.length} rows`);
            assert.ok(check.column in rows[check.row], `${where}: no such column`);
            const actual = rows[check.row][check.column];
            if (typeof check.value === 'number') {
              const n = asNumber(actual);
              assert.ok(n !== undefined && Math.abs(n - check.value) < 0.005, `${where}: expected ${check.value}, got ${String(actual)}`);
            } else {
              assert.equal(String(actual), check.value, `${where}: expected ${check.value}, got ${String(actual)}`);
            }
          }
        });

        it('every non-zero numeric check is quoted in the analysis', () => {
          const quoted = quotedNumbers(recording.analysisReply);
          for (const check of recording.checks) {
            if (typeof check.value !== 'number' || check.value === 0) continue;
            const value = check.value;
            assert.ok(
              quoted.some((q) => Math.abs(q.value - value) < 0.005),
              `check ${check.column}=${value} (row ${check.row}) is not quoted in the analysis of "${recording.question}"`,
            );
          }
        });

        it('every number in the analysis is derivable from the rows', () => {
          const figures = derivableFigures(recording, rows);
          const cells = new Set(rows.flatMap((r) => Object.values(r).map((v) => String(v))));
          for (const q of quotedNumbers(recording.analysisReply)) {
            assert.ok(
              figures.some((f) => matches(q, f)),
              `recording "${recording.question}" drifted: "${q.text}" in the analysis is not in the result`,
            );
          }
          for (const date of recording.analysisReply.match(ISO_DATE) ?? []) {
            assert.ok(cells.has(date), `recording "${recording.question}" drifted: date ${date} is not in the result`);
          }
        });
      });
    }
  });
});
