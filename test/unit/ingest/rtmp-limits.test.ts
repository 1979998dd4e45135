// SPDX-License-Identifier: GPL-3.0-or-later
// Pure RTMP limit logic, and the chunk reader under the pre-auth and published limits (issue 10.4).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ChunkStreamError, createChunkReader } from '../../../ingest/rtmp/chunk-reader';
import { createChunkWriter } from '../../../ingest/rtmp/chunk-writer';
import { commandMessage, MSG } from '../../../ingest/rtmp/messages';
import {
  addressBucket, admitConnection, checkBytes, checkMessageStart, PRE_AUTH_LIMITS, publishedLimits,
  type MessageStartVerdict, type ReaderUsage,
} from '../../../ingest/rtmp/rtmp-limits';
import { resolveRtmpSettings } from '../../../ingest/rtmp/rtmp-server';
import { ConfigError, loadConfig } from '../../../core/config/config';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const idle: ReaderUsage = { partial: 0, buffered: 0, messages: 0, bytes: 0 };
const PUB = publishedLimits(8 * 1024 * 1024);

test('checkMessageStart: each limit, before and after publish', () => {
  const cases: { name: string; limits: typeof PUB; usage?: Partial<ReaderUsage>; msg: { typeId: number; length: number }; want: MessageStartVerdict | RegExp }[] = [
    { name: 'connect-sized command before publish', limits: PRE_AUTH_LIMITS, msg: { typeId: MSG.commandAmf0, length: 300 }, want: 'accept' },
    { name: 'issue 10.4: zero-length audio before publish (0xC3 flood)', limits: PRE_AUTH_LIMITS, msg: { typeId: MSG.audio, length: 0 }, want: /zero-length message \(type 8\)/ },
    { name: 'zero-length command before publish', limits: PRE_AUTH_LIMITS, msg: { typeId: MSG.commandAmf0, length: 0 }, want: /zero-length/ },
    { name: 'zero-length video after publish is dropped', limits: PUB, msg: { typeId: MSG.video, length: 0 }, want: 'drop' },
    { name: 'zero-length data after publish is refused', limits: PUB, msg: { typeId: MSG.dataAmf0, length: 0 }, want: /zero-length message \(type 18\)/ },
    { name: 'issue 10.4: 8 MiB partial before publish', limits: PRE_AUTH_LIMITS, msg: { typeId: MSG.video, length: 8 * 1024 * 1024 }, want: /exceeds the 65536-byte limit/ },
    { name: '8 MiB key frame after publish', limits: PUB, msg: { typeId: MSG.video, length: 8 * 1024 * 1024 }, want: 'accept' },
    { name: 'over 8 MiB after publish', limits: PUB, msg: { typeId: MSG.video, length: 8 * 1024 * 1024 + 1 }, want: /exceeds the 8388608-byte limit/ },
    { name: 'third partial message before publish', limits: PRE_AUTH_LIMITS, usage: { partial: 2, buffered: 200 }, msg: { typeId: MSG.video, length: 100 }, want: /more than 2 chunk streams with unfinished/ },
    { name: 'ninth partial message after publish', limits: PUB, usage: { partial: 8, buffered: 800 }, msg: { typeId: MSG.video, length: 100 }, want: /more than 8 chunk streams/ },
    { name: 'declared bytes of partials up to the cap', limits: PRE_AUTH_LIMITS, usage: { partial: 1, buffered: 32768 }, msg: { typeId: MSG.video, length: 32768 }, want: 'accept' },
    { name: 'declared bytes of partials one over the cap', limits: PRE_AUTH_LIMITS, usage: { partial: 1, buffered: 32769 }, msg: { typeId: MSG.video, length: 32768 }, want: /more than 65536 bytes of unfinished/ },
    { name: '65th message before publish', limits: PRE_AUTH_LIMITS, usage: { messages: 64 }, msg: { typeId: MSG.commandAmf0, length: 10 }, want: /more than 64 messages before publish/ },
    { name: 'millionth message after publish', limits: PUB, usage: { messages: 1e6 }, msg: { typeId: MSG.audio, length: 10 }, want: 'accept' },
  ];
  for (const c of cases) {
    const got = checkMessageStart(c.limits, { ...idle, ...c.usage }, c.msg);
    if (c.want instanceof RegExp) {
      assert.ok(typeof got === 'object' && c.want.test(got.violation), `${c.name}: ${JSON.stringify(got)}`);
    } else {
      assert.equal(got, c.want, c.name);
    }
  }
});

test('checkBytes and admitConnection', () => {
  assert.equal(checkBytes(PRE_AUTH_LIMITS, 256 * 1024), null);
  assert.match(checkBytes(PRE_AUTH_LIMITS, 256 * 1024 + 1) ?? '', /more than 262144 bytes before publish/);
  assert.equal(checkBytes(PUB, 1e12), null);
  const limits = { maxConnections: 10, maxConnectionsPerAddress: 3 };
  const cases: { name: string; total: number; fromBucket: number; want: RegExp | null }[] = [
    { name: 'first connection', total: 0, fromBucket: 0, want: null },
    { name: 'third from one address', total: 5, fromBucket: 2, want: null },
    { name: 'issue 10.4: fourth from one address', total: 5, fromBucket: 3, want: /from one address \(3\)/ },
    { name: 'global limit', total: 10, fromBucket: 0, want: /too many connections \(10\)/ },
  ];
  for (const c of cases) {
    const got = admitConnection(limits, { total: c.total, fromBucket: c.fromBucket });
    if (c.want === null) assert.equal(got, null, c.name);
    else assert.match(got ?? '', c.want, c.name);
  }
});

test('addressBucket: IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['?', '?'],
  ];
  for (const [input, want] of cases) assert.equal(addressBucket(input), want, input);
});

test('chunk reader under pre-auth limits: issue 10.4 floods stop at the first offending message', () => {
  const cases: { name: string; bytes: Buffer; match: RegExp; maxMessages: number }[] = [
    { name: 'zero-length message then 0xC3 bytes', bytes: Buffer.concat([hex('03 000000 000000 08 00000000'), Buffer.alloc(65536, 0xc3)]), match: /zero-length message/, maxMessages: 0 },
    { name: 'one-byte messages', bytes: Buffer.concat([hex('03 000000 000001 08 00000000 41'), Buffer.alloc(65536, 0).fill(hex('c3 41'))]), match: /more than 64 messages/, maxMessages: 64 },
    { name: 'two 8 MiB partials', bytes: Buffer.concat([hex('04 000000 7fffff 09 01000000'), Buffer.alloc(128)]), match: /exceeds the 65536-byte limit/, maxMessages: 0 },
  ];
  for (const c of cases) {
    const r = createChunkReader({ limits: PRE_AUTH_LIMITS });
    let seen = 0;
    assert.throws(() => {
      for (let at = 0; at < c.bytes.length; at += 1000) seen += r.push(c.bytes.subarray(at, at + 1000)).messages.length;
    }, (err: unknown) => err instanceof ChunkStreamError && c.match.test(err.message), c.name);
    assert.ok(seen <= c.maxMessages, `${c.name}: ${seen} messages handed out`);
  }
  const r = createChunkReader({ limits: PRE_AUTH_LIMITS });
  assert.equal(r.push(hex('02 000000 000004 03 00000000 00000000')).messages.length, 1);
  assert.throws(() => r.push(Buffer.alloc(256 * 1024)), /more than 262144 bytes before publish/);
});

test('chunk reader: yieldAfterCommands stops after each command, so limits switch exactly at publish', () => {
  const w = createChunkWriter({ chunkSize: 4096 });
  const bigVideo = Buffer.alloc(200 * 1024, 0x17);
  const bytes = Buffer.concat([
    createChunkWriter().write({ chunkStreamId: 2, timestamp: 0, typeId: MSG.setChunkSize, streamId: 0, payload: hex('00001000') }),
    w.write(commandMessage(0, 'connect', 1, { app: 'live' })),
    w.write(commandMessage(1, 'publish', 0, null, 'key', 'live')),
    w.write({ chunkStreamId: 6, timestamp: 0, typeId: MSG.video, streamId: 1, payload: bigVideo }),
  ]);
  const r = createChunkReader({ limits: PRE_AUTH_LIMITS, yieldAfterCommands: true });
  const first = r.push(bytes);
  assert.deepEqual(first.messages.map((m) => m.typeId), [MSG.setChunkSize, MSG.commandAmf0]);
  assert.equal(r.yielded, true);
  const second = r.push(Buffer.alloc(0));
  assert.deepEqual(second.messages.map((m) => m.typeId), [MSG.commandAmf0]);
  assert.equal(r.yielded, true);
  // Without the switch the 200 KiB video message is refused; after it (publish accepted) it passes.
  const strict = createChunkReader({ limits: PRE_AUTH_LIMITS, yieldAfterCommands: true });
  strict.push(bytes);
  strict.push(Buffer.alloc(0));
  assert.throws(() => strict.push(Buffer.alloc(0)), /exceeds the 65536-byte limit/);
  r.setLimits(PUB);
  const third = r.push(Buffer.alloc(0));
  assert.equal(r.yielded, false);
  assert.deepEqual(third.messages.map((m) => [m.typeId, m.payload.length]), [[MSG.video, bigVideo.length]]);
});

test('resolveRtmpSettings: limits and their defaults', () => {
  const d = resolveRtmpSettings({ host: '127.0.0.1', port: 0 });
  assert.equal(d.publishTimeoutMs, 10_000);
  assert.equal(d.maxConnections, 1000);
  assert.equal(d.maxConnectionsPerAddress, 8);
  assert.deepEqual(d.preAuth, PRE_AUTH_LIMITS);
  assert.deepEqual(d.published, PUB);
  const s = resolveRtmpSettings({ host: '127.0.0.1', port: 0, idleTimeoutMs: 3000, maxConnectionsPerAddress: 2, preAuth: { maxMessages: 16 } });
  assert.equal(s.publishTimeoutMs, 3000, 'defaults to the idle timeout');
  assert.equal(s.maxConnectionsPerAddress, 2);
  assert.equal(s.preAuth.maxMessages, 16);
  assert.throws(() => resolveRtmpSettings({ host: 'h', port: 0, maxConnectionsPerAddress: 0 }), /maxConnectionsPerAddress must be an integer in 1\.\./);
  assert.throws(() => resolveRtmpSettings({ host: 'h', port: 0, publishTimeoutMs: 5 }), /publishTimeoutMs/);
});

test('BEAM_RTMP_* limit settings: defaults, environment, validation naming the variable', () => {
  const d = loadConfig(null, {});
  assert.deepEqual(d.rtmp, { host: '0.0.0.0', port: 1935, maxConnections: 1000, maxConnectionsPerAddress: 8, publishTimeout: 10000, maxMessageBytes: 8388608 });
  const c = loadConfig(null, { BEAM_RTMP_MAX_CONNECTIONS: '50', BEAM_RTMP_MAX_CONNECTIONS_PER_ADDRESS: '2', BEAM_RTMP_PUBLISH_TIMEOUT: '5000', BEAM_RTMP_MAX_MESSAGE_BYTES: '16777215' });
  assert.deepEqual([c.rtmp.maxConnections, c.rtmp.maxConnectionsPerAddress, c.rtmp.publishTimeout, c.rtmp.maxMessageBytes], [50, 2, 5000, 16777215]);
  const bad: [string, string][] = [
    ['BEAM_RTMP_MAX_CONNECTIONS_PER_ADDRESS', '0'],
    ['BEAM_RTMP_PUBLISH_TIMEOUT', '10'],
    ['BEAM_RTMP_MAX_MESSAGE_BYTES', '16777216'],
    ['BEAM_RTMP_MAX_CONNECTIONS', 'many'],
  ];
  for (const [name, value] of bad) {
    assert.throws(() => loadConfig(null, { [name]: value }), (e: unknown) => e instanceof ConfigError && e.message.includes(name), name);
  }
});
