/** The stock-page bench's histogram figures: quantiles from cumulative buckets, a window between two readings. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { bucketsBetween, histogramQuantile, partReadyRows, readBuckets, type Buckets } from '../../bench/latency-stock';

const B = (pairs: [number, number][]): Buckets => pairs.map(([le, count]) => ({ le, count }));

describe('histogramQuantile', () => {
  it('interpolates inside the bucket holding the rank, the first bucket from 0', () => {
    // 10 observations: 4 at or below 0.2, 8 at or below 0.3, all at or below 0.5.
    const b = B([[0.1, 0], [0.2, 4], [0.3, 8], [0.5, 10], [Infinity, 10]]);
    assert.ok(Math.abs(histogramQuantile(b, 0.5) - 0.225) < 1e-9);
    assert.ok(Math.abs(histogramQuantile(b, 0.2) - 0.15) < 1e-9);
    assert.ok(Math.abs(histogramQuantile(b, 0.99) - 0.49) < 1e-9);
    assert.ok(Math.abs(histogramQuantile(B([[0.2, 2], [Infinity, 2]]), 0.5) - 0.1) < 1e-9);
  });

  it('a quantile in the +Inf bucket is the last finite bound; no observations is NaN', () => {
    assert.equal(histogramQuantile(B([[1, 1], [2, 1], [Infinity, 10]]), 0.99), 2);
    assert.ok(Number.isNaN(histogramQuantile(B([[1, 0], [Infinity, 0]]), 0.5)));
    assert.ok(Number.isNaN(histogramQuantile([], 0.5)));
  });
});

describe('a window of a live histogram', () => {
  it('reads prom-client buckets and keeps only what was observed between two readings', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'beam_test_delay_seconds', help: 'test', buckets: [0.1, 0.2, 0.4], registers: [registry] });
    assert.equal(await readBuckets(registry, 'beam_missing_seconds'), null);
    h.observe(0.05);
    h.observe(3);
    const before = await readBuckets(registry, 'beam_test_delay_seconds');
    assert.deepEqual(before, B([[0.1, 1], [0.2, 1], [0.4, 1], [Infinity, 2]]));
    for (const v of [0.15, 0.15, 0.3, 0.35]) h.observe(v);
    const after = await readBuckets(registry, 'beam_test_delay_seconds');
    const window = bucketsBetween(before, after as Buckets);
    assert.deepEqual(window, B([[0.1, 0], [0.2, 2], [0.4, 4], [Infinity, 4]]));
    const rows = partReadyRows(window, 0.2);
    assert.deepEqual(rows.map((r) => r.metric), ['server: first frame of a part → part:ready, p50', 'server: first frame of a part → part:ready, p99']);
    assert.ok(Math.abs((rows[0] as { ours: number }).ours - 200) < 1e-6, 'p50 at the 0.2 bound: two of four at or below it');
    assert.match(rows[0]?.note ?? '', /4 parts in the window/);
  });
});
