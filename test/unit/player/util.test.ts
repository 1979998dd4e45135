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

describe('a chosen quality is handed to hls.js at a segment start', () => {
  type Handler = (e: string, data: unknown) => void;
  interface Util {
    startsSegment(data: unknown): boolean;
    switchLevelAtSegmentStart(hls: object, Hls: object, level: number, o?: { maxWaitMs?: number; setTimer?: (fn: () => void, ms: number) => number; clearTimer?: (t: number) => void }): () => void;
  }
  let util: Util;
  beforeAll(async () => {
    util = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as Util;
  });
  const Hls = { Events: { FRAG_LOADING: 'hlsFragLoading' } };
  /** hls.js as far as the switch uses it: the config, events, loadLevel; and a timer the test fires. */
  function fakeHls(lowLatencyMode = true) {
    const handlers = new Set<Handler>();
    const timers: (() => void)[] = [];
    const hls = {
      config: { lowLatencyMode },
      loadLevel: -1,
      on: (_e: string, h: Handler) => handlers.add(h),
      off: (_e: string, h: Handler) => handlers.delete(h),
    };
    const loading = (type: string, part?: number) => {
      for (const h of [...handlers]) h(Hls.Events.FRAG_LOADING, { frag: { type, sn: 7 }, ...(part === undefined ? {} : { part: { index: part } }) });
    };
    const timer = { setTimer: (fn: () => void) => timers.push(fn), clearTimer: () => undefined };
    return { hls, loading, handlers, fireTimer: () => timers.shift()?.(), timer };
  }

  it('a segment starts at its first part, or with a whole segment', () => {
    assert.equal(util.startsSegment({ frag: {}, part: { index: 0 } }), true);
    assert.equal(util.startsSegment({ frag: {} }), true);
    assert.equal(util.startsSegment({ frag: {}, part: { index: 3 } }), false);
  });

  it('LL-HLS: waits for the first part of a segment of the main playlist, then switches once', () => {
    const f = fakeHls();
    util.switchLevelAtSegmentStart(f.hls, Hls, 2, f.timer);
    f.loading('main', 4);
    f.loading('audio', 0);
    assert.equal(f.hls.loadLevel, -1, 'not in the middle of a segment, nor on an audio part');
    f.loading('main', 0);
    assert.equal(f.hls.loadLevel, 2);
    assert.equal(f.handlers.size, 0, 'stops listening');
    f.hls.loadLevel = 1;
    f.fireTimer();
    assert.equal(f.hls.loadLevel, 1, 'the fallback timer does nothing after the switch');
  });

  it('switches anyway after maxWaitMs; a cancelled switch never happens', () => {
    const late = fakeHls();
    util.switchLevelAtSegmentStart(late.hls, Hls, 2, late.timer);
    late.fireTimer();
    assert.equal(late.hls.loadLevel, 2);
    const cancelled = fakeHls();
    const cancel = util.switchLevelAtSegmentStart(cancelled.hls, Hls, 2, cancelled.timer);
    cancel();
    cancelled.loading('main', 0);
    cancelled.fireTimer();
    assert.equal(cancelled.hls.loadLevel, -1);
    assert.equal(cancelled.handlers.size, 0);
  });

  it('Auto and plain HLS (whole segments) switch at once', () => {
    const auto = fakeHls();
    auto.hls.loadLevel = 1;
    util.switchLevelAtSegmentStart(auto.hls, Hls, -1, auto.timer);
    assert.equal(auto.hls.loadLevel, -1);
    const plain = fakeHls(false);
    util.switchLevelAtSegmentStart(plain.hls, Hls, 2, plain.timer);
    assert.equal(plain.hls.loadLevel, 2);
    assert.equal(plain.handlers.size + auto.handlers.size, 0);
  });
});
