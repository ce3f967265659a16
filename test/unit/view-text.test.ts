import assert from 'node:assert/strict';
import { columnDescription, historyDescription, oneLine, relativeTime, rowCountText, rowEstimateText } from '../../src/vscode/viewText';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('view text', () => {
  it('shows a row estimate compactly, and nothing when it is unknown', () => {
    assert.equal(rowEstimateText({ rowEstimate: 0 }), '~0 rows');
    assert.equal(rowEstimateText({ rowEstimate: 1 }), '~1 row');
    assert.equal(rowEstimateText({ rowEstimate: 950 }), '~950 rows');
    assert.equal(rowEstimateText({ rowEstimate: 1234 }), '~1.2K rows');
    assert.equal(rowEstimateText({ rowEstimate: 2_500_000 }), '~2.5M rows');
    assert.equal(rowEstimateText({ rowEstimate: -1 }), undefined);
  });

  it('describes a column by its type and key marks', () => {
    assert.equal(columnDescription({ type: 'integer', isPrimaryKey: true }), 'integer · PK');
    assert.equal(columnDescription({ type: 'integer', isPrimaryKey: false, references: { table: 'customers', column: 'id' } }), 'integer · FK → customers.id');
    assert.equal(columnDescription({ type: 'bigint', isPrimaryKey: true, references: { table: 'orders', column: 'id' } }), 'bigint · PK · FK → orders.id');
    assert.equal(columnDescription({ type: 'text', isPrimaryKey: false }), 'text');
  });

  it('says how long ago something happened', () => {
    const now = Date.UTC(2025, 5, 15, 12, 0, 0);
    assert.equal(relativeTime(now - 10_000, now), 'just now');
    assert.equal(relativeTime(now + 5_000, now), 'just now', 'a clock skew is not "in the future"');
    assert.equal(relativeTime(now - 5 * MINUTE, now), '5 min ago');
    assert.equal(relativeTime(now - 3 * HOUR, now), '3 h ago');
    assert.equal(relativeTime(now - 30 * HOUR, now), 'yesterday');
    assert.equal(relativeTime(now - 4 * DAY, now), '4 days ago');
    assert.equal(relativeTime(Date.UTC(2025, 0, 2, 12), now), '2025-01-02');
  });

  it('describes a history entry by its outcome and age', () => {
    const now = Date.UTC(2025, 5, 15, 12);
    assert.equal(historyDescription({ rowCount: 12, at: now - 5 * MINUTE }, now), '12 rows · 5 min ago');
    assert.equal(historyDescription({ rowCount: 1, at: now }, now), '1 row · just now');
    assert.equal(historyDescription({ rowCount: 12_345, at: now }, now), '12,345 rows · just now');
    assert.equal(historyDescription({ rowCount: 3, error: 'cancelled: stopped', at: now - 2 * HOUR }, now), 'error · 2 h ago');
    assert.equal(historyDescription({ at: now - 2 * HOUR }, now), '2 h ago');
    assert.equal(rowCountText(undefined), undefined);
    assert.equal(rowCountText(0), '0 rows');
  });

  it('flattens text to one line and cuts it with an ellipsis', () => {
    assert.equal(oneLine('  select *\n  from   t\n', 100), 'select * from t');
    assert.equal(oneLine('abcdefghij', 5), 'abcd…');
    assert.equal(oneLine('abcde', 5), 'abcde');
  });
});
