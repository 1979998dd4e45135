/** Catch-up storage, the pure parts: the segment object format, object keys (no path escapes), the settings, the archiver's windows. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { decodeSegmentObject, encodeSegmentObject, SegmentObjectError } from '../../../core/archive/segment-object';
import { contentPrefix, encodeContentSegment, formatArchRef, isSafeKey, parseArchRef, segmentObjectKey } from '../../../core/archive/object-keys';
import { archiveWindow, segmentEndMs } from '../../../core/archive/archiver';
import { archiveDirOf, ConfigError, loadConfig } from '../../../core/config/config';
import { archiverTuning } from '../../../beamline';
import type { PacketMeta } from '../../../core/model/media';

const meta = (pts: number, dts: number, size: number): PacketMeta => ({ type: 'packet', pts, dts, duration: 3600, stream_index: 0, flags: 0, size } as unknown as PacketMeta);

describe('segment object format', () => {
  const packets = [
    { member: 'packet_3600', meta: meta(3600, 0, 3), data: Buffer.from([1, 2, 3]) },
    { member: 'packet_10800', meta: meta(10800, 3600, 0), data: Buffer.alloc(0) },
    { member: 'packet_7200', meta: meta(7200, 7200, 5), data: Buffer.from('hello') },
  ];
  const input = { content: 'main.720p', stream: 0, segment: 42, startDts: 0, endDts: 10800, packets };

  it('round-trips header and payloads, and lays the file out as documented', () => {
    const enc = encodeSegmentObject(input);
    const n = enc.body.readUInt32BE(0);
    assert.equal(enc.payloadStart, 4 + n);
    const header = JSON.parse(enc.body.subarray(4, 4 + n).toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(header), ['version', 'content', 'stream', 'segment', 'startDts', 'endDts', 'packets']);
    assert.equal(enc.body.length, 4 + n + 8);
    const dec = decodeSegmentObject(enc.body);
    assert.deepEqual(dec.header, enc.header);
    assert.deepEqual(dec.header.packets.map((p) => [p.member, p.offset, p.size]), [['packet_3600', 0, 3], ['packet_10800', 3, 0], ['packet_7200', 3, 5]]);
    packets.forEach((p, i) => assert.deepEqual(dec.payload(i), p.data));
    assert.deepEqual(dec.header.packets[2]?.meta, packets[2]?.meta);
    // What a reader does with an `arch` reference: a range of the object.
    const p2 = dec.header.packets[2];
    assert.ok(p2);
    assert.equal(enc.body.subarray(enc.payloadStart + p2.offset, enc.payloadStart + p2.offset + p2.size).toString(), 'hello');
  });

  it('refuses truncated or foreign objects', () => {
    const enc = encodeSegmentObject(input).body;
    for (const bad of [Buffer.alloc(2), enc.subarray(0, 20), enc.subarray(0, enc.length - 1), Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{}')])]) {
      assert.throws(() => decodeSegmentObject(bad), SegmentObjectError);
    }
  });

  it('an empty segment is a header alone', () => {
    const dec = decodeSegmentObject(encodeSegmentObject({ ...input, packets: [] }).body);
    assert.deepEqual(dec.header.packets, []);
  });
});

describe('object keys', () => {
  it('one object per (content, stream, segment) under the content prefix', () => {
    assert.equal(segmentObjectKey('main', 0, 12), 'main/s0/12.seg');
    assert.equal(segmentObjectKey('main.720p', 1, 3), 'main.720p/s1/3.seg');
    assert.equal(contentPrefix('main'), 'main/');
  });

  it('percent-encodes every character unsafe in a path; valid names stay distinct', () => {
    const names = ["a:b", "a!b", "a$b", "a'b", 'a(b)', 'a*b', 'a;b', 'a=b', 'a+b,c@d', 'a~b', 'a-b_c.d', 'a..b', 'a%3Ab'.replace('%', '9')];
    const seen = new Set<string>();
    for (const n of names) {
      const seg = encodeContentSegment(n);
      assert.match(seg, /^(?:[A-Za-z0-9_.~=+,@-]|%[0-9A-F]{2})+$/, n);
      assert.ok(!seen.has(seg), n);
      seen.add(seg);
      assert.ok(isSafeKey(segmentObjectKey(n, 0, 1)), n);
    }
    assert.equal(encodeContentSegment('a:b'), 'a%3Ab');
    assert.equal(encodeContentSegment('x(1)*'), 'x%281%29%2A');
  });

  it('never builds a key that leaves the archive: invalid names, slashes, dots, negative numbers are refused', () => {
    for (const bad of ['', '..', '.', '../etc', 'a/b', '/abs', 'a\\b', '.hidden', 'a b', 'x'.repeat(201), 'a\0b', '%2e%2e']) {
      assert.throws(() => segmentObjectKey(bad, 0, 1), Error, JSON.stringify(bad));
    }
    assert.throws(() => segmentObjectKey('main', -1, 1));
    assert.throws(() => segmentObjectKey('main', 0, 1.5));
    for (const bad of ['../x', 'a/../b', '/a', 'a//b', './a', 'a/.', 'a\\b', 'a/b c', '']) assert.equal(isSafeKey(bad), false, bad);
    assert.equal(isSafeKey('main/', true), true);
    assert.equal(isSafeKey('main/', false), false);
  });

  it('arch references round-trip; malformed ones read as none', () => {
    const r = { object: 'main/s0/7.seg', offset: 1234, size: 99 };
    assert.equal(formatArchRef(r), 'main/s0/7.seg|1234|99');
    assert.deepEqual(parseArchRef(formatArchRef(r)), r);
    for (const bad of [null, '', 'x', 'main/s0/7.seg|1|', '../x|1|2', 'main/s0/7.seg|-1|2', 'a|1|2|3']) assert.equal(parseArchRef(bad), null, String(bad));
  });
});

describe('archive settings', () => {
  it('default: <data dir>/archive, hot window 120 s', () => {
    const c = loadConfig(null, {});
    assert.equal(c.archive.url, null);
    assert.equal(c.archive.hotWindowSeconds, 120);
    assert.equal(archiveDirOf(c), '.beamline/archive');
    assert.equal(archiveDirOf(loadConfig(null, { BEAM_DATA_DIR: '/var/lib/beam/' })), '/var/lib/beam/archive');
  });

  it('BEAM_ARCHIVE_URL file:// and BEAM_HOT_WINDOW_SECONDS', () => {
    const c = loadConfig(null, { BEAM_ARCHIVE_URL: 'file:///srv/beam%20archive', BEAM_HOT_WINDOW_SECONDS: '30' });
    assert.equal(archiveDirOf(c), '/srv/beam archive');
    assert.equal(c.archive.hotWindowSeconds, 30);
    assert.equal(archiveDirOf(loadConfig({ archive: { url: 'file://rel/dir' } }, {})), 'rel/dir');
    assert.deepEqual(archiverTuning(c), { hotWindowMs: 30000, intervalMs: 7500 });
    assert.deepEqual(archiverTuning(loadConfig(null, { BEAM_HOT_WINDOW_SECONDS: '10' })).intervalMs, 2500);
  });

  it('file:// and s3:// only, each well formed, is a clear error otherwise; the hot window has a minimum', () => {
    const rejects = (env: Record<string, string>, re: RegExp) => assert.throws(() => loadConfig(null, env), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message));
    assert.equal(loadConfig(null, { BEAM_ARCHIVE_URL: 's3://bucket/beam' }).archive.url, 's3://bucket/beam');
    rejects({ BEAM_ARCHIVE_URL: 's3://B/x' }, /archive\.url.*BEAM_ARCHIVE_URL.*s3:\/\/bucket/);
    rejects({ BEAM_ARCHIVE_URL: 'https://example.com/x' }, /archive\.url.*file:\/\/.*s3:\/\//);
    rejects({ BEAM_S3_ENDPOINT: 'minio:9000' }, /archive\.s3Endpoint/);
    rejects({ BEAM_ARCHIVE_URL: '/plain/path' }, /archive\.url.*file:\/\//);
    rejects({ BEAM_ARCHIVE_URL: 'file://' }, /archive\.url/);
    rejects({ BEAM_HOT_WINDOW_SECONDS: '9' }, /archive\.hotWindowSeconds.*from 10/);
    rejects({ BEAM_HOT_WINDOW_SECONDS: '12.5' }, /archive\.hotWindowSeconds/);
  });
});

describe('archiver windows', () => {
  const seg = { index: 5, startPts: 7200, startDts: 3600, durationPts: 180000, wallClockMs: 1_000_000, discontinuity: false };
  it('a segment ends at its wall clock plus its duration', () => assert.equal(segmentEndMs(seg), 1_002_000));
  it('source video by dts, audio and renditions by pts', () => {
    assert.deepEqual(archiveWindow(seg, true), [3600, 183600]);
    assert.deepEqual(archiveWindow(seg, false), [7200, 187200]);
  });
});
