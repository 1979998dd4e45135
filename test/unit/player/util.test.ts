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
