import assert from 'node:assert/strict';
import {
  findQuestionComments,
  findSqlStatements,
  lexSqlFallback,
  outlineFromTokens,
  outlineSql,
  questionAtOrAbove,
  readQuestionComment,
  statementAt,
  tokenizeSql,
  type SqlOutline,
} from '../../src/vscode/sqlComments';

/** The statements' texts, which is what a "Run with Ceneca" lens would run. */
const texts = (text: string, outline: SqlOutline): string[] => outline.statements.map((s) => text.slice(s.start, s.end));

/** Both lexers must split the same way: the scanner for whole texts, the fallback for texts it rejects. */
const lexers: Array<{ name: string; outline: (text: string) => Promise<SqlOutline> }> = [
  { name: "PostgreSQL's scanner", outline: (text) => outlineSql(text) },
  { name: 'the fallback lexer', outline: async (text) => outlineFromTokens(text, lexSqlFallback(text)) },
];

describe('SQL question comments and statements', () => {
  describe('readQuestionComment', () => {
    it('reads `-- ?` and `--?` lines, with leading indentation', () => {
      assert.equal(readQuestionComment('-- ? top customers by revenue'), 'top customers by revenue');
      assert.equal(readQuestionComment('--? top customers'), 'top customers');
      assert.equal(readQuestionComment('   --   ?   monthly sales  '), 'monthly sales');
    });

    it('ignores ordinary comments, code, and a question mark with no question', () => {
      assert.equal(readQuestionComment('-- top customers?'), undefined);
      assert.equal(readQuestionComment('select 1 -- ? not a line of its own'), undefined);
      assert.equal(readQuestionComment('-- ?'), undefined);
      assert.equal(readQuestionComment('-- ?   '), undefined);
      assert.equal(readQuestionComment('/* ? no */'), undefined);
    });
  });

  for (const lexer of lexers) {
    describe(`statements and questions with ${lexer.name}`, () => {
      it('splits on top-level semicolons only: quotes, E-strings, identifiers, dollar quotes and comments hold theirs', async () => {
        const text = [
          "select 'a;b' as x, \"odd;name\" from t;",
          "select e'it\\'s; fine';",
          '-- a comment; with a semicolon',
          '/* block; /* nested; */ still; */ select $$x;y$$, $tag$ ; $tag$;',
          'select 4',
        ].join('\n');
        const outline = await lexer.outline(text);
        assert.deepEqual(texts(text, outline), [
          "select 'a;b' as x, \"odd;name\" from t",
          "select e'it\\'s; fine'",
          'select $$x;y$$, $tag$ ; $tag$',
          'select 4',
        ]);
      });

      it('skips statements that are only comments, and empty statements', async () => {
        const text = '-- just a note\n/* and a block */;\n;;\nselect 1;\n-- trailing note\n';
        assert.deepEqual(texts(text, await lexer.outline(text)), ['select 1']);
      });

      it('keeps comments inside a statement, and starts the statement after its leading comments', async () => {
        const text = '-- the best customers\nselect name -- the name\nfrom customers;';
        assert.deepEqual(texts(text, await lexer.outline(text)), ['select name -- the name\nfrom customers']);
      });

      it('finds question comments with their zero-based line, and leaves them out of statements', async () => {
        const text = 'select 1;\n\n-- ? top customers by revenue\nSELECT name FROM customers\n  --? monthly sales\nSELECT month FROM sales\n';
        const outline = await lexer.outline(text);
        assert.deepEqual(
          outline.questions.map((q) => ({ line: q.line, question: q.question, comment: text.slice(q.start, q.end) })),
          [
            { line: 2, question: 'top customers by revenue', comment: '-- ? top customers by revenue' },
            { line: 4, question: 'monthly sales', comment: '--? monthly sales' },
          ],
        );
        // A question line ends the statement above it: generated queries carry no semicolon.
        assert.deepEqual(texts(text, outline), ['select 1', 'SELECT name FROM customers', 'SELECT month FROM sales']);
      });

      it('does not take a `-- ?` inside a string, a block comment, or after code as a question', async () => {
        const text = "select '\n-- ? inside a string\n';\n/*\n-- ? inside a comment\n*/\nselect 2 -- ? after code\n";
        const outline = await lexer.outline(text);
        assert.deepEqual(outline.questions, []);
        assert.deepEqual(texts(text, outline), ["select '\n-- ? inside a string\n'", 'select 2']);
      });

      it('counts lines as the editor does: \\r\\n, \\n and a lone \\r', async () => {
        const text = 'select 1;\r\n-- ? first\r\nselect 2;\r-- ? second\nselect 3';
        const outline = await lexer.outline(text);
        assert.deepEqual(
          outline.questions.map((q) => [q.line, q.question]),
          [
            [1, 'first'],
            [3, 'second'],
          ],
        );
      });
    });
  }

  describe('with text the scanner rejects', () => {
    it('still splits while the user is typing an unterminated string: it runs to the end of the text', async () => {
      const text = "select 1;\n-- ? names\nselect 'unterminated; still the string";
      const outline = await outlineSql(text);
      assert.deepEqual(texts(text, outline), ['select 1', "select 'unterminated; still the string"]);
      assert.deepEqual(
        outline.questions.map((q) => q.question),
        ['names'],
      );
    });

    it('handles an unterminated dollar quote and block comment, and lexical errors such as 1abc', async () => {
      assert.deepEqual(await findSqlStatements('select 1; select $$ open; more'), [
        { start: 0, end: 8 },
        { start: 10, end: 30 },
      ]);
      assert.deepEqual(await findSqlStatements('select 1; /* open; comment'), [{ start: 0, end: 8 }]);
      const text = 'select 1abc; select 2';
      assert.deepEqual(texts(text, await outlineSql(text)), ['select 1abc', 'select 2']);
    });
  });

  it("uses PostgreSQL's scanner when it accepts the text (it reads `<>` and `::` as one token each)", async () => {
    const text = 'select a <> b, c::int';
    const tokens = (await tokenizeSql(text)).map((t) => text.slice(t.start, t.end));
    assert.ok(tokens.includes('<>') && tokens.includes('::'), JSON.stringify(tokens));
    const fallback = lexSqlFallback(text).map((t) => text.slice(t.start, t.end));
    assert.ok(!fallback.includes('<>'), 'the fallback lexer splits operators, so this test tells the two apart');
  });

  it("gives UTF-16 offsets (the editor's) although PostgreSQL's scanner counts UTF-8 bytes", async () => {
    const text = "select 'ü😀' as émoji;\n-- ? ventes à Zürich\nselect 'ß'";
    const tokens = await tokenizeSql(text);
    assert.equal(text.slice(tokens[1]!.start, tokens[1]!.end), "'ü😀'");
    const outline = await outlineSql(text);
    assert.deepEqual(texts(text, outline), ["select 'ü😀' as émoji", "select 'ß'"]);
    assert.deepEqual(await findQuestionComments(text), [{ line: 1, question: 'ventes à Zürich', start: 23, end: 43 }]);
  });

  describe('statementAt (the statement around the cursor)', () => {
    const text = 'select 1;   \n\nselect\n  2;\n-- note\n';

    it('finds the statement the cursor is in, or just after on its line', async () => {
      const statements = await findSqlStatements(text);
      assert.equal(statementAt(text, statements, 0), statements[0]);
      assert.equal(statementAt(text, statements, 4), statements[0]);
      assert.equal(statementAt(text, statements, 9), statements[0], 'right after the semicolon');
      assert.equal(statementAt(text, statements, 12), statements[0], 'at the end of its line');
      assert.equal(statementAt(text, statements, text.indexOf('2')), statements[1]);
    });

    it('finds none on a blank line between statements or on a comment', async () => {
      const statements = await findSqlStatements(text);
      assert.equal(statementAt(text, statements, 13), undefined);
      assert.equal(statementAt(text, statements, text.indexOf('note')), undefined);
    });
  });

  describe('questionAtOrAbove (the question for `Generate SQL Here`)', () => {
    const text = '-- ? top customers\n\n-- a note\n\nselect 1;\n-- ? monthly sales\n';

    it('takes the question on the cursor line, or above it across blank and comment lines', async () => {
      const outline = await outlineSql(text);
      assert.equal(questionAtOrAbove(text, outline, 0)?.question, 'top customers');
      assert.equal(questionAtOrAbove(text, outline, 3)?.question, 'top customers');
      assert.equal(questionAtOrAbove(text, outline, 5)?.question, 'monthly sales');
      assert.equal(questionAtOrAbove(text, outline, 6)?.question, 'monthly sales', 'the empty last line');
    });

    it('takes none when code lies between, or no question is above', async () => {
      const outline = await outlineSql(text);
      assert.equal(questionAtOrAbove(text, outline, 4), undefined, 'on the statement line');
      assert.equal(questionAtOrAbove('select 1;\n', await outlineSql('select 1;\n'), 0), undefined);
    });
  });
});
