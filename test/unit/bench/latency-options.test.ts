/** The latency bench's run options: which rows a run measures, and our page's follow-settings variants (A/B). */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { followVariants, ROW_KEYS, selectedRows } from '../../bench/latency-bench';

describe('LATENCY_BENCH_ROWS', () => {
  it('all rows when unset or empty', () => {
    assert.deepEqual([...selectedRows(undefined)], [...ROW_KEYS]);
    assert.deepEqual([...selectedRows(' ')], [...ROW_KEYS]);
  });
  it('the named rows only', () => {
    assert.deepEqual([...selectedRows('stock-ll, ours-rung')], ['stock-ll', 'ours-rung']);
  });
  it('a name that is no row is refused, with the row names', () => {
    assert.throws(() => selectedRows('stock-ll,ours'), /no row 'ours' \(rows: stock-ll, /);
  });
});

describe('LATENCY_BENCH_OURS', () => {
  it('the player\'s settings when unset', () => {
    assert.deepEqual(followVariants(undefined), [{ name: 'now', options: {} }]);
  });
  it('previous, now and a number of parts, in the order given', () => {
    assert.deepEqual(followVariants('previous,now,3').map((v) => [v.name, v.options]), [
      ['previous', { edgeParts: 2.5, slack: 0.1, relax: false }], ['now', {}], ['3 parts', { edgeParts: 3 }],
    ]);
  });
  it('fewer than 2 parts or another word is refused', () => {
    assert.throws(() => followVariants('1.5'), /not now, previous or a number of parts/);
    assert.throws(() => followVariants('later'), /not now, previous or a number of parts/);
  });
});
