/** Ad markers: the SCTE-35 splice_insert encoder (read back by a bit reader written from the spec's tables), CRC-32/MPEG-2, the API body. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { crc32Mpeg2, createMarker, encodeSpliceInsert, MARKER_LIMITS, markerId, markerRequest, parseMarker } from '../../../core/model/marker';
import { BeamError } from '../../../core/model/errors';

/** Reads fields MSB first (independent of the encoder's writer). */
function reader(buf: Buffer) {
  let bit = 0;
  return {
    read(width: number): number {
      let v = 0n;
      for (let i = 0; i < width; i++, bit++) v = (v << 1n) | BigInt(((buf[bit >> 3] as number) >> (7 - (bit & 7))) & 1);
      return Number(v);
    },
    get offset() { return bit / 8; },
  };
}

/** splice_info_section → fields (ANSI/SCTE 35 table 5, splice_insert table 9). */
function decode(buf: Buffer) {
  const r = reader(buf);
  const s: Record<string, number | boolean> = {};
  s.tableId = r.read(8);
  s.syntax = r.read(1); s.private = r.read(1); s.sap = r.read(2);
  s.sectionLength = r.read(12);
  s.protocol = r.read(8); s.encrypted = r.read(1); s.algorithm = r.read(6); s.ptsAdjustment = r.read(33);
  s.cwIndex = r.read(8); s.tier = r.read(12); s.commandLength = r.read(12); s.commandType = r.read(8);
  const cmdStart = r.offset;
  s.eventId = r.read(32); s.cancel = r.read(1); r.read(7);
  s.outOfNetwork = r.read(1) === 1; s.programSplice = r.read(1) === 1; const hasDuration = r.read(1) === 1; s.immediate = r.read(1) === 1; r.read(4);
  if (!s.immediate) { s.timeSpecified = r.read(1); r.read(6); s.pts = r.read(33); }
  if (hasDuration) { s.autoReturn = r.read(1) === 1; r.read(6); s.duration = r.read(33); }
  s.uniqueProgramId = r.read(16); s.availNum = r.read(8); s.availsExpected = r.read(8);
  s.commandBytes = r.offset - cmdStart;
  s.descriptorLoopLength = r.read(16);
  s.crcOffset = r.offset;
  return s;
}

describe('CRC-32/MPEG-2', () => {
  test('check value of "123456789" is 0x0376E6E7', () => assert.equal(crc32Mpeg2(Buffer.from('123456789')), 0x0376e6e7));
  test('a section with its CRC appended checks to 0', () => assert.equal(crc32Mpeg2(encodeSpliceInsert({ eventId: 7, outOfNetwork: true })), 0));
});

describe('splice_insert encoder', () => {
  test('out of network, immediate, with a 30 s break_duration', () => {
    const buf = encodeSpliceInsert({ eventId: 0x6ffffff0, outOfNetwork: true, durationSeconds: 30 });
    const s = decode(buf);
    assert.equal(s.tableId, 0xfc);
    assert.equal(s.syntax, 0);
    assert.equal(s.sectionLength, buf.length - 3);
    assert.equal(s.commandType, 5);
    assert.equal(s.commandLength, s.commandBytes);
    assert.equal(s.tier, 0xfff);
    assert.equal(s.eventId, 0x6ffffff0);
    assert.equal(s.cancel, 0);
    assert.equal(s.outOfNetwork, true);
    assert.equal(s.programSplice, true);
    assert.equal(s.immediate, true);
    assert.equal(s.autoReturn, true);
    assert.equal(s.duration, 30 * 90000);
    assert.equal(s.descriptorLoopLength, 0);
    assert.equal(s.crcOffset, buf.length - 4);
    assert.equal(buf.readUInt32BE(buf.length - 4), crc32Mpeg2(buf.subarray(0, buf.length - 4)));
  });

  test('return to network with a splice_time pts (33 bits)', () => {
    const buf = encodeSpliceInsert({ eventId: 1, outOfNetwork: false, pts: 2 ** 33 - 5 });
    const s = decode(buf);
    assert.equal(s.outOfNetwork, false);
    assert.equal(s.immediate, false);
    assert.equal(s.timeSpecified, 1);
    assert.equal(s.pts, 2 ** 33 - 5);
    assert.equal(s.duration, undefined);
    assert.equal(s.sectionLength, buf.length - 3);
  });

  test('exact bytes of a minimal immediate splice out, field by field from the spec (CRC checked above)', () => {
    const hex = encodeSpliceInsert({ eventId: 1, outOfNetwork: true }).toString('hex').toUpperCase();
    const expected = ['FC', '301B', '00', '0000000000', '00', 'FFF00A', '05', '00000001', '7F', 'DF', '0000', '00', '00', '0000'].join('');
    assert.equal(hex.slice(0, -8), expected);
    assert.equal(hex.length, expected.length + 8);
  });
});

describe('marker requests', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const bad = (body: unknown, re: RegExp) => assert.throws(() => markerRequest(body, now), (e: unknown) => e instanceof BeamError && e.statusCode === 400 && re.test(e.message));

  test('now by default; an ISO time or epoch ms within bounds', () => {
    assert.deepEqual(markerRequest({ type: 'ad-break', duration: 30 }, now), { type: 'ad-break', startMs: now, durationSeconds: 30 });
    assert.equal(markerRequest({ type: 'ad-end', start: 'now' }, now).startMs, now);
    assert.equal(markerRequest({ type: 'ad-break', start: '2026-01-01T12:10:00Z' }, now).startMs, now + 600_000);
    assert.equal(markerRequest({ type: 'ad-break', start: now + 5000 }, now).startMs, now + 5000);
  });

  test('every bad body is a 400 naming the field', () => {
    bad(null, /JSON object/);
    bad([], /JSON object/);
    bad({ type: 'ad' }, /'type'/);
    bad({ type: 'ad-break', foo: 1 }, /Unknown marker field/);
    bad({ type: 'ad-break', duration: 0 }, /'duration'/);
    bad({ type: 'ad-break', duration: MARKER_LIMITS.maxDuration + 1 }, /'duration'/);
    bad({ type: 'ad-break', duration: '30' }, /'duration'/);
    bad({ type: 'ad-end', duration: 30 }, /no duration/);
    bad({ type: 'ad-break', start: 'tomorrow' }, /'start'/);
    bad({ type: 'ad-break', start: '2026-01-01T12:00:00' }, /'start'/);
    bad({ type: 'ad-break', start: now - MARKER_LIMITS.pastMs - 1 }, /'start' must lie/);
    bad({ type: 'ad-break', start: now + MARKER_LIMITS.futureMs + 1 }, /'start' must lie/);
  });

  test('a break with a duration carries its splice out and its return, under one id', () => {
    const m = createMarker({ type: 'ad-break', startMs: now, durationSeconds: 30 }, now, 0xabc);
    assert.equal(m.id, 'splice-00000ABC');
    assert.equal(m.id, markerId(0xabc));
    const out = decode(Buffer.from(m.scte35, 'hex'));
    assert.equal(out.outOfNetwork, true);
    assert.equal(out.duration, 30 * 90000);
    const back = decode(Buffer.from(m.scte35In as string, 'hex'));
    assert.equal(back.outOfNetwork, false);
    assert.equal(back.eventId, 0xabc);
    assert.deepEqual(parseMarker(JSON.stringify(m)), m);
    assert.equal(parseMarker('{"id":1}'), null);
    assert.equal(parseMarker('not json'), null);
    const end = createMarker({ type: 'ad-end', startMs: now, durationSeconds: null }, now, 5);
    assert.equal(decode(Buffer.from(end.scte35, 'hex')).outOfNetwork, false);
    assert.equal(end.scte35In, undefined);
  });
});
