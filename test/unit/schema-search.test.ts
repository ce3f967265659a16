import assert from 'node:assert/strict';
import { searchSchema, stem, tokenize } from '../../src/core/schema/search';
import type { ColumnInfo, TableInfo } from '../../src/core/schema/types';
import { evalQuestions, evalSchema, heldOutQuestions, type EvalQuestion } from '../fixtures/eval-schema';

/** A small table: `cols` as `name` or `name->table` for a foreign key to `table.id`; `id` is the primary key. */
function tbl(name: string, cols: string[], comment?: string): TableInfo {
  const columns: ColumnInfo[] = cols.map((spec) => {
    const [colName, ref] = spec.split('->') as [string, string | undefined];
    const c: ColumnInfo = { name: colName, type: colName === 'id' || ref ? 'bigint' : 'text', nullable: colName !== 'id', isPrimaryKey: colName === 'id' };
    if (ref !== undefined) c.references = { table: ref, column: 'id' };
    return c;
  });
  const t: TableInfo = {
    schema: 'public',
    name,
    qualifiedName: name,
    kind: 'table',
    rowEstimate: -1,
    columns,
    primaryKey: columns.filter((c) => c.isPrimaryKey).map((c) => c.name),
    foreignKeys: columns
      .filter((c) => c.references !== undefined)
      .map((c) => ({ columns: [c.name], refTable: c.references!.table, refColumns: ['id'] })),
  };
  if (comment !== undefined) t.comment = comment;
  return t;
}

function withoutForeignKeys(tables: TableInfo[]): TableInfo[] {
  return tables.map((t) => ({ ...t, foreignKeys: [], columns: t.columns.map(({ references: _ref, ...c }) => c) }));
}

function names(question: string, tables: readonly TableInfo[] = evalSchema, limit?: number): string[] {
  return searchSchema(tables, question, limit === undefined ? {} : { limit }).map((r) => r.table.qualifiedName);
}

/** The eval schema copied into `copies` schemas (s0, s1, …), foreign keys kept inside each copy. */
function replicate(copies: number): TableInfo[] {
  const out: TableInfo[] = [];
  for (let k = 0; k < copies; k++) {
    const q = (n: string): string => `s${k}.${n.slice(n.indexOf('.') + 1)}`;
    for (const t of evalSchema) {
      out.push({
        ...t,
        schema: `s${k}`,
        qualifiedName: q(t.qualifiedName),
        foreignKeys: t.foreignKeys.map((f) => ({ ...f, refTable: q(f.refTable) })),
        columns: t.columns.map((c) => (c.references ? { ...c, references: { ...c.references, table: q(c.references.table) } } : c)),
      });
    }
  }
  return out;
}

function recallAt5(questions: readonly EvalQuestion[]): { recall: number; misses: string[] } {
  const misses: string[] = [];
  for (const q of questions) {
    const ranked = searchSchema(evalSchema, q.question, { limit: 8 });
    const top5 = ranked.slice(0, 5).map((r) => r.table.qualifiedName);
    const missing = q.needs.filter((n) => !top5.includes(n));
    if (missing.length > 0) {
      const got = ranked.map((r) => `${r.table.qualifiedName} ${r.score.toFixed(2)}`).join(', ');
      misses.push(`"${q.question}": missing ${missing.join(', ')}; got ${got}`);
    }
  }
  return { recall: (questions.length - misses.length) / questions.length, misses };
}

describe('schema search', () => {
  describe('tokenisation', () => {
    it('splits snake_case and camelCase and lower-cases', () => {
      assert.deepEqual(tokenize('order_items'), ['order', 'item']);
      assert.deepEqual(tokenize('OrderItems'), ['order', 'item']);
      assert.deepEqual(tokenize('shippingAddressID'), ['ship', 'address']);
      assert.deepEqual(tokenize('HTTPRequestLog'), ['http', 'request', 'log']);
    });

    it('drops stop words, question filler and bare numbers', () => {
      assert.deepEqual(tokenize('Which customers have the most orders in 2024?'), ['customer', 'order']);
      assert.deepEqual(tokenize("who haven't paid last month"), ['pay']);
    });

    it('keeps words in schema text that only questions treat as filler', () => {
      assert.deepEqual(tokenize('rate_to_usd', 'schema'), ['rate', 'usd']);
      assert.deepEqual(tokenize('first_name', 'schema'), ['first', 'name']);
      assert.deepEqual(tokenize('created_at', 'schema'), ['creat']);
    });

    it('singularises and strips common endings', () => {
      assert.equal(stem('orders'), 'order');
      assert.equal(stem('categories'), 'category');
      assert.equal(stem('addresses'), 'address');
      assert.equal(stem('address'), 'address');
      assert.equal(stem('boxes'), 'box');
      assert.equal(stem('status'), 'status');
      assert.equal(stem('statuses'), 'status');
      assert.equal(stem('employees'), stem('employee'));
      assert.equal(stem('warehouses'), stem('warehouse'));
      assert.equal(stem('shipped'), 'ship');
      assert.equal(stem('shipping'), 'ship');
      assert.equal(stem('resolved'), stem('resolve'));
      assert.equal(stem('sold'), 'sell');
      assert.equal(stem('selling'), 'sell');
      assert.equal(stem('id'), 'id');
    });
  });

  describe('ranking', () => {
    const hr = [
      tbl('employees', ['id', 'full_name', 'org_unit_id->departments', 'hired_at']),
      tbl('departments', ['id', 'name']),
      tbl('salaries', ['id', 'employee_id->employees', 'amount', 'effective_from']),
      tbl('badges', ['id', 'employee_id->employees', 'issued_at']),
      tbl('meeting_rooms', ['id', 'name', 'floor']),
    ];

    it('matches table names, synonyms and plural forms', () => {
      assert.equal(names('how many departments are there', hr)[0], 'departments');
      assert.equal(names('list our vendors')[0], 'suppliers');
      assert.equal(names('which clients signed up this year')[0], 'customers');
    });

    it('pulls in the table bridging two matched tables through foreign keys', () => {
      const ranked = names('total salary per department', hr);
      assert.deepEqual(ranked.slice(0, 3).sort(), ['departments', 'employees', 'salaries']);
      assert.ok(ranked.indexOf('employees') < ranked.indexOf('badges') || !ranked.includes('badges'));
      // Without the foreign keys nothing links employees to the question.
      assert.ok(!names('total salary per department', withoutForeignKeys(hr)).includes('employees'));
    });

    it('boosts every table on the join path between two matched tables, not only direct neighbours', () => {
      const shop = [
        tbl('refunds', ['id', 'return_id->returns', 'payment_id->payments', 'amount']),
        tbl('returns', ['id', 'line_id->order_lines', 'reason']),
        tbl('order_lines', ['id', 'product_id->products', 'quantity']),
        tbl('products', ['id', 'category_id->categories', 'title']),
        tbl('categories', ['id', 'label']),
        tbl('payments', ['id', 'method']),
        tbl('warehouses', ['id', 'city']),
      ];
      const ranked = searchSchema(shop, 'refunds by category');
      const top5 = ranked.slice(0, 5).map((r) => r.table.name).sort();
      assert.deepEqual(top5, ['categories', 'order_lines', 'products', 'refunds', 'returns']);
      // order_lines touches no matched table: only the path refunds → … → categories explains it.
      assert.ok(ranked.find((r) => r.table.name === 'order_lines')!.score > 0);
      assert.ok(!ranked.some((r) => r.table.name === 'warehouses'));
    });

    it('gives neighbours of a strongly matching table a share of its score', () => {
      const ranked = searchSchema(hr, 'badges');
      const score = (n: string): number => ranked.find((r) => r.table.name === n)?.score ?? 0;
      assert.equal(ranked[0]!.table.name, 'badges');
      assert.ok(score('employees') > 0, 'employees is referenced by badges');
      assert.equal(score('meeting_rooms'), 0);
      assert.equal(score('departments'), 0, 'two joins away, and no second match to bridge to');
    });

    it('answers "revenue per customer" with the order tables even though it only names customers', () => {
      const top = names('revenue per customer').slice(0, 4);
      assert.ok(top.includes('customers') && top.includes('orders'), top.join(', '));
    });

    it('honours the limit', () => {
      assert.equal(names('orders').length, 8, 'default limit');
      assert.equal(names('orders', evalSchema, 3).length, 3);
      assert.equal(names('orders', evalSchema, 1)[0], 'orders');
      assert.deepEqual(names('orders', evalSchema, 0), []);
      assert.ok(names('total salary per department', hr, 50).length <= hr.length);
    });

    it('returns scores sorted best first, within 0..1, the best at 1', () => {
      for (const q of [...evalQuestions, ...heldOutQuestions]) {
        const ranked = searchSchema(evalSchema, q.question);
        assert.ok(ranked.length > 0 && ranked.length <= 8, q.question);
        if (ranked[0]!.score === 0) continue; // fallback: nothing matched
        assert.equal(ranked[0]!.score, 1, q.question);
        for (let i = 0; i < ranked.length; i++) {
          const s = ranked[i]!.score;
          assert.ok(s > 0 && s <= 1, `${q.question}: score ${s}`);
          if (i > 0) assert.ok(s <= ranked[i - 1]!.score, `${q.question}: not sorted`);
        }
      }
    });

    it('returns only tables with evidence when something matched', () => {
      const ranked = searchSchema(hr, 'meeting rooms by floor', { limit: 10 });
      assert.deepEqual(ranked.map((r) => r.table.name), ['meeting_rooms']);
    });

    it('falls back to the most connected tables when nothing matches', () => {
      const ranked = searchSchema(evalSchema, 'xyzzy plugh frobnicate', { limit: 5 });
      assert.equal(ranked.length, 5);
      assert.ok(ranked.every((r) => r.score === 0));
      const degree = (t: TableInfo): number =>
        new Set([
          ...t.foreignKeys.map((f) => f.refTable).filter((r) => r !== t.qualifiedName),
          ...evalSchema.filter((o) => o !== t && o.foreignKeys.some((f) => f.refTable === t.qualifiedName)).map((o) => o.qualifiedName),
        ]).size;
      const degrees = ranked.map((r) => degree(r.table));
      assert.deepEqual(degrees, [...degrees].sort((a, b) => b - a));
      const maxDegree = Math.max(...evalSchema.map(degree));
      assert.equal(degrees[0], maxDegree);
      assert.deepEqual(searchSchema([], 'anything'), []);
    });

    it('is deterministic and leaves its input alone', () => {
      const frozen = structuredClone(evalSchema);
      const before = JSON.stringify(frozen);
      const a = searchSchema(frozen, 'refund rate by category last month');
      const b = searchSchema(frozen, 'refund rate by category last month');
      assert.deepEqual(a, b);
      assert.equal(JSON.stringify(frozen), before);
    });
  });

  describe('relevantColumns', () => {
    const orders = evalSchema.find((t) => t.name === 'orders')!;

    it('puts the primary key, then foreign keys, then matching columns first', () => {
      const r = searchSchema(evalSchema, 'average order total by sales channel', { maxColumnsPerTable: 8 }).find((x) => x.table === orders)!;
      assert.equal(r.relevantColumns.length, 8);
      const cols = r.relevantColumns.map((c) => c.name);
      assert.equal(cols[0], 'id');
      const fks = orders.columns.filter((c) => c.references).map((c) => c.name);
      assert.deepEqual(cols.slice(1, 1 + fks.length), fks);
      assert.ok(cols.includes('total_amount'), cols.join(', '));
      assert.ok(cols.includes('channel'), cols.join(', '));
    });

    it('keeps the keys even when the budget is tiny', () => {
      const r = searchSchema(evalSchema, 'order totals', { maxColumnsPerTable: 2 }).find((x) => x.table === orders)!;
      assert.deepEqual(r.relevantColumns.map((c) => c.name), ['id', 'customer_id']);
    });

    it('returns every column of a small table', () => {
      const r = searchSchema(evalSchema, 'coupon codes', { maxColumnsPerTable: 12 }).find((x) => x.table.name === 'coupons')!;
      const coupons = evalSchema.find((t) => t.name === 'coupons')!;
      assert.equal(r.relevantColumns.length, coupons.columns.length);
      assert.deepEqual(new Set(r.relevantColumns), new Set(coupons.columns));
      assert.equal(r.relevantColumns[0]!.name, 'id');
    });
  });

  describe('scale', () => {
    it('ranks 200 tables without blowing up', () => {
      const big = replicate(5); // 5 × 40 tables
      assert.equal(big.length, 200);
      for (const q of evalQuestions) {
        const ranked = searchSchema(big, q.question, { limit: 8 });
        assert.ok(ranked.length > 0 && ranked.length <= 8);
        assert.ok(ranked.every((r) => r.relevantColumns.length > 0 && r.relevantColumns.length <= 12));
      }
    });
  });

  describe('evaluation set', () => {
    it('has a realistic size', () => {
      assert.ok(evalSchema.length >= 28);
      assert.ok(evalQuestions.length >= 40);
    });

    it('finds every needed table in the top 5 for at least 90% of the questions', () => {
      const { recall, misses } = recallAt5(evalQuestions);
      console.log(`      recall@5 = ${recall.toFixed(3)} (${evalQuestions.length - misses.length}/${evalQuestions.length})`);
      for (const m of misses) console.log(`      miss: ${m}`);
      assert.ok(recall >= 0.9, `recall@5 ${recall.toFixed(3)} < 0.9`);
    });

    it('generalises to held-out questions', () => {
      const { recall, misses } = recallAt5(heldOutQuestions);
      console.log(`      held-out recall@5 = ${recall.toFixed(3)} (${heldOutQuestions.length - misses.length}/${heldOutQuestions.length})`);
      for (const m of misses) console.log(`      miss: ${m}`);
      assert.ok(recall >= 0.8, `held-out recall@5 ${recall.toFixed(3)} < 0.8`);
    });
  });
});
