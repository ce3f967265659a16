import assert from 'node:assert/strict';
import { csvField, neutraliseFormula, toCsv, toJson, uniqueColumnNames, type ExportCell } from '../../src/vscode/exportFormat';

/** A strict RFC 4180 reader, to check that what toCsv writes reads back as the same fields. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"' && text[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"' || text[i] === '\n') throw new Error(`bare ${JSON.stringify(text[i])} in an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    if (text[i] === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (text.startsWith('\r\n', i)) {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else if (i < text.length) {
      throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
    }
  }
  if (field !== '' || record.length > 0) throw new Error('the last record does not end with CRLF');
  return records;
}

describe('export format: CSV', () => {
  it('writes a header row and one CRLF-terminated record per row', () => {
    const csv = toCsv({ columns: ['id', 'name'], rows: [[1, 'Ada'], [2, 'Grace']] });
    assert.equal(csv, 'id,name\r\n1,Ada\r\n2,Grace\r\n');
  });

  it('writes only the header for an empty result, and nothing without columns', () => {
    assert.equal(toCsv({ columns: ['a', 'b'], rows: [] }), 'a,b\r\n');
    assert.equal(toCsv({ columns: [], rows: [] }), '');
  });

  it('quotes fields holding a comma, a double quote, CR or LF, and doubles the quotes', () => {
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('line1\nline2'), '"line1\nline2"');
    assert.equal(csvField('line1\r\nline2'), '"line1\r\nline2"');
    assert.equal(csvField('plain text'), 'plain text');
  });

  it('writes NULL as an empty field and an empty string as ""', () => {
    assert.equal(csvField(null), '');
    assert.equal(csvField(''), '""');
    assert.equal(toCsv({ columns: ['a', 'b', 'c'], rows: [[null, '', 'x']] }), 'a,b,c\r\n,"",x\r\n');
  });

  it('writes numbers and booleans as they are', () => {
    assert.equal(toCsv({ columns: ['n', 'f', 'neg', 'b'], rows: [[42, 1.5, -7, true]] }), 'n,f,neg,b\r\n42,1.5,-7,true\r\n');
  });

  it('fills missing cells with empty fields and ignores cells beyond the columns', () => {
    assert.equal(toCsv({ columns: ['a', 'b', 'c'], rows: [['x'], ['1', '2', '3', 'extra']] }), 'a,b,c\r\nx,,\r\n1,2,3\r\n');
  });

  it('prefixes text a spreadsheet would run as a formula with an apostrophe', () => {
    for (const [cell, expected] of [
      ['=HYPERLINK("http://evil")', `"'=HYPERLINK(""http://evil"")"`],
      ['+1+2', "'+1+2"],
      ['-2+3', "'-2+3"],
      ['@SUM(A1)', "'@SUM(A1)"],
      ['\t=1', "'\t=1"],
      ['\r=1', `"'\r=1"`],
      ['=SUM(A1,B1)', `"'=SUM(A1,B1)"`],
      ['-', "'-"],
      ['-Infinity', "'-Infinity"],
    ] as const) {
      assert.equal(csvField(cell), expected, JSON.stringify(cell));
    }
  });

  it('leaves plain negative numbers held as text unprefixed (numerics arrive as strings)', () => {
    for (const cell of ['-12', '-0.5', '-12.50', '-.5', '-1.5e+20', '-3E-7', '-7.']) {
      assert.equal(neutraliseFormula(cell), cell, cell);
      assert.equal(csvField(cell), cell, cell);
    }
  });

  it('does not prefix text with a formula character later on, or numbers of type number', () => {
    assert.equal(csvField('a=b'), 'a=b');
    assert.equal(csvField(' =1'), ' =1');
    assert.equal(csvField(-5), '-5');
  });

  it('guards the header row too', () => {
    assert.equal(toCsv({ columns: ['=cmd', 'ok'], rows: [] }), "'=cmd,ok\r\n");
  });

  it('reads back as the same fields (formula-like cells with their prefix)', () => {
    const rows: ExportCell[][] = [
      ['a,b', 'quote " inside', 'multi\nline', 'crlf\r\nline', ''],
      ['=1+1', '-42', '@x', 'trailing space ', 'ünïcödé ✓'],
    ];
    const parsed = parseCsv(toCsv({ columns: ['c1', 'c2', 'c3', 'c4', 'c5'], rows }));
    assert.deepEqual(parsed, [
      ['c1', 'c2', 'c3', 'c4', 'c5'],
      ['a,b', 'quote " inside', 'multi\nline', 'crlf\r\nline', ''],
      ["'=1+1", '-42', "'@x", 'trailing space ', 'ünïcödé ✓'],
    ]);
  });
});

describe('export format: JSON', () => {
  it('writes an array of objects keyed by column, keeping value types and NULL', () => {
    const json = toJson({ columns: ['id', 'name', 'active', 'note'], rows: [[1, 'Ada', true, null], [2, 'Grace', false, '=x']] });
    assert.deepEqual(JSON.parse(json), [
      { id: 1, name: 'Ada', active: true, note: null },
      { id: 2, name: 'Grace', active: false, note: '=x' },
    ]);
  });

  it('writes [] for no rows and null for missing cells', () => {
    assert.deepEqual(JSON.parse(toJson({ columns: ['a'], rows: [] })), []);
    assert.deepEqual(JSON.parse(toJson({ columns: ['a', 'b'], rows: [['x']] })), [{ a: 'x', b: null }]);
  });

  it('makes duplicate column names unique so no value is lost', () => {
    const json = toJson({ columns: ['name', 'name', 'name'], rows: [['a', 'b', 'c']] });
    assert.deepEqual(JSON.parse(json), [{ name: 'a', name_2: 'b', name_3: 'c' }]);
  });

  it('keeps a column named __proto__ as an ordinary key', () => {
    const parsed: unknown = JSON.parse(toJson({ columns: ['__proto__', 'x'], rows: [['p', 1]] }));
    assert.ok(Array.isArray(parsed));
    assert.deepEqual(Object.keys(parsed[0] as object), ['__proto__', 'x']);
    assert.equal(Object.getOwnPropertyDescriptor(parsed[0], '__proto__')?.value, 'p');
  });
});

describe('export format: unique column names', () => {
  it('leaves unique names alone', () => {
    assert.deepEqual(uniqueColumnNames(['a', 'b', 'c']), ['a', 'b', 'c']);
  });

  it('numbers repeats from _2', () => {
    assert.deepEqual(uniqueColumnNames(['id', 'name', 'id', 'name', 'id']), ['id', 'name', 'id_2', 'name_2', 'id_3']);
  });

  it('never takes a name another column already has', () => {
    assert.deepEqual(uniqueColumnNames(['name', 'name', 'name_2']), ['name', 'name_3', 'name_2']);
    assert.deepEqual(uniqueColumnNames(['name_2', 'name', 'name']), ['name_2', 'name', 'name_3']);
    const names = uniqueColumnNames(['a', 'a', 'a_2', 'a_2', 'a', 'a_3']);
    assert.equal(new Set(names).size, names.length, names.join(','));
  });
});
