/** A publisher's SCTE-35 sections into the channel's markers: placement, repeats, cancels, bounds. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { crc32Mpeg2, encodeSpliceInsert, type Marker } from '../../../core/model/marker';
import { createPublisherSplices, SPLICE_RATE } from '../../../ingest/session/publisher-splices';

function rig(clock: { pts90k: number; wallMs: number } | null = { pts90k: 900_000, wallMs: 1_000_000 }) {
  const stored: Marker[] = [];
  const removed: string[] = [];
  const warnings: string[] = [];
  let now = 1_000_000;
  const added: Marker[] = [];
  const splices = createPublisherSplices({
    live: {
      addMarker: async (_c: string, m: Marker) => {
        stored.push(m);
      },
      removeMarker: async (_c: string, id: string) => {
        removed.push(id);
        return true;
      },
    },
    log: { info: () => undefined, warn: (_o: object, msg: string) => warnings.push(msg), error: () => undefined } as never,
    channel: { name: 'c', dvrWindowSeconds: 3600 },
    now: () => now,
    videoClock: () => clock,
    known: () => added,
    onAdded: (m) => added.push(m),
  });
  return { splices, stored, removed, warnings, added, advance: (ms: number) => (now += ms) };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('publisher splices', () => {
  it('places a splice by its pts through the newest video packet; a repeat is dropped', async () => {
    const r = rig();
    const sec = encodeSpliceInsert({ eventId: 5, outOfNetwork: true, durationSeconds: 30, pts: 900_000 + 4 * 90_000 });
    r.splices.push(sec);
    r.splices.push(sec);
    await flush();
    assert.equal(r.stored.length, 1);
    const m = r.stored[0] as Marker;
    assert.equal(m.startMs, 1_004_000);
    assert.equal(m.type, 'ad-break');
    assert.equal(m.durationSeconds, 30);
    assert.equal(m.source, 'publisher');
    assert.equal(m.scte35, sec.toString('hex').toUpperCase());
    assert.equal(r.splices.added, 1);
  });

  it('an immediate splice is at the newest video packet; before the first segment nothing is placed', async () => {
    const r = rig();
    r.splices.push(encodeSpliceInsert({ eventId: 6, outOfNetwork: true }));
    await flush();
    assert.equal(r.stored[0]?.startMs, 1_000_000);
    const early = rig(null);
    early.splices.push(encodeSpliceInsert({ eventId: 6, outOfNetwork: true }));
    await flush();
    assert.equal(early.stored.length, 0);
  });

  it('the end of a break with the break\'s own event id is a marker of its own (…-IN); a cancel removes a known marker', async () => {
    const r = rig();
    r.splices.push(encodeSpliceInsert({ eventId: 8, outOfNetwork: true, pts: 900_000 + 90_000 }));
    r.splices.push(encodeSpliceInsert({ eventId: 8, outOfNetwork: false, pts: 900_000 + 10 * 90_000 }));
    await flush();
    assert.deepEqual(r.stored.map((m) => [m.id, m.type, m.startMs]), [['splice-00000008', 'ad-break', 1_001_000], ['splice-00000008-IN', 'ad-end', 1_010_000]]);
    // splice_insert with splice_event_cancel_indicator set, for event 8 and for an unknown event 9 (nothing to do).
    const cancel = (id: number) => {
      const body = Buffer.from(`fc300000000000000000fff00505${id.toString(16).padStart(8, '0')}ff0000`, 'hex');
      body[2] = body.length - 3 + 4;
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32Mpeg2(body));
      return Buffer.concat([body, crc]);
    };
    r.splices.push(cancel(9));
    r.splices.push(cancel(8));
    await flush();
    assert.deepEqual(r.removed, ['splice-00000008']);
  });

  it('drops splices outside the bounds, floods past the rate, and sections that do not parse, with a warning', async () => {
    const r = rig();
    r.splices.push(encodeSpliceInsert({ eventId: 1, outOfNetwork: true, pts: 900_000 + 2 * 3600 * 90_000 }));
    r.splices.push(encodeSpliceInsert({ eventId: 2, outOfNetwork: true, pts: 900_000 - 60 * 90_000 }));
    r.splices.push(Buffer.from('not a section'));
    await flush();
    assert.equal(r.stored.length, 0);
    assert.equal(r.warnings.length, 3);
    for (let i = 0; i < SPLICE_RATE.count + 5; i++) r.splices.push(encodeSpliceInsert({ eventId: 100 + i, outOfNetwork: true }));
    await flush();
    assert.equal(r.stored.length, SPLICE_RATE.count);
    assert.equal(r.warnings.filter((w) => /new ones in/.test(w)).length, 1, 'one warning per window');
    r.advance(SPLICE_RATE.windowMs);
    r.splices.push(encodeSpliceInsert({ eventId: 999, outOfNetwork: true }));
    await flush();
    assert.equal(r.stored.length, SPLICE_RATE.count + 1, 'a new window takes new ones');
  });
});
