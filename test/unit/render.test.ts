import assert from 'node:assert/strict';
import { StreamCleaner, clean, formatTable } from '../../src/cli/render';

describe('terminal rendering', () => {
  it('strips escape sequences and control characters from values', () => {
    assert.equal(clean('\x1b[31mred\x1b[0m'), 'red');
    assert.equal(clean('a\x07b\x1b]0;title\x07c'), 'a bc');
    assert.equal(clean('line\nbreak'), 'line break');
    assert.equal(clean('line\nbreak', true), 'line\nbreak');
  });

  it('holds back an escape sequence split across streamed pieces', () => {
    const text = 'plain \x1b[1mbold\x1b[0m and \x1b]0;title\x07 done';
    for (let cut = 0; cut <= text.length; cut++) {
      const cleaner = new StreamCleaner();
      const shown = cleaner.push(text.slice(0, cut)) + cleaner.push(text.slice(cut));
      assert.equal(shown, 'plain bold and  done', `split at ${cut}`);
    }
    const single = new StreamCleaner();
    assert.equal([...text].map((c) => single.push(c)).join(''), 'plain bold and  done');
  });

  it('formats a table with cleaned, truncated cells and NULLs', () => {
    const table = formatTable([{ name: 'n', type: 'int4' }, { name: 'v', type: 'text' }], [[1, '\x1b[31mx'], [2, null], [3, 'y'.repeat(60)]]);
    assert.ok(!table.includes('\x1b'));
    assert.match(table, /NULL/);
    assert.match(table, /y{39}…/);
  });
});
