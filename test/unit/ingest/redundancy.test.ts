// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { appendSwitch, decideSwitch, inputHealth, SWITCH_HISTORY_MAX, trackHealth, type InputActivity, type SwitchRecord } from '../../../ingest/redundancy';

const config = { stallMs: 1000, returnMs: 5000 };
/** An input that connected at 0 and last sent media and video at the given times. */
const input = (lastMediaAt: number | null, lastVideoAt: number | null = lastMediaAt, healthySince: number | null = null): InputActivity => ({ since: 0, lastMediaAt, lastVideoAt, healthySince });

describe('inputHealth', () => {
  it('healthy while media with video flows', () => {
    assert.equal(inputHealth(input(9500), 10_000, 1000), 'healthy');
    assert.equal(inputHealth(input(9000), 10_000, 1000), 'healthy', 'exactly the bound is still healthy');
  });
  it('stalled when nothing came for longer than the bound', () => {
    assert.equal(inputHealth(input(8999), 10_000, 1000), 'stalled');
    assert.equal(inputHealth(input(null), 10_000, 1000), 'stalled', 'never sent anything');
  });
  it('no-video when media flows without video', () => {
    assert.equal(inputHealth(input(9900, 8000), 10_000, 1000), 'no-video');
    assert.equal(inputHealth(input(9900, null), 10_000, 1000), 'no-video', 'audio only from the start');
  });
  it('starting in its first bound before any packet', () => {
    assert.equal(inputHealth({ since: 9500, lastMediaAt: null, lastVideoAt: null, healthySince: null }, 10_000, 1000), 'starting');
    assert.equal(inputHealth({ since: 8500, lastMediaAt: null, lastVideoAt: null, healthySince: null }, 10_000, 1000), 'stalled');
  });
});

describe('trackHealth', () => {
  it('sets healthySince when the input becomes healthy, keeps it, clears it on a stall', () => {
    let a = input(1000);
    a = trackHealth(a, 1200, 1000);
    assert.equal(a.healthySince, 1200);
    a = trackHealth({ ...a, lastMediaAt: 2000, lastVideoAt: 2000 }, 2100, 1000);
    assert.equal(a.healthySince, 1200, 'still healthy: the same start');
    a = trackHealth(a, 3500, 1000);
    assert.equal(a.healthySince, null, 'stalled');
    a = trackHealth({ ...a, lastMediaAt: 3600, lastVideoAt: 3600 }, 3700, 1000);
    assert.equal(a.healthySince, 3700, 'healthy again: counted from now');
  });
});

describe('decideSwitch', () => {
  const now = 100_000;
  const healthy = input(now - 100, now - 100, now - 60_000);
  const stalled = input(now - 5000, now - 5000);
  const noVideo = input(now - 100, now - 5000);
  it('nothing to decide without both inputs', () => {
    assert.equal(decideSwitch({ onAir: 'primary', primary: stalled, backup: null }, now, config), null);
    assert.equal(decideSwitch({ onAir: 'backup', primary: null, backup: stalled }, now, config), null);
  });
  it('primary on air and healthy: stays', () => {
    assert.equal(decideSwitch({ onAir: 'primary', primary: healthy, backup: healthy }, now, config), null);
  });
  it('primary stalled or without video: to a healthy backup, with the reason', () => {
    assert.deepEqual(decideSwitch({ onAir: 'primary', primary: stalled, backup: healthy }, now, config), { to: 'backup', reason: 'primary-stalled' });
    assert.deepEqual(decideSwitch({ onAir: 'primary', primary: noVideo, backup: healthy }, now, config), { to: 'backup', reason: 'primary-lost-video' });
  });
  it('never to a backup that is not healthy itself', () => {
    assert.equal(decideSwitch({ onAir: 'primary', primary: stalled, backup: stalled }, now, config), null);
    assert.equal(decideSwitch({ onAir: 'primary', primary: stalled, backup: noVideo }, now, config), null);
    const starting = { since: now - 100, lastMediaAt: null, lastVideoAt: null, healthySince: null };
    assert.equal(decideSwitch({ onAir: 'primary', primary: stalled, backup: starting }, now, config), null);
  });
  it('a primary just connected (nothing yet) is not switched away from', () => {
    const starting = { since: now - 100, lastMediaAt: null, lastVideoAt: null, healthySince: null };
    assert.equal(decideSwitch({ onAir: 'primary', primary: starting, backup: healthy }, now, config), null);
  });
  it('backup on air: back to the primary once it has been healthy for the return time', () => {
    const back = (since: number) => input(now - 50, now - 50, since);
    assert.equal(decideSwitch({ onAir: 'backup', primary: back(now - 4999), backup: healthy }, now, config), null);
    assert.deepEqual(decideSwitch({ onAir: 'backup', primary: back(now - 5000), backup: healthy }, now, config), { to: 'primary', reason: 'primary-restored' });
    assert.equal(decideSwitch({ onAir: 'backup', primary: stalled, backup: healthy }, now, config), null);
  });
  it('backup on air and failing: to a healthy primary at once', () => {
    const justBack = input(now - 50, now - 50, now - 200);
    assert.deepEqual(decideSwitch({ onAir: 'backup', primary: justBack, backup: stalled }, now, config), { to: 'primary', reason: 'backup-stalled' });
    assert.deepEqual(decideSwitch({ onAir: 'backup', primary: justBack, backup: noVideo }, now, config), { to: 'primary', reason: 'backup-lost-video' });
    assert.equal(decideSwitch({ onAir: 'backup', primary: stalled, backup: stalled }, now, config), null, 'both failing: stay');
  });
});

describe('appendSwitch', () => {
  it('keeps the newest switches, bounded', () => {
    let h: SwitchRecord[] = [];
    for (let i = 0; i < SWITCH_HISTORY_MAX + 5; i++) h = appendSwitch(h, { at: String(i), from: 'primary', to: 'backup', reason: 'primary-stalled' });
    assert.equal(h.length, SWITCH_HISTORY_MAX);
    assert.equal(h[0]?.at, '5');
    assert.equal(h.at(-1)?.at, String(SWITCH_HISTORY_MAX + 4));
  });
});
