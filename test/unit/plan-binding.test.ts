/** The plan checks and the binding of upstream values (pure parts of the cross-database pipeline). */
import assert from 'node:assert/strict';
import { distinctValues, MAX_BOUND_VALUES, MAX_FANOUT, QueryBinding } from '../../src/core/pipeline/binding';
import { checkPlan, findCycle, operationsSoFar } from '../../src/core/pipeline/plan';
import { parsePartialJson } from '../../src/core/llm/extract';

const op = (id: string, source = 'shop', dependsOn: string[] = [], uses: string[] = [], produces = ['email']) => ({ id, source, goal: `goal ${id}`, dependsOn, uses, produces });

describe('plan checks', () => {
  it('accepts a well-formed plan and fills defaults', () => {
    const check = checkPlan({ operations: [{ id: 'a', source: 'shop', goal: 'x', produces: ['email'] }, op('b', 'crm', ['a'], ['a.email'])], combine: { goal: 'join' } }, ['shop', 'crm']);
    assert.equal(check.ok, true);
    assert.deepEqual(check.ok && check.plan.operations[0]!.dependsOn, []);
  });

  it('lists every problem: ids, sources, dependencies, uses, cycles, keywords', () => {
    const check = checkPlan(
      {
        operations: [op('a', 'shop', ['c']), op('a', 'nowhere'), op('Bad-Id'), op('similar'), op('c', 'shop', ['a', 'zzz'], ['a.phone', 'x', 'd.email']), op('d')],
        combine: { goal: 'join' },
      },
      ['shop'],
    );
    assert.equal(check.ok, false);
    const text = check.problems.join('\n');
    for (const expected of [
      /"a" is used twice/,
      /source "nowhere"/,
      /"Bad-Id" must be a lower-case identifier/,
      /"similar" must be a lower-case identifier/,
      /depends on "zzz", which is not in the plan/,
      /uses "a\.phone", but "a" produces only: email/,
      /uses "x"; write it as operationId\.column/,
      /uses "d\.email" but does not list "d" in dependsOn/,
    ]) assert.match(text, expected);
    const cyclic = checkPlan({ operations: [op('a', 'shop', ['b']), op('b', 'shop', ['a'])], combine: { goal: 'join' } }, ['shop']);
    assert.match(cyclic.ok ? '' : cyclic.problems.join('\n'), /the dependencies form a cycle: a → b → a/);
  });

  it('refuses malformed JSON shapes with the path of the problem', () => {
    const check = checkPlan({ operations: [{ id: 'a', source: 'shop', goal: '', produces: [] }], combine: {} }, ['shop']);
    assert.equal(check.ok, false);
    assert.ok(check.problems.some((p) => /operations\.0\.goal/.test(p)));
    assert.ok(check.problems.some((p) => /combine/.test(p)));
    assert.deepEqual(checkPlan('nonsense', ['shop']).ok, false);
  });

  it('finds cycles, including long ones and self-loops', () => {
    assert.deepEqual(findCycle([{ id: 'a', dependsOn: ['b'] }, { id: 'b', dependsOn: ['c'] }, { id: 'c', dependsOn: ['a'] }]), ['a', 'b', 'c', 'a']);
    assert.deepEqual(findCycle([{ id: 'a', dependsOn: ['a'] }]), ['a', 'a']);
    assert.equal(findCycle([{ id: 'a', dependsOn: [] }, { id: 'b', dependsOn: ['a'] }]), undefined);
  });

  it('shows the operations of a plan that is still streaming', () => {
    const partial = '{"operations":[{"id":"a","source":"shop","goal":"top customers","dependsOn":[],"produces":["email"]},{"id":"b","source":"cr';
    const seen = operationsSoFar(parsePartialJson(partial));
    assert.deepEqual(seen.map((o) => o.id), ['a'], 'b is shown once its source has arrived');
    assert.deepEqual(operationsSoFar(parsePartialJson(`${partial}m","goal":"tick`)).map((o) => o.id), ['a', 'b']);
    assert.deepEqual(operationsSoFar(parsePartialJson('{"operat')), []);
  });
});

describe('binding upstream values', () => {
  const emails = distinctValues('top.email', [['a@x'], ['b@x'], ['a@x'], [null], ["o'hara@x"]], 0);

  it('collects distinct non-null values in order, capped', () => {
    assert.deepEqual(emails.values, ['a@x', 'b@x', "o'hara@x"]);
    const many = distinctValues('t.n', Array.from({ length: MAX_BOUND_VALUES + 10 }, (_, i) => [i]), 0);
    assert.equal(many.values.length, MAX_BOUND_VALUES);
    assert.equal(many.distinct, MAX_BOUND_VALUES + 10);
  });

  it('SQL: parameters from the parse tree, exactly as many as referenced; values never enter the text', async () => {
    const binding = new QueryBinding('sql', [emails, distinctValues('top.id', [[1], [2]], 0)]);
    const bound = await binding.bind("SELECT * FROM t WHERE email = ANY($1) AND note <> '$2'");
    assert.equal(bound.ok, true);
    assert.deepEqual(bound.ok && bound.runs, [{ query: "SELECT * FROM t WHERE email = ANY($1) AND note <> '$2'", params: [['a@x', 'b@x', "o'hara@x"]] }]);
    const second = await binding.bind('SELECT * FROM t WHERE id = ANY($2)');
    assert.deepEqual(second.ok && second.runs[0]!.params, [[], [1, 2]]);
    assert.equal((await binding.bind('SELECT * FROM t WHERE id = ANY($3)')).ok, false);
    assert.equal((await binding.bind("SELECT * FROM t WHERE email IN ('a@x')")).ok, false, 'ignoring the values is refused');
    assert.match(binding.promptSection(), /<data kind="upstream values">\n\$1 = top\.email: 3 value\(s\)/);
  });

  it('JSON: $param takes the list, $each fans out (capped), unknown names are refused', async () => {
    const binding = new QueryBinding('mongodb', [emails]);
    const list = await binding.bind('{"collection":"tickets","filter":{"email":{"$in":{"$param":"top.email"}}}}');
    assert.deepEqual(list.ok && JSON.parse(list.runs[0]!.query), { collection: 'tickets', filter: { email: { $in: ['a@x', 'b@x', "o'hara@x"] } } });
    const each = await binding.bind('{"collection":"tickets","filter":{"email":{"$each":"top.email"}}}');
    assert.deepEqual(each.ok && each.runs.map((r) => [JSON.parse(r.query).filter.email, r.input]), [
      ['a@x', { column: 'email', value: 'a@x' }],
      ['b@x', { column: 'email', value: 'b@x' }],
      ["o'hara@x", { column: 'email', value: "o'hara@x" }],
    ]);
    const unknown = await binding.bind('{"filter":{"email":{"$in":{"$param":"top.phone"}}}}');
    assert.equal(unknown.ok, false);
    const wide = new QueryBinding('slack', [distinctValues('d.day', Array.from({ length: 40 }, (_, i) => [`2025-01-${String(i + 1).padStart(2, '0')}`]), 0)]);
    const fanned = await wide.bind('{"query":"","on":{"$each":"d.day"}}');
    assert.equal(fanned.ok && fanned.runs.length, MAX_FANOUT);
    assert.match(fanned.ok ? fanned.notes[0]! : '', /runs for the first 25/);
  });
});
