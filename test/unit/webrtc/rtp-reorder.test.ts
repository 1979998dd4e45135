/**
 * The WHIP receive side's reordering and NACKs (webrtc/rtp-reorder.ts): packets back in order, late ones filling
 * their gaps, gaps asked for (RTCP generic NACK bytes as a publisher's libdatachannel reads them) and given up
 * after the hold, sequence wrap, duplicates, restarts and the bounds.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { buildNack, createRtpReorder, DEFAULT_REORDER } from '../../../webrtc/rtp-reorder';
import { parseRtcpFeedback } from '../../../webrtc/rtcp';
import type { RtpPacket } from '../../../webrtc/rtp-depacketizer';

const pkt = (sequence: number): RtpPacket => ({ payloadType: 102, marker: false, sequence: sequence & 0xffff, timestamp: 0, ssrc: 7, payload: Buffer.from([sequence & 0xff]) });
const seqs = (ps: RtpPacket[]) => ps.map((p) => p.sequence);

describe('RTP reordering', () => {
  test('in order passes straight through', () => {
    const r = createRtpReorder();
    const out = [1, 2, 3, 4].flatMap((s) => r.push(pkt(s), 0));
    assert.deepEqual(seqs(out), [1, 2, 3, 4]);
    assert.deepEqual(r.tick(1000), { released: [], nack: [] });
  });

  test('a late packet fills its gap: held packets come out in order, the gap is asked for meanwhile', () => {
    const r = createRtpReorder();
    assert.deepEqual(seqs(r.push(pkt(10), 0)), [10]);
    assert.deepEqual(seqs(r.push(pkt(12), 5)), [], '12 waits for 11');
    assert.deepEqual(seqs(r.push(pkt(13), 6)), []);
    assert.deepEqual(r.tick(7).nack, [11]);
    assert.deepEqual(r.tick(20).nack, [], 'not again before the interval');
    assert.deepEqual(r.tick(50).nack, [11], 'again after it');
    assert.deepEqual(seqs(r.push(pkt(11), 60)), [11, 12, 13]);
    assert.deepEqual(r.tick(500), { released: [], nack: [] });
    assert.equal(r.stats().recovered, 1);
    assert.equal(r.stats().lost, 0);
  });

  test('a gap not filled in the hold time is given up: what follows goes on with the jump', () => {
    const r = createRtpReorder();
    r.push(pkt(1), 0);
    r.push(pkt(3), 0);
    r.push(pkt(4), 0);
    assert.deepEqual(seqs(r.tick(DEFAULT_REORDER.holdMs - 1).released), []);
    assert.deepEqual(seqs(r.tick(DEFAULT_REORDER.holdMs).released), [3, 4]);
    assert.deepEqual(seqs(r.push(pkt(2), 200)), [], 'too late: dropped');
    assert.equal(r.stats().lost, 1);
    assert.equal(r.stats().dropped, 1);
    const nacks = r.stats().nacked;
    assert.ok(nacks >= 1 && nacks <= DEFAULT_REORDER.maxNacks);
  });

  test('each packet is asked for at most maxNacks times', () => {
    const r = createRtpReorder({ ...DEFAULT_REORDER, holdMs: 10_000 });
    r.push(pkt(1), 0);
    r.push(pkt(3), 0);
    let asked = 0;
    for (let t = 0; t < 2000; t += 10) asked += r.tick(t).nack.length;
    assert.equal(asked, DEFAULT_REORDER.maxNacks);
  });

  test('across the 16-bit wrap', () => {
    const r = createRtpReorder();
    const out = [65533, 65534, 0, 65535, 1].flatMap((s) => r.push(pkt(s), 0));
    assert.deepEqual(seqs(out), [65533, 65534, 65535, 0, 1]);
  });

  test('duplicates are dropped; a restart of the sequence releases what waits and goes on', () => {
    const r = createRtpReorder();
    r.push(pkt(100), 0);
    assert.deepEqual(seqs(r.push(pkt(100), 0)), []);
    r.push(pkt(102), 0);
    assert.deepEqual(seqs(r.push(pkt(102), 0)), []);
    assert.equal(r.stats().dropped, 2);
    const out = r.push(pkt(20_000), 1);
    assert.deepEqual(seqs(out), [102, 20_000], 'a jump over the bound: the held packet, then the new one');
    assert.deepEqual(seqs(r.push(pkt(20_001), 2)), [20_001]);
    assert.deepEqual(r.tick(1000).nack, []);
    // Numbering restarted behind: after a run of such packets they are taken as the new numbering.
    const back: number[] = [];
    for (let s = 5; s < 5 + 100; s++) back.push(...seqs(r.push(pkt(s), 3)));
    assert.ok(back.length >= 30 && back[back.length - 1] === 104, `the restarted numbering goes on (${back.length} of 100)`);
    // A new SSRC starts its own numbering at once.
    const other = { ...pkt(9), ssrc: 8 };
    assert.deepEqual(seqs(r.push(other, 4)), [9]);
    assert.deepEqual(seqs(r.push({ ...pkt(10), ssrc: 8 }, 4)), [10]);
  });

  test('held packets are bounded: past maxHeld the oldest gap is given up', () => {
    const r = createRtpReorder({ ...DEFAULT_REORDER, maxHeld: 8 });
    r.push(pkt(0), 0);
    const out: number[] = [];
    for (let s = 2; s <= 10; s++) out.push(...seqs(r.push(pkt(s), 0)));
    assert.deepEqual(out, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(r.stats().lost, 1);
  });
});

describe('RTCP generic NACK', () => {
  test('packets within 16 of each other share an entry (PID + BLP); the message reads as one NACK', () => {
    const b = buildNack(1, 0xabcdef01, [100, 101, 103, 116, 117, 200]);
    assert.equal(b[0], 0x81);
    assert.equal(b[1], 205);
    assert.equal(b.readUInt16BE(2), 2 + 3, 'length in words minus one: header, two SSRCs, three entries');
    assert.equal(b.readUInt32BE(8), 0xabcdef01);
    assert.deepEqual([b.readUInt16BE(12), b.readUInt16BE(14)], [100, 0b1000000000000101]);
    assert.deepEqual([b.readUInt16BE(16), b.readUInt16BE(18)], [117, 0]);
    assert.deepEqual([b.readUInt16BE(20), b.readUInt16BE(22)], [200, 0]);
    assert.deepEqual(parseRtcpFeedback(b), { keyframe: false, nacks: 1, reports: 0 });
  });
});
