import assert from 'node:assert/strict';
import { BatchSizer } from '../../src/core/sources/postgres';

describe('BatchSizer (rows batched by size and by time)', () => {
  const policy = { firstRows: 100, minRows: 100, maxRows: 5000, targetMs: 50 };

  it('starts small and doubles while reads are quick, up to the maximum', () => {
    const sizer = new BatchSizer(policy);
    const sizes = [sizer.next];
    for (let i = 0; i < 8; i++) {
      sizer.record(1);
      sizes.push(sizer.next);
    }
    assert.deepEqual(sizes, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('halves after a slow read, never below the minimum, and holds steady in between', () => {
    const sizer = new BatchSizer(policy);
    for (let i = 0; i < 6; i++) sizer.record(1);
    assert.equal(sizer.next, 5000);
    sizer.record(80);
    assert.equal(sizer.next, 2500);
    sizer.record(40); // between half the target and the target: keep
    assert.equal(sizer.next, 2500);
    for (let i = 0; i < 10; i++) sizer.record(500);
    assert.equal(sizer.next, 100);
  });
});
