/** SCTE-35 sections a publisher sends, read into ad markers (pure). */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { crc32Mpeg2, encodeSpliceInsert, MARKER_LIMITS } from '../../../core/model/marker';
import { parseSpliceInfoSection, ptsDistance, publisherMarker, spliceAction } from '../../../core/model/scte35';

/** A splice_info_section around a command and descriptors, with a pts_adjustment, CRC made. */
function section(commandType: number, command: Buffer, descriptors: Buffer = Buffer.alloc(0), adjustment = 0, encrypted = false): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0xfc;
  const length = 11 + command.length + 2 + descriptors.length + 4;
  head[1] = 0x30 | ((length >> 8) & 0x0f);
  head[2] = length & 0xff;
  head[3] = 0; // protocol_version
  // encrypted_packet(1) encryption_algorithm(6) pts_adjustment(33)
  const adj = BigInt(adjustment);
  const bits = ((encrypted ? 1n : 0n) << 39n) | adj;
  for (let i = 0; i < 5; i++) head[4 + i] = Number((bits >> BigInt(8 * (4 - i))) & 0xffn);
  head[9] = 0; // cw_index
  head[10] = 0xff; // tier (12) | splice_command_length (12)
  head[11] = 0xf0 | ((command.length >> 8) & 0x0f);
  head[12] = command.length & 0xff;
  head[13] = commandType;
  const loop = Buffer.from([(descriptors.length >> 8) & 0xff, descriptors.length & 0xff]);
  const body = Buffer.concat([head, command, loop, descriptors]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(body));
  return Buffer.concat([body, crc]);
}

/** time_signal() with a pts, or unspecified. */
function timeSignal(pts: number | null): Buffer {
  if (pts === null) return Buffer.from([0x7f]);
  const v = (0xfen << 32n) | BigInt(pts); // time_specified_flag, 6 reserved bits, 33-bit pts
  return Buffer.from([Number((v >> 32n) & 0xffn), Number((v >> 24n) & 0xffn), Number((v >> 16n) & 0xffn), Number((v >> 8n) & 0xffn), Number(v & 0xffn)]);
}

/** A segmentation_descriptor ('CUEI') of a type, with a duration (ticks), or a cancel. */
function segmentation(eventId: number, typeId: number, durationTicks: number | null, cancel = false): Buffer {
  const parts: number[] = [0x43, 0x55, 0x45, 0x49, (eventId >>> 24) & 0xff, (eventId >>> 16) & 0xff, (eventId >>> 8) & 0xff, eventId & 0xff, cancel ? 0xff : 0x7f];
  if (!cancel) {
    parts.push(0x80 | (durationTicks !== null ? 0x40 : 0) | 0x3f); // program_segmentation, duration flag, delivery_not_restricted + reserved
    if (durationTicks !== null) {
      const d = BigInt(durationTicks);
      for (let i = 4; i >= 0; i--) parts.push(Number((d >> BigInt(8 * i)) & 0xffn));
    }
    parts.push(0x0c, 4, 0xde, 0xad, 0xbe, 0xef); // upid type MPU, 4 bytes
    parts.push(typeId, 1, 1); // segmentation_type_id, segment_num, segments_expected
  }
  return Buffer.concat([Buffer.from([0x02, parts.length]), Buffer.from(parts)]);
}

describe('SCTE-35 sections (pure)', () => {
  it('reads the SCTE 35 standard\'s own splice_insert example (CRC, pts, break duration)', () => {
    const r = parseSpliceInfoSection(Buffer.from('/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=', 'base64'));
    assert.ok(r.ok);
    assert.equal(r.info.command, 'splice_insert');
    assert.equal(r.info.pts, 0x07369c02e);
    assert.deepEqual(r.info.insert, { eventId: 0x4800008f, cancel: false, outOfNetwork: true, immediate: false, durationTicks: 0x00052ccf5 });
    assert.deepEqual(spliceAction(r.info), { kind: 'add', type: 'ad-break', eventId: 0x4800008f, durationSeconds: 60.294, immediate: false });
  });

  it('reads back what the API encodes: out with a duration, in, immediate; pts_adjustment added modulo 2^33', () => {
    const out = parseSpliceInfoSection(encodeSpliceInsert({ eventId: 7, outOfNetwork: true, durationSeconds: 30, pts: 900000 }));
    assert.ok(out.ok);
    assert.deepEqual(spliceAction(out.info), { kind: 'add', type: 'ad-break', eventId: 7, durationSeconds: 30, immediate: false });
    assert.equal(out.info.pts, 900000);
    const back = parseSpliceInfoSection(encodeSpliceInsert({ eventId: 7, outOfNetwork: false }));
    assert.ok(back.ok);
    assert.deepEqual(spliceAction(back.info), { kind: 'add', type: 'ad-end', eventId: 7, durationSeconds: null, immediate: true });
    const adjusted = parseSpliceInfoSection(section(0x06, timeSignal(2 ** 33 - 100), segmentation(9, 0x34, 90000 * 60), 300));
    assert.ok(adjusted.ok);
    assert.equal(adjusted.info.pts, 200, 'wrapped');
  });

  it('time_signal with segmentation descriptors: break and ad starts, their ends, cancels; others mark nothing', () => {
    const at = (typeId: number, d: number | null = null) => {
      const r = parseSpliceInfoSection(section(0x06, timeSignal(450000), segmentation(0x51, typeId, d)));
      assert.ok(r.ok, `type 0x${typeId.toString(16)}`);
      return spliceAction(r.info);
    };
    for (const start of [0x22, 0x30, 0x32, 0x34, 0x36]) assert.deepEqual(at(start, 90000 * 45), { kind: 'add', type: 'ad-break', eventId: 0x51, durationSeconds: 45, immediate: false });
    for (const end of [0x23, 0x31, 0x33, 0x35, 0x37]) assert.deepEqual(at(end), { kind: 'add', type: 'ad-end', eventId: 0x51, durationSeconds: null, immediate: false });
    assert.equal(at(0x10).kind, 'none', 'program start marks no break');
    assert.equal(at(0x34, 90000 * 7200).kind === 'add' && (at(0x34, 90000 * 7200) as { durationSeconds: number | null }).durationSeconds, null, `a duration over ${MARKER_LIMITS.maxDuration} s is not planned`);
    const cancel = parseSpliceInfoSection(section(0x06, timeSignal(450000), segmentation(0x51, 0, null, true)));
    assert.ok(cancel.ok);
    assert.deepEqual(spliceAction(cancel.info), { kind: 'cancel', id: 'splice-00000051' });
    const unspecified = parseSpliceInfoSection(section(0x06, timeSignal(null), segmentation(0x52, 0x30, null)));
    assert.ok(unspecified.ok);
    assert.deepEqual(spliceAction(unspecified.info), { kind: 'add', type: 'ad-break', eventId: 0x52, durationSeconds: null, immediate: true });
    const nul = parseSpliceInfoSection(section(0x00, Buffer.alloc(0)));
    assert.ok(nul.ok);
    assert.equal(spliceAction(nul.info).kind, 'none');
    // Other descriptors (an avail_descriptor, tag 0) are skipped.
    const mixed = parseSpliceInfoSection(section(0x06, timeSignal(1), Buffer.concat([Buffer.from([0x00, 8, 0x43, 0x55, 0x45, 0x49, 0, 0, 0, 1]), segmentation(3, 0x22, null)])));
    assert.ok(mixed.ok);
    assert.equal((spliceAction(mixed.info) as { eventId?: number }).eventId, 3);
  });

  it('a splice_insert cancel names the marker it removes', () => {
    const cmd = Buffer.from([0, 0, 0x12, 0x34, 0xff]);
    const r = parseSpliceInfoSection(section(0x05, cmd));
    assert.ok(r.ok);
    assert.deepEqual(spliceAction(r.info), { kind: 'cancel', id: 'splice-00001234' });
  });

  it('refuses what is not a sound section, with a reason, never throws', () => {
    const good = encodeSpliceInsert({ eventId: 1, outOfNetwork: true, pts: 5 });
    const bad: [Buffer, RegExp][] = [
      [Buffer.alloc(3), /too short/],
      [Buffer.alloc(5000, 0xfc), /too long/],
      [Buffer.concat([Buffer.from([0x02]), good.subarray(1)]), /table_id/],
      [Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([(good[good.length - 1] as number) ^ 1])]), /CRC/],
      [good.subarray(0, good.length - 6), /runs past/],
      [section(0x05, encodeSpliceInsert({ eventId: 1, outOfNetwork: true }).subarray(14, 20), Buffer.alloc(0), 0, true), /encrypted/],
      [section(0x05, Buffer.from([0, 0, 0, 1, 0x7f, 0xff])), /truncated|longer/],
    ];
    for (const [buf, why] of bad) {
      const r = parseSpliceInfoSection(buf);
      assert.equal(r.ok, false, why.source);
      if (!r.ok) assert.match(r.reason, why);
    }
    // Random bytes after a valid head and CRC: a reason, not an exception.
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 12 + (i % 40) }, (_, k) => (k * 37 + i * 11) & 0xff));
      const s = section(0x05 + (i % 3), junk, Buffer.from(Array.from({ length: i % 9 }, (_, k) => (k * 53 + i) & 0xff)));
      parseSpliceInfoSection(s);
    }
  });

  it('distance on the 33-bit clock, and the marker a publisher\'s splice makes', () => {
    assert.equal(ptsDistance(100, 400), 300);
    assert.equal(ptsDistance(2 ** 33 - 100, 50), 150, 'across the wrap');
    assert.equal(ptsDistance(2 ** 33 + 1000, 1900), 900, 'an unwrapped demuxer pts against a splice time modulo 2^33');
    assert.equal(ptsDistance(400, 100), -300);
    const sec = encodeSpliceInsert({ eventId: 0xabc, outOfNetwork: true, durationSeconds: 20, pts: 1 });
    const m = publisherMarker({ kind: 'add', type: 'ad-break', eventId: 0xabc, durationSeconds: 20, immediate: false }, sec, 1_000_000.4, 999_000);
    assert.equal(m.id, 'splice-00000ABC');
    assert.equal(m.source, 'publisher');
    assert.equal(m.startMs, 1_000_000);
    assert.equal(m.scte35, sec.toString('hex').toUpperCase());
    assert.ok(m.scte35In && parseSpliceInfoSection(Buffer.from(m.scte35In, 'hex')).ok, 'the return of a break with a duration');
  });
});
