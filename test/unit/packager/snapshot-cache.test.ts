/** The live service's snapshot cache, alone: freshness, one read shared by concurrent callers, what a snapshot reads, blocking reload. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Channel } from '../../../core/model/channel';
import { BeamError } from '../../../core/model/errors';
import type { PartRecord, SegmentRecord } from '../../../core/model/live';
import type { Format } from '../../../core/model/media';
import type { Frontier, RenditionInfo } from '../../../packager/channel-reader';
import type { ChannelFollower } from '../../../packager/live/event-follower';
import {
  createSnapshotCache, hasAudioStream, isFresh, partsFromIndex, splitSegments, type SnapshotCacheConfig, type SnapshotReader,
} from '../../../packager/live/snapshot-cache';
import type { Snapshot } from '../../../packager/live/snapshot';

const CONFIG: SnapshotCacheConfig = { liveWindowSegments: 6, snapshotTtlMs: 200, snapshotMaxAgeMs: 2000 };

const seg = (index: number, closed = true): SegmentRecord => ({
  index, startPts: index * 180000, startDts: index * 180000, durationPts: closed ? 180000 : null, wallClockMs: index * 2000, discontinuity: false,
});
const part = (segment: number, p: number): PartRecord => ({ segment, part: p, startPts: 0, startDts: 0, durationPts: 45000, independent: p === 0 });
const channel = (name: string): Channel => ({
  name, streamKey: 'k', passphrase: null, dvrWindowSeconds: 3600, reconnectWindowSeconds: 30, lowLatency: true, ladder: [], createdAt: '', updatedAt: '',
});
const format = (audio: boolean): Format => ({
  type: 'format', url: 'ch', streams: [
    { index: 0, time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'h264' } },
    ...(audio ? [{ index: 1, time_base: [1, 90000] as [number, number], codecpar: { codec_type: 'audio' as const, name: 'aac' } }] : []),
  ],
});

/** A narrow reader over a fixed model; counts and records its reads; `gate` holds reads until released. */
function fakeReader(model: { segments: SegmentRecord[]; parts?: PartRecord[]; published?: boolean; audio?: boolean; renditions?: RenditionInfo[] }) {
  const calls: string[] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> | null = null;
  const wait = async () => {
    if (gate) await gate;
  };
  const reader: SnapshotReader = {
    channel: async (n) => { calls.push(`channel ${n}`); await wait(); return channel(n); },
    format: async (n) => { calls.push(`format ${n}`); return model.published === false ? null : format(model.audio ?? true); },
    lastSegments: async (n, count) => { calls.push(`lastSegments ${n} ${count}`); return model.segments.slice(-count); },
    parts: async (n, from, to) => { calls.push(`parts ${n} ${from} ${to}`); return (model.parts ?? []).filter((p) => p.segment >= from && p.segment <= to); },
    renditions: async (n) => { calls.push(`renditions ${n}`); return model.renditions ?? []; },
    rungFrontiers: async (n, rungs) => { calls.push(`rungFrontiers ${n} ${rungs.join()}`); return new Map<string, Frontier>(rungs.map((r) => [r, { lastMsn: 1, pendingParts: 0 }])); },
    markers: async () => [],
  };
  return {
    reader,
    calls,
    reads: () => calls.filter((c) => c.startsWith('channel ')).length,
    hold: () => { gate = new Promise((r) => { release = () => { gate = null; r(); }; }); },
    release: () => release(),
  };
}

function harness(model: Parameters<typeof fakeReader>[0]) {
  const fake = fakeReader(model);
  const clock = { t: 1_000_000 };
  const versions = new Map<string, number | null>();
  const metrics: string[] = [];
  const waits: number[] = [];
  const follower = (checks: number): ChannelFollower => ({
    version: 0,
    // Checks at once, then once per "event batch", like the real follower; false once `checks` are used up.
    async waitUntil(check, timeoutMs) {
      waits.push(timeoutMs);
      for (let i = 0; i < checks; i++) if (await check()) return true;
      return false;
    },
    nextEvents: async () => false,
  });
  let checksPerWait = 1;
  const cache = createSnapshotCache({
    reader: fake.reader,
    followers: { versionOf: (n) => versions.get(n) ?? null, follow: () => follower(checksPerWait) },
    metrics: {
      buildSeconds: { observe: (l: object) => metrics.push(`build ${JSON.stringify(l)}`) },
      blockedRequests: { inc: (l: object) => metrics.push(`blocked ${JSON.stringify(l)}`) },
      blockedSeconds: { observe: (l: object) => metrics.push(`blockedSeconds ${JSON.stringify(l)}`) },
    } as never,
    now: () => clock.t,
  }, CONFIG);
  return { ...fake, cache, clock, versions, metrics, waits, setChecks: (n: number) => { checksPerWait = n; } };
}

describe('snapshot freshness (pure)', () => {
  const taken = (version: number | null): Pick<Snapshot, 'takenAt' | 'version'> => ({ takenAt: 1000, version });
  const cases: Array<[string, number | null, number | null, number, boolean]> = [
    ['no follower: fresh within the TTL', null, null, 1199, true],
    ['no follower: stale at the TTL', null, null, 1200, false],
    ['same follower version: fresh past the TTL', 4, 4, 2999, true],
    ['same follower version: stale at the max age', 4, 4, 3000, false],
    ['the follower saw an event since: stale at once', 4, 5, 1001, false],
    ['a follower started since the snapshot: stale at once', null, 0, 1001, false],
  ];
  for (const [name, snapVersion, current, nowMs, want] of cases) {
    it(name, () => assert.equal(isFresh(taken(snapVersion), current, nowMs, CONFIG), want));
  }
});

describe('snapshot contents (pure)', () => {
  it('splits the open last segment from the closed ones', () => {
    const { closed, open } = splitSegments([seg(3), seg(4), seg(5, false)]);
    assert.deepEqual(closed.map((s) => s.index), [3, 4]);
    assert.equal(open?.index, 5);
    assert.equal(splitSegments([seg(3), seg(4)]).open, null);
    assert.deepEqual(splitSegments([]), { closed: [], open: null });
  });

  it('keeps the parts of the newest five segments', () => {
    assert.equal(partsFromIndex([1, 2, 3, 4, 5, 6, 7, 8].map((i) => seg(i))), 4);
    assert.equal(partsFromIndex([seg(7), seg(8)]), 7);
    assert.equal(partsFromIndex([]), 0);
  });

  it('has audio only with an audio stream at index 1', () => {
    assert.equal(hasAudioStream(format(true)), true);
    assert.equal(hasAudioStream(format(false)), false);
    assert.equal(hasAudioStream({ ...format(false), streams: [{ index: 1, time_base: [1, 90000], codecpar: { codec_type: 'video' } }] }), false);
  });
});

describe('snapshot cache', () => {
  const model = { segments: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => seg(i)).concat(seg(10, false)), parts: [part(9, 0), part(10, 0), part(10, 1), part(5, 0), part(4, 0)] };

  it('reads the model once: the window plus four segments, parts of the newest five, rung frontiers', async () => {
    const h = harness({ ...model, renditions: [{ rung: '360p', content: 'ch.360p', format: format(false) }] });
    const snap = await h.cache.snapshot('ch');
    assert.deepEqual(h.calls.sort(), ['channel ch', 'format ch', 'lastSegments ch 10', 'parts ch 6 10', 'renditions ch', 'rungFrontiers ch 360p'].sort());
    assert.deepEqual(snap.closed.map((s) => s.index), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(snap.open?.index, 10);
    assert.deepEqual(snap.parts.map((p) => `${p.segment}.${p.part}`), ['9.0', '10.0', '10.1']);
    assert.equal(snap.hasAudio, true);
    assert.equal(snap.takenAt, h.clock.t);
    assert.deepEqual([...snap.rungFrontiers.keys()], ['360p']);
    assert.deepEqual(h.metrics, ['build {"object":"snapshot"}']);
  });

  it('does not ask for rung frontiers without renditions', async () => {
    const h = harness(model);
    await h.cache.snapshot('ch');
    assert.ok(!h.calls.some((c) => c.startsWith('rungFrontiers')));
  });

  it('concurrent callers share one read', async () => {
    const h = harness(model);
    h.hold();
    const all = Promise.all([h.cache.snapshot('ch'), h.cache.snapshot('ch'), h.cache.snapshot('ch')]);
    h.release();
    const [a, b, c] = await all;
    assert.equal(h.reads(), 1);
    assert.equal(a, b);
    assert.equal(b, c);
  });

  it('channels are cached apart', async () => {
    const h = harness(model);
    const [a, b] = await Promise.all([h.cache.snapshot('one'), h.cache.snapshot('two')]);
    assert.equal(h.reads(), 2);
    assert.equal(a.channel.name, 'one');
    assert.equal(b.channel.name, 'two');
  });

  it('without a follower, reuses a snapshot for the TTL only', async () => {
    const h = harness(model);
    const first = await h.cache.snapshot('ch');
    h.clock.t += 199;
    assert.equal(await h.cache.snapshot('ch'), first);
    h.clock.t += 1;
    const second = await h.cache.snapshot('ch');
    assert.notEqual(second, first);
    assert.equal(h.reads(), 2);
  });

  it('with a follower, reuses a snapshot until the next event (at most the max age)', async () => {
    const h = harness(model);
    h.versions.set('ch', 3);
    const first = await h.cache.snapshot('ch');
    assert.equal(first.version, 3);
    h.clock.t += 1999;
    assert.equal(await h.cache.snapshot('ch'), first);
    h.versions.set('ch', 4);
    const afterEvent = await h.cache.snapshot('ch');
    assert.notEqual(afterEvent, first);
    assert.equal(afterEvent.version, 4);
    h.clock.t += 2000;
    assert.notEqual(await h.cache.snapshot('ch'), afterEvent);
    assert.equal(h.reads(), 3);
  });

  it('a caller after an event does not join a read started before it', async () => {
    const h = harness(model);
    h.versions.set('ch', 1);
    h.hold();
    const before = h.cache.snapshot('ch');
    h.versions.set('ch', 2);
    const after = h.cache.snapshot('ch');
    h.release();
    const [a, b] = await Promise.all([before, after]);
    assert.equal(h.reads(), 2);
    assert.equal(a.version, 1);
    assert.equal(b.version, 2);
  });

  it('an unpublished channel is a 404, and is not cached', async () => {
    const h = harness({ ...model, published: false });
    await assert.rejects(h.cache.snapshot('ch'), (e: unknown) => e instanceof BeamError && e.statusCode === 404 && /not been published/.test(e.message));
    await assert.rejects(h.cache.snapshot('ch'));
    assert.equal(h.reads(), 2);
  });

  it('blocking reload: true once the test holds for a fresh snapshot, counted in the metrics', async () => {
    const h = harness(model);
    h.versions.set('ch', 1);
    await h.cache.snapshot('ch');
    h.metrics.length = 0;
    h.setChecks(2);
    const seen: number[] = [];
    const ok = await h.cache.blockUntil('ch', 'part', (s) => {
      seen.push(s.version ?? -1);
      h.versions.set('ch', 2); // the event the request waits for arrives, past the TTL
      h.clock.t += CONFIG.snapshotTtlMs;
      return s.version === 2;
    }, 1234);
    assert.equal(ok, true);
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(h.waits, [1234]);
    assert.deepEqual(h.metrics, ['blocked {"kind":"part"}', 'build {"object":"snapshot"}', 'blockedSeconds {"outcome":"ready"}']);
  });

  it('blocking reload: the check after an event sees it, however young the snapshot before it', async () => {
    const h = harness(model);
    h.versions.set('ch', 1);
    await h.cache.snapshot('ch');
    h.setChecks(2);
    const seen: number[] = [];
    const ok = await h.cache.blockUntil('ch', 'part', (s) => {
      seen.push(s.version ?? -1);
      h.versions.set('ch', 2); // the awaited event arrives 1 ms after the snapshot was taken
      h.clock.t += 1;
      return s.version === 2;
    }, 1234);
    assert.equal(ok, true);
    assert.deepEqual(seen, [1, 2], 'the second check (woken by the event) read a new snapshot');
  });

  it('blocking reload: false after the timeout, on the follower given', async () => {
    const h = harness(model);
    let given = 0;
    const follower: ChannelFollower = { version: 0, waitUntil: async (check) => { given++; return check(); }, nextEvents: async () => false };
    const ok = await h.cache.blockUntil('ch', 'playlist', () => false, 500, follower);
    assert.equal(ok, false);
    assert.equal(given, 1);
    assert.deepEqual(h.waits, [], 'no follower of its own');
    assert.deepEqual(h.metrics.filter((m) => m.startsWith('blocked')), ['blocked {"kind":"playlist"}', 'blockedSeconds {"outcome":"timeout"}']);
  });
});
