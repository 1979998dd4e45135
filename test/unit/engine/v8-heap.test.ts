/**
 * The heap growing setting the composition root applies at start-up: ours unless the operator gave node one.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { HEAP_GROWING_PERCENT, heapGrowingFlag } from '../../../engine/v8-heap';

describe('heapGrowingFlag', () => {
  it("is ours when neither node's command line nor NODE_OPTIONS gives one", () => {
    assert.equal(HEAP_GROWING_PERCENT, 100);
    assert.equal(heapGrowingFlag([], undefined), '--heap-growing-percent=100');
    assert.equal(heapGrowingFlag(['--enable-source-maps'], '--max-old-space-size=4096  --trace-gc'), '--heap-growing-percent=100');
  });

  it("respects the operator's own value, on the command line or in NODE_OPTIONS, in either spelling", () => {
    assert.equal(heapGrowingFlag(['--enable-source-maps', '--heap-growing-percent=50'], undefined), null);
    assert.equal(heapGrowingFlag([], '--enable-source-maps --heap_growing_percent=300'), null);
    assert.equal(heapGrowingFlag(['--heap-growing-percent', '20'], undefined), null, 'the value as the next word');
  });

  it('does not take a similar option for it', () => {
    assert.equal(heapGrowingFlag(['--heap-growing-percentage=5', '--no-heap-growing-percent'], 'heap-growing-percent=5'), '--heap-growing-percent=100');
  });
});
