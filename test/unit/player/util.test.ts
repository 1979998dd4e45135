/** The viewer's pure helpers (player/util.js, an ES module loaded as the browser loads it). */
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPagesDirs } from '../../../engine/api/pages';

interface CatchUp { latency: number; target: number; ahead: number; maxRate?: number; slack?: number }
interface Relax { target: number; aim: number; step: number; quietMs: number; stalls: number; baseMs?: number; maxMs?: number }
let catchUpRate: (a: CatchUp) => number;
let relaxedTarget: (a: Relax) => number;

beforeAll(async () => {
  const util = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as { catchUpRate: typeof catchUpRate; relaxedTarget: typeof relaxedTarget };
  catchUpRate = util.catchUpRate;
  relaxedTarget = util.relaxedTarget;
});

describe('catchUpRate (our LL-HLS catch-up)', () => {
  const cases: [string, CatchUp, number][] = [
    ['at the target: 1×', { latency: 0.55, target: 0.5, ahead: 0.4 }, 1],
    ['a tenth behind (past the 0.05 s slack): a little faster', { latency: 0.5, target: 0.4, ahead: 0.3 }, 1.07],
    ['a tenth behind with a 0.1 s slack: 1×', { latency: 0.5, target: 0.4, ahead: 0.3, slack: 0.1 }, 1],
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

describe('relaxedTarget (a stall-raised target comes back)', () => {
  const cases: [string, Relax, number][] = [
    ['at the aim: unchanged', { target: 0.4, aim: 0.4, step: 0.2, quietMs: 60000, stalls: 1 }, 0.4],
    ['raised by a stall, 10 s quiet after 1 stall: one part back', { target: 0.73, aim: 0.4, step: 0.2, quietMs: 10000, stalls: 1 }, 0.53],
    ['raised, not quiet long enough yet: unchanged', { target: 0.73, aim: 0.4, step: 0.2, quietMs: 9999, stalls: 1 }, 0.73],
    ['the last step stops at the aim', { target: 0.53, aim: 0.4, step: 0.2, quietMs: 10000, stalls: 1 }, 0.4],
    ['3 stalls so far: 30 s of quiet asked for', { target: 1.06, aim: 0.4, step: 0.2, quietMs: 29000, stalls: 3 }, 1.06],
    ['3 stalls so far, 30 s quiet: one part back', { target: 1.06, aim: 0.4, step: 0.2, quietMs: 30000, stalls: 3 }, 0.86],
    ['many stalls: at most a minute of quiet asked for', { target: 1.06, aim: 0.4, step: 0.2, quietMs: 60000, stalls: 40 }, 0.86],
    ['no step known (no parts): unchanged', { target: 1.06, aim: 0.4, step: 0, quietMs: 60000, stalls: 1 }, 1.06],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => assert.equal(relaxedTarget(input), want));
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

describe('a chosen quality is handed to hls.js early in a segment', () => {
  type Handler = (e: string, data: unknown) => void;
  interface Util {
    isSwitchPoint(data: unknown): boolean;
    switchLevelInSegment(hls: object, Hls: object, level: number, o?: { maxWaitMs?: number; setTimer?: (fn: () => void, ms: number) => number; clearTimer?: (t: number) => void }): () => void;
  }
  let util: Util;
  beforeAll(async () => {
    util = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as Util;
  });
  const Hls = { Events: { FRAG_LOADING: 'hlsFragLoading', FRAG_LOADED: 'hlsFragLoaded' } };
  /** hls.js as far as the switch uses it: the config, events, loadLevel; and a timer the test fires. */
  function fakeHls(lowLatencyMode = true) {
    const handlers = new Map<string, Set<Handler>>();
    const timers: (() => void)[] = [];
    const hls = {
      config: { lowLatencyMode },
      loadLevel: -1,
      on: (e: string, h: Handler) => handlers.set(e, (handlers.get(e) ?? new Set()).add(h)),
      off: (e: string, h: Handler) => handlers.get(e)?.delete(h),
    };
    const fire = (event: string, type: string, part?: number) => {
      for (const h of [...(handlers.get(event) ?? [])]) h(event, { frag: { type, sn: 7 }, ...(part === undefined ? {} : { part: { index: part } }) });
    };
    const timer = { setTimer: (fn: () => void) => timers.push(fn), clearTimer: () => undefined };
    const listening = () => [...handlers.values()].reduce((n, set) => n + set.size, 0);
    return { hls, fire, listening, fireTimer: () => timers.shift()?.(), timer };
  }

  it('a switch point: the second part of a main-playlist segment, or a whole segment', () => {
    assert.equal(util.isSwitchPoint({ frag: { type: 'main' }, part: { index: 1 } }), true);
    assert.equal(util.isSwitchPoint({ frag: { type: 'main' } }), true);
    assert.equal(util.isSwitchPoint({ frag: { type: 'main' }, part: { index: 0 } }), false, 'the buffer would end on the boundary');
    assert.equal(util.isSwitchPoint({ frag: { type: 'main' }, part: { index: 6 } }), false, 'six parts would be loaded again');
    assert.equal(util.isSwitchPoint({ frag: { type: 'audio' }, part: { index: 3 } }), false);
    assert.equal(util.isSwitchPoint(undefined), false);
  });

  it('LL-HLS: waits for a segment\'s second part (loading, or loaded in a run of parts), then switches once', () => {
    const f = fakeHls();
    util.switchLevelInSegment(f.hls, Hls, 2, f.timer);
    f.fire(Hls.Events.FRAG_LOADING, 'main', 5);
    f.fire(Hls.Events.FRAG_LOADING, 'main', 0);
    f.fire(Hls.Events.FRAG_LOADED, 'main', 0);
    f.fire(Hls.Events.FRAG_LOADING, 'audio', 1);
    assert.equal(f.hls.loadLevel, -1, 'not late in a segment, not at its start, nor on an audio part');
    f.fire(Hls.Events.FRAG_LOADED, 'main', 1);
    assert.equal(f.hls.loadLevel, 2, 'a part loaded within a run of parts counts too');
    assert.equal(f.listening(), 0, 'stops listening');
    f.hls.loadLevel = 1;
    f.fireTimer();
    f.fire(Hls.Events.FRAG_LOADING, 'main', 3);
    assert.equal(f.hls.loadLevel, 1, 'nothing happens after the switch');
  });

  it('switches anyway after maxWaitMs; a cancelled switch never happens', () => {
    const late = fakeHls();
    util.switchLevelInSegment(late.hls, Hls, 2, late.timer);
    late.fireTimer();
    assert.equal(late.hls.loadLevel, 2);
    const cancelled = fakeHls();
    const cancel = util.switchLevelInSegment(cancelled.hls, Hls, 2, cancelled.timer);
    cancel();
    cancelled.fire(Hls.Events.FRAG_LOADING, 'main', 2);
    cancelled.fireTimer();
    assert.equal(cancelled.hls.loadLevel, -1);
    assert.equal(cancelled.listening(), 0);
  });

  it('Auto and plain HLS (whole segments) switch at once', () => {
    const auto = fakeHls();
    auto.hls.loadLevel = 1;
    util.switchLevelInSegment(auto.hls, Hls, -1, auto.timer);
    assert.equal(auto.hls.loadLevel, -1);
    const plain = fakeHls(false);
    util.switchLevelInSegment(plain.hls, Hls, 2, plain.timer);
    assert.equal(plain.hls.loadLevel, 2);
    assert.equal(plain.listening() + auto.listening(), 0);
  });
});

describe('manifestUrl', () => {
  it('carries catch-up times and a private channel\'s playback token', async () => {
    const { manifestUrl } = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as { manifestUrl: (c: string, o?: object) => string };
    assert.equal(manifestUrl('main'), '/live/main/master.m3u8');
    assert.equal(manifestUrl('main', { start: '10', token: '1767225600..abc_-' }), '/live/main/master.m3u8?start=10&token=1767225600..abc_-');
    assert.equal(manifestUrl('main', { token: '1.2001:db8::1.s' }), '/live/main/master.m3u8?token=1.2001%3Adb8%3A%3A1.s');
  });
});
