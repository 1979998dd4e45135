// SPDX-License-Identifier: GPL-3.0-or-later
// The pure pieces of an RTMP connection: message routing, command parsing and replies, the idle verdict.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { decodeAmf0, encodeAmf0 } from '../../../ingest/rtmp/amf0';
import { commandMessage, MSG, USER_CONTROL, userControlMessage, type RtmpMessage } from '../../../ingest/rtmp/messages';
import { routeMessage } from '../../../ingest/rtmp/rtmp-routing';
import { connectReplies, normalizeApp, parseCommand, publishQuery } from '../../../ingest/rtmp/rtmp-commands';
import { decideRtmp } from '../../../ingest/ingest-service';
import type { Channel } from '../../../core/model/channel';
import { idleVerdict } from '../../../ingest/rtmp/rtmp-limits';

const msg = (typeId: number, streamId: number, payload: Buffer): RtmpMessage => ({ chunkStreamId: 4, timestamp: 40, typeId, streamId, payload });

describe('routeMessage', () => {
  const body = Buffer.from([0x17, 1, 2, 3]);
  it('media on the publish stream goes to the session, elsewhere nowhere', () => {
    assert.deepEqual(routeMessage(msg(MSG.video, 1, body), 1), { kind: 'media', typeId: MSG.video, timestamp: 40, payload: body });
    assert.deepEqual(routeMessage(msg(MSG.audio, 2, body), 1), { kind: 'none' });
    assert.deepEqual(routeMessage(msg(MSG.video, 1, body), null), { kind: 'none' }, 'before a publish');
  });
  it('AMF3 data and commands lose their marker byte', () => {
    const r = routeMessage(msg(MSG.dataAmf3, 1, Buffer.from([0, 9, 9])), 1);
    assert.deepEqual(r, { kind: 'media', typeId: MSG.dataAmf0, timestamp: 40, payload: Buffer.from([9, 9]) });
    assert.deepEqual(routeMessage(msg(MSG.dataAmf3, 1, Buffer.from([0])), 1), { kind: 'none' });
    assert.deepEqual(routeMessage(msg(MSG.commandAmf3, 0, Buffer.from([0, 5])), null), { kind: 'command', body: Buffer.from([5]) });
    assert.deepEqual(routeMessage(msg(MSG.commandAmf0, 0, Buffer.from([5])), null), { kind: 'command', body: Buffer.from([5]) });
  });
  it('a ping request is answered, other user control and protocol messages need nothing', () => {
    assert.deepEqual(routeMessage(userControlMessage(USER_CONTROL.pingRequest, 1234), null), { kind: 'pong', value: 1234 });
    assert.deepEqual(routeMessage(userControlMessage(USER_CONTROL.streamBegin, 1), null), { kind: 'none' });
    assert.deepEqual(routeMessage(msg(MSG.acknowledgement, 0, Buffer.alloc(4)), null), { kind: 'none' });
  });
});

describe('commands', () => {
  const settings = { app: 'live', windowAckSize: 2_500_000, outChunkSize: 4096 };
  it('parseCommand names the command and its transaction', () => {
    const c = parseCommand(encodeAmf0('publish', 5, null, 'key', 'live'));
    assert.equal(c.name, 'publish');
    assert.equal(c.txn, 5);
    assert.equal(c.values[3], 'key');
    assert.equal(parseCommand(encodeAmf0('FCPublish')).txn, 0);
    assert.throws(() => parseCommand(encodeAmf0(3, 1)), /without a command name/);
  });
  it('connect to the configured app: window, bandwidth, chunk size, then the result', () => {
    const out = connectReplies(settings, 1, { app: '/live/?x=1' });
    assert.ok(out.ok);
    assert.equal(out.app, 'live');
    assert.deepEqual(out.setup.map((m) => m.typeId), [MSG.windowAckSize, MSG.setPeerBandwidth, MSG.setChunkSize]);
    assert.equal(out.chunkSize, 4096);
    const values = decodeAmf0(out.result.payload);
    assert.equal(values[0], '_result');
    assert.equal((values[3] as { code: string }).code, 'NetConnection.Connect.Success');
  });
  it('connect to another app is rejected, the log text clipped', () => {
    const out = connectReplies(settings, 1, { app: 'x'.repeat(100) });
    assert.ok(!out.ok);
    assert.equal(decodeAmf0(out.reply.payload)[0], '_error');
    assert.match(out.detail, /^rtmp connect rejected: application 'x{64}…' \(expected 'live'\)$/);
    assert.ok(!connectReplies(settings, 1, null).ok, 'no command object');
    assert.equal(normalizeApp('/live/'), 'live');
    assert.deepEqual(commandMessage(0, 'x').typeId, MSG.commandAmf0);
  });
});

describe('publish parameters (a redundant input\'s role)', () => {
  it('come from the publish name\'s query (OBS, Larix), else the connect app\'s (ffmpeg moves a URL\'s query there)', () => {
    assert.equal(publishQuery('KEY?role=backup', 'live'), 'role=backup');
    assert.equal(publishQuery('KEY', 'live?role=backup'), 'role=backup');
    assert.equal(publishQuery('KEY?role=primary', 'live?role=backup'), 'role=primary', 'the publish name wins');
    assert.equal(publishQuery('KEY', 'live'), '');
    const out = connectReplies({ app: 'live', windowAckSize: 1, outChunkSize: 4096 }, 1, { app: 'live?role=backup' });
    assert.ok(out.ok);
    assert.equal(out.rawApp, 'live?role=backup');
  });
  it('decideRtmp: the role from the parameters; an unknown role is refused', () => {
    const byKey = new Map([['KEY', { name: 'main', streamKey: 'KEY' } as Channel]]);
    assert.deepEqual(decideRtmp('live', 'KEY', byKey), { ok: true, channel: 'main', role: 'primary' });
    assert.deepEqual(decideRtmp('live', 'KEY', byKey, 'role=backup'), { ok: true, channel: 'main', role: 'backup' });
    assert.deepEqual(decideRtmp('live', 'KEY', byKey, 'x=1&role=backup'), { ok: true, channel: 'main', role: 'backup' });
    const bad = decideRtmp('live', 'KEY', byKey, 'role=bakup');
    assert.equal(bad.ok, false);
    assert.deepEqual(decideRtmp('live', 'OTHER', byKey, 'role=backup'), { ok: false, reason: 'unknown stream key' });
  });
});

describe('idleVerdict', () => {
  const limits = { idleTimeoutMs: 1000, publishTimeoutMs: 5000 };
  it('before a publish: the publish deadline', () => {
    assert.deepEqual(idleVerdict(limits, { media: null, publishBy: 5000 }, 4000), { waitMs: 1000 });
    assert.deepEqual(idleVerdict(limits, { media: null, publishBy: 5000 }, 5000), { expired: 'no publish within 5000 ms' });
  });
  it('publishing: idle after the last media (or the start), checked at least every 10 ms', () => {
    assert.deepEqual(idleVerdict(limits, { media: { startedAt: 0, lastMediaAt: null }, publishBy: 0 }, 500), { waitMs: 500 });
    assert.deepEqual(idleVerdict(limits, { media: { startedAt: 0, lastMediaAt: 2000 }, publishBy: 0 }, 2995), { waitMs: 10 });
    assert.deepEqual(idleVerdict(limits, { media: { startedAt: 0, lastMediaAt: 2000 }, publishBy: 0 }, 3000), { expired: 'no media for 1000 ms' });
  });
});
