import assert from 'node:assert/strict';
import { extractJson, FencedQueryExtractor, parsePartialJson } from '../../src/core/llm/extract';

interface Fed {
  /** What `push` returned, delta by delta. */
  pieces: string[];
  /** `queryText` after each delta. */
  shown: string[];
  final: string | undefined;
}

function feed(deltas: readonly string[], tags?: readonly string[]): Fed {
  const extractor = new FencedQueryExtractor(tags);
  const pieces: string[] = [];
  const shown: string[] = [];
  for (const delta of deltas) {
    pieces.push(extractor.push(delta));
    shown.push(extractor.queryText);
  }
  return { pieces, shown, final: extractor.finish() };
}

const chars = (text: string): string[] => Array.from(text);

interface Case {
  name: string;
  reply: string;
  /** The final query. */
  query: string | undefined;
  /** The text between the fences exactly as the model wrote it (what streaming may show, trailing blanks included). */
  body?: string;
  /** Fence tags the extractor accepts (default: the SQL ones). */
  tags?: readonly string[];
}

const fenced: Case[] = [
  {
    name: '```sql with text before and after',
    reply: 'Here is the query:\n```sql\nSELECT id, name\nFROM users\nWHERE active;\n```\nIt lists the active users.',
    query: 'SELECT id, name\nFROM users\nWHERE active;',
    body: 'SELECT id, name\nFROM users\nWHERE active;\n',
  },
  { name: '```SQL (upper case)', reply: '```SQL\nSELECT 1\n```', query: 'SELECT 1', body: 'SELECT 1\n' },
  { name: '```postgresql', reply: 'Sure.\n\n```postgresql\nSELECT count(*) FROM orders\n```', query: 'SELECT count(*) FROM orders', body: 'SELECT count(*) FROM orders\n' },
  { name: '```postgres', reply: '```postgres\nSELECT 2\n```\n', query: 'SELECT 2', body: 'SELECT 2\n' },
  { name: 'bare ```', reply: 'Query:\n```\nSELECT 3 AS three\n```\nDone.', query: 'SELECT 3 AS three', body: 'SELECT 3 AS three\n' },
  { name: '```sql followed by blanks', reply: '```sql \t\nSELECT 4\n```', query: 'SELECT 4', body: 'SELECT 4\n' },
  {
    name: 'CRLF line endings',
    reply: 'Sure:\r\n```sql\r\nSELECT a,\r\n  b\r\nFROM t\r\n```\r\nThat is all.\r\n',
    query: 'SELECT a,\r\n  b\r\nFROM t',
    body: 'SELECT a,\r\n  b\r\nFROM t\r\n',
  },
  { name: 'closing fence on the same line', reply: '```sql\nSELECT 5 FROM t```', query: 'SELECT 5 FROM t', body: 'SELECT 5 FROM t' },
  {
    name: 'two fenced blocks (the first wins)',
    reply: 'First:\n```sql\nSELECT a FROM x\n```\nOr:\n```sql\nSELECT b FROM y\n```\n',
    query: 'SELECT a FROM x',
    body: 'SELECT a FROM x\n',
  },
  { name: 'a reply cut off inside the fence', reply: '```sql\nSELECT 6\nFROM t', query: 'SELECT 6\nFROM t', body: 'SELECT 6\nFROM t' },
  { name: 'a reply cut off inside the closing fence', reply: '```sql\nSELECT 7\n``', query: 'SELECT 7', body: 'SELECT 7\n' },
  {
    name: 'single backticks in the prose before the fence',
    reply: 'Use the `orders` table:\n```sql\nSELECT * FROM orders\n```',
    query: 'SELECT * FROM orders',
    body: 'SELECT * FROM orders\n',
  },
  { name: 'a ```json fence (MongoDB queries)', reply: '```json\n{"find": "orders"}\n```', query: '{"find": "orders"}', body: '{"find": "orders"}\n', tags: ['json'] },
];

describe('FencedQueryExtractor', () => {
  for (const c of fenced) {
    describe(c.name, () => {
      const body = c.body!;

      /** The properties every way of slicing the reply must have. */
      function check(deltas: readonly string[], label: string): void {
        const { pieces, shown, final } = feed(deltas, c.tags);
        assert.equal(final, c.query, `${label}: final query`);
        let concatenated = '';
        pieces.forEach((piece, i) => {
          concatenated += piece;
          assert.equal(shown[i], concatenated, `${label}: queryText after delta ${i}`);
          assert.ok(!concatenated.includes('`'), `${label}: streamed a backtick: ${JSON.stringify(concatenated)}`);
          assert.ok(body.startsWith(concatenated), `${label}: streamed ${JSON.stringify(concatenated)}, not a prefix of the fenced text`);
          assert.ok(c.query!.startsWith(concatenated.trimEnd()), `${label}: streamed ${JSON.stringify(concatenated)}, not a prefix of the query`);
        });
        // By the end everything but trailing blanks has been shown.
        assert.equal(concatenated.trimEnd(), c.query, `${label}: everything streamed`);
      }

      it('yields the query in one delta', () => check([c.reply], 'whole'));

      it('yields the same for a split into two deltas at every position', () => {
        for (let at = 0; at <= c.reply.length; at++) check([c.reply.slice(0, at), c.reply.slice(at)], `split at ${at}`);
      });

      it('yields the same for single characters', () => check(chars(c.reply), 'characters'));

      it('yields the same for a split into three deltas at every pair of positions', () => {
        for (let a = 0; a <= c.reply.length; a += 3) {
          for (let b = a; b <= c.reply.length; b += 2) check([c.reply.slice(0, a), c.reply.slice(a, b), c.reply.slice(b)], `split at ${a}/${b}`);
        }
      });
    });
  }

  it('shows nothing before the opening fence has its newline', () => {
    const extractor = new FencedQueryExtractor();
    assert.equal(extractor.push('Here:\n```sq'), '');
    assert.equal(extractor.push('l'), '');
    assert.equal(extractor.queryText, '');
    assert.equal(extractor.push('\nSEL'), 'SEL');
    assert.equal(extractor.push('ECT 1\n`'), 'ECT 1\n');
    assert.equal(extractor.push('`'), '');
    assert.equal(extractor.push('`\nmore prose with ``` fences'), '');
    assert.equal(extractor.queryText, 'SELECT 1\n');
    assert.equal(extractor.finish(), 'SELECT 1');
  });

  it('an empty delta yields nothing', () => {
    const extractor = new FencedQueryExtractor();
    assert.equal(extractor.push(''), '');
    extractor.push('```sql\nSELECT');
    assert.equal(extractor.push(''), '');
    assert.equal(extractor.finish(), 'SELECT');
  });

  it('never takes back what it has shown', () => {
    const { shown } = feed(chars('```sql\nSELECT 1 `a` ``b``\n```'));
    for (let i = 1; i < shown.length; i++) assert.ok(shown[i]!.startsWith(shown[i - 1]!), `step ${i}`);
  });

  it('backticks inside the query survive in the final query', () => {
    const { shown, final } = feed(chars('```sql\nSELECT `x` FROM `t`\n```'));
    assert.equal(final, 'SELECT `x` FROM `t`');
    assert.equal(shown[shown.length - 1]!.trimEnd(), final);
  });

  describe('without a fence', () => {
    const bare: Array<[string, string]> = [
      ['SELECT count(*) FROM orders', 'SELECT count(*) FROM orders'],
      ['  \nselect 1;\n\n', 'select 1;'],
      ['WITH t AS (SELECT 1) SELECT * FROM t', 'WITH t AS (SELECT 1) SELECT * FROM t'],
      ['EXPLAIN SELECT 1', 'EXPLAIN SELECT 1'],
      ['SHOW search_path', 'SHOW search_path'],
      ['VALUES (1), (2)', 'VALUES (1), (2)'],
      ['TABLE orders', 'TABLE orders'],
    ];
    for (const [reply, query] of bare) {
      it(`a bare statement ${JSON.stringify(reply)} is the query (and nothing is streamed)`, () => {
        const whole = feed([reply]);
        assert.equal(whole.final, query);
        assert.deepEqual(whole.pieces, ['']);
        const byChar = feed(chars(reply));
        assert.equal(byChar.final, query);
        assert.equal(byChar.pieces.join(''), '');
      });
    }

    for (const reply of [
      'I cannot answer that from this database.',
      'Here is the query: SELECT 1',
      'selection of rows is not possible',
      '',
      '   \n ',
      'DELETE FROM orders',
    ]) {
      it(`${JSON.stringify(reply)} holds no query`, () => {
        assert.equal(feed([reply]).final, undefined);
        assert.equal(feed(chars(reply)).final, undefined);
      });
    }
  });

  it('an empty fence holds no query', () => {
    assert.equal(feed(['```sql\n```']).final, undefined);
    assert.equal(feed(['```sql\n   \n```\n']).final, undefined);
  });

  it('finish() can be called again and does not change the shown text', () => {
    const extractor = new FencedQueryExtractor();
    extractor.push('```sql\nSELECT 1\n```');
    assert.equal(extractor.finish(), 'SELECT 1');
    assert.equal(extractor.finish(), 'SELECT 1');
    assert.equal(extractor.queryText, 'SELECT 1');
  });
});

/** `next` continues `prev`: strings grow, arrays and objects keep what they had and may add, scalars stay. */
function continues(prev: unknown, next: unknown, path = '$'): string | undefined {
  if (prev === undefined) return undefined;
  if (typeof prev === 'string') {
    return typeof next === 'string' && next.startsWith(prev) ? undefined : `${path}: ${JSON.stringify(prev)} -> ${JSON.stringify(next)}`;
  }
  if (Array.isArray(prev)) {
    if (!Array.isArray(next) || next.length < prev.length) return `${path}: array ${JSON.stringify(prev)} -> ${JSON.stringify(next)}`;
    for (let i = 0; i < prev.length; i++) {
      const problem = continues(prev[i], next[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (prev !== null && typeof prev === 'object') {
    if (next === null || typeof next !== 'object' || Array.isArray(next)) return `${path}: object -> ${JSON.stringify(next)}`;
    for (const [key, value] of Object.entries(prev)) {
      if (!(key in next)) return `${path}.${key} vanished`;
      const problem = continues(value, (next as Record<string, unknown>)[key], `${path}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return Object.is(prev, next) ? undefined : `${path}: ${JSON.stringify(prev)} -> ${JSON.stringify(next)}`;
}

describe('parsePartialJson', () => {
  const value = {
    operations: [
      { id: 'op1', source: 'pg-main', goal: 'count the "orders" \\ by month\n', dependsOn: [], weight: -12.5 },
      { id: 'op2', source: 'mongo', goal: 'ünïcödé ✓', dependsOn: ['op1'], weight: 0.25, big: 1.5e3 },
    ],
    flags: { final: true, draft: false, note: null },
    nested: [[1, -2], [3.75], []],
    empty: {},
  };

  for (const [name, text] of [
    ['compact', JSON.stringify(value)],
    ['indented', JSON.stringify(value, null, 2)],
    ['after prose', `Here is the plan:\n${JSON.stringify(value, null, 1)}`],
  ] as const) {
    it(`returns progressively more complete values on growing prefixes (${name})`, () => {
      let prev: unknown;
      let distinct = 0;
      for (let i = 0; i <= text.length; i++) {
        let parsed: unknown;
        assert.doesNotThrow(() => (parsed = parsePartialJson(text.slice(0, i))), `prefix ${i}`);
        const problem = continues(prev, parsed);
        assert.equal(problem, undefined, `prefix ${i} ${JSON.stringify(text.slice(Math.max(0, i - 10), i))}: ${problem}`);
        if (JSON.stringify(parsed) !== JSON.stringify(prev)) distinct++;
        prev = parsed;
      }
      assert.deepEqual(prev, value);
      assert.ok(distinct > 30, `only ${distinct} distinct values`);
    });
  }

  it('is undefined before any bracket arrives', () => {
    assert.equal(parsePartialJson(''), undefined);
    assert.equal(parsePartialJson('Sure, here'), undefined);
  });

  it('gives the partial structure of a prefix', () => {
    assert.deepEqual(parsePartialJson('{'), {});
    assert.deepEqual(parsePartialJson('{"a": "hel'), { a: 'hel' });
    assert.deepEqual(parsePartialJson('{"a": [1, {"b": tr'), { a: [1, { b: true }] });
    assert.deepEqual(parsePartialJson('[{"x": 1}, {"y"'), [{ x: 1 }, {}]);
    assert.deepEqual(parsePartialJson('Plan: {"ops": ["a", "b'), { ops: ['a', 'b'] });
  });

  it('never throws on garbage', () => {
    const samples = ['}', '{]', '{"a" 1}', '[[[[', '{"a": "\\', '{"a": "\\u12', '{"a": -', '{"a": 1e', '{,,,}', '{"a": nul', '[1, 2, ]]]', '{"a":}', '{{{}}}'];
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = '{}[]",:\\ abc123-.etruflsn\n';
    for (let n = 0; n < 300; n++) {
      let text = '';
      const length = Math.floor(random() * 30);
      for (let k = 0; k < length; k++) text += alphabet[Math.floor(random() * alphabet.length)];
      samples.push(text);
    }
    for (const text of samples) assert.doesNotThrow(() => parsePartialJson(text), JSON.stringify(text));
  });
});

describe('extractJson', () => {
  it('reads a ```json fence', () => {
    assert.deepEqual(extractJson('Here you go:\n```json\n{"databases": [{"id": "pg", "reason": "orders"}]}\n```\nAnything else?'), {
      databases: [{ id: 'pg', reason: 'orders' }],
    });
  });

  it('reads a ```JSON fence and a bare ``` fence', () => {
    assert.deepEqual(extractJson('```JSON\n[1, 2]\n```'), [1, 2]);
    assert.deepEqual(extractJson('```\n{"a": true}\n```'), { a: true });
  });

  it('takes the first fence', () => {
    assert.deepEqual(extractJson('```json\n{"n": 1}\n```\n```json\n{"n": 2}\n```'), { n: 1 });
  });

  it('reads bare JSON', () => {
    assert.deepEqual(extractJson('{"a": 1}'), { a: 1 });
    assert.deepEqual(extractJson('  [{"a": 1}]\n'), [{ a: 1 }]);
  });

  it('reads bare JSON in prose', () => {
    assert.deepEqual(extractJson('The answer is {"databases": [{"id": "pg"}]}'), { databases: [{ id: 'pg' }] });
    assert.deepEqual(extractJson('Sure! {"databases": [{"id": "pg", "reason": "has {braces}"}]} Hope that helps.'), {
      databases: [{ id: 'pg', reason: 'has {braces}' }],
    });
    assert.deepEqual(extractJson('Pick these: ["pg", "mongo"]. Done.'), ['pg', 'mongo']);
  });

  it('gives undefined for garbage', () => {
    for (const text of ['', 'no json here', '{not json}', '```json\n{"a": \n```', '{"a": 1', 'prose { and } more', '}{']) {
      assert.equal(extractJson(text), undefined, JSON.stringify(text));
    }
  });
});

describe('FencedQueryExtractor: language tags', () => {
  it('takes a block tagged with another SQL dialect', () => {
    const extractor = new FencedQueryExtractor();
    extractor.push('Here:\n```mysql\nSELECT 1\n```');
    assert.equal(extractor.finish(), 'SELECT 1');
  });

  it('skips a block in another language before the SQL block, also when streamed one character at a time', () => {
    const reply = 'The shape:\n```text\nname | total\n```\nThe query:\n```sql\nSELECT name FROM t\n```\n';
    const extractor = new FencedQueryExtractor();
    let shown = '';
    for (const ch of reply) shown += extractor.push(ch);
    assert.equal(extractor.finish(), 'SELECT name FROM t');
    assert.equal(shown.trim(), 'SELECT name FROM t');
    assert.ok(!shown.includes('total'));
  });

  it('finds nothing when the only block is in another language', () => {
    const extractor = new FencedQueryExtractor();
    extractor.push('```python\nprint(1)\n```');
    assert.equal(extractor.finish(), undefined);
  });
});
