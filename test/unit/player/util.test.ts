/** The viewer's pure helpers (player/util.js, an ES module loaded as the browser loads it). */
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPagesDirs } from '../../../engine/api/pages';

interface CatchUp { latency: number; target: number; ahead: number; maxRate?: number }
let catchUpRate: (a: CatchUp) => number;

beforeAll(async () => {
  const util = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as { catchUpRate: typeof catchUpRate };
  catchUpRate = util.catchUpRate;
});

describe('catchUpRate (our LL-HLS catch-up)', () => {
  const cases: [string, CatchUp, number][] = [
    ['at the target: 1×', { latency: 0.55, target: 0.5, ahead: 0.4 }, 1],
    ['unknown latency (before the first playlist): 1×', { latency: 0, target: 0.5, ahead: 0.4 }, 1],
    ['behind but almost nothing buffered ahead (speeding up would stall): 1×', { latency: 1.5, target: 0.5, ahead: 0.1 }, 1],
    ['half a second behind: a little faster', { latency: 1.0, target: 0.5, ahead: 0.5 }, 1.15],
    ['a start-up stall 1.5 s behind: at most 1.25×', { latency: 2.0, target: 0.5, ahead: 1.2 }, 1.25],
    ['hls.js seconds behind with a 1.1 cap', { latency: 4, target: 1, ahead: 3, maxRate: 1.1 }, 1.1],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => assert.equal(catchUpRate(input), want));
  }
});

describe('the dashboard\'s Redis memory warning', () => {
  let warning: (redis: unknown) => string | null;
  beforeAll(async () => {
    const util = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as { redisMemoryWarning: typeof warning };
    warning = util.redisMemoryWarning;
  });
  const gib4 = 4 * 2 ** 30;
  it('from 80 % of the limit, with the figures and what to do', () => {
    assert.equal(
      warning({ usedMemoryBytes: 0.83 * gib4, maxmemoryBytes: gib4, usedRatio: 0.83 }),
      'Redis memory at 83 % of its 4.0 GiB limit: at 100 % new publishes are refused; shorten DVR windows or raise BEAM_REDIS_MAXMEMORY',
    );
    assert.match(warning({ usedMemoryBytes: 0.8 * gib4, maxmemoryBytes: gib4, usedRatio: 0.8 }) ?? '', /at 80 % of its 4\.0 GiB/);
    assert.match(warning({ usedMemoryBytes: 1.2 * gib4, maxmemoryBytes: gib4, usedRatio: 1.2 }) ?? '', /at 120 %/);
  });
  it('none below 80 %, without a limit, or without figures', () => {
    assert.equal(warning({ usedMemoryBytes: 0.79 * gib4, maxmemoryBytes: gib4, usedRatio: 0.7999 }), null);
    assert.equal(warning({ usedMemoryBytes: 5, maxmemoryBytes: 0, usedRatio: null }), null);
    assert.equal(warning({ usedMemoryBytes: null, maxmemoryBytes: null, usedRatio: null }), null);
    assert.equal(warning(null), null);
    assert.equal(warning(undefined), null);
  });
});
