// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { parseRtmpStreamName, parseStreamId, MAX_STREAM_ID_LENGTH, type ParsedStreamId } from '../../../ingest/streamid';

interface OkCase {
  name: string;
  raw: string;
  want: ParsedStreamId;
}
interface FailCase {
  name: string;
  raw: string;
  reason: RegExp;
}

const accepted: OkCase[] = [
  { name: 'a backup input (role=backup)', raw: '#!::r=news,m=publish,s=sk_1,role=backup', want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1', role: 'backup' } },
  { name: 'an explicit primary (role=primary)', raw: '#!::s=sk_1,role=primary', want: { ok: true, mode: 'publish', key: 'sk_1', role: 'primary' } },
  { name: 'a percent-encoded backup streamid', raw: encodeURIComponent('#!::r=news,s=sk_1,role=backup'), want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1', role: 'backup' } },
  { name: "a reader's role= is ignored", raw: '#!::r=news,m=request,role=x', want: { ok: true, mode: 'request', key: 'news' } },
  { name: 'bare key as OBS sends it from the Stream Key field', raw: 'sk_abc123', want: { ok: true, mode: 'publish', key: 'sk_abc123' } },
  { name: 'bare key with surrounding whitespace is trimmed (pasted keys)', raw: '  sk_abc \n', want: { ok: true, mode: 'publish', key: 'sk_abc' } },
  { name: 'bare key containing a colon is not mistaken for publish:', raw: 'live:abc', want: { ok: true, mode: 'publish', key: 'live:abc' } },
  {
    name: 'access control with r, m=publish and s',
    raw: '#!::r=news,m=publish,s=sk_1',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' },
  },
  { name: 'access control: m defaults to publish', raw: '#!::r=news,s=sk_1', want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' } },
  { name: 'access control: u= carries the key', raw: '#!::r=news,u=sk_1', want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' } },
  {
    name: 'access control: secret= carries the key',
    raw: '#!::r=news,secret=sk_1',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' },
  },
  {
    name: 'access control: s= wins over u= (u is a user name in the SRT spec)',
    raw: '#!::u=alice,r=news,s=sk_1',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' },
  },
  { name: 'access control: r=<key> alone means the resource is the key', raw: '#!::r=sk_1', want: { ok: true, mode: 'publish', key: 'sk_1' } },
  { name: 'access control: key without r has no channel', raw: '#!::s=sk_1', want: { ok: true, mode: 'publish', key: 'sk_1' } },
  {
    name: 'access control: unknown keys (h, t, custom) are ignored',
    raw: '#!::h=edge.example,t=stream,x-custom=1,r=news,s=sk_1',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' },
  },
  {
    name: 'access control: spaces around items are tolerated',
    raw: '#!:: r=news , m=publish , s=sk_1 ',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' },
  },
  {
    name: 'access control: m=request with s= parses as a reader of channel r= giving a playback token',
    raw: '#!::r=news,m=request,s=sk_1',
    want: { ok: true, mode: 'request', channel: 'news', key: 'sk_1' },
  },
  {
    name: 'access control: m=request with r= alone: the channel is the key field, t= the rung',
    raw: '#!::r=news,m=request,t=360p',
    want: { ok: true, mode: 'request', key: 'news', rung: '360p' },
  },
  {
    name: 'access control: a value may contain "=" (base64 keys)',
    raw: '#!::r=news,s=abc==',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'abc==' },
  },
  { name: 'publish:<channel>:<key>', raw: 'publish:news:sk_1', want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' } },
  {
    name: 'percent-encoded access control from a fully URL-encoded SRT URL is decoded once',
    raw: '%23%21%3A%3Ar%3Dnews%2Cm%3Dpublish%2Cs%3Dsk_1',
    want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' },
  },
  { name: 'percent-encoded publish: form is decoded', raw: 'publish%3Anews%3Ask_1', want: { ok: true, mode: 'publish', channel: 'news', key: 'sk_1' } },
  {
    name: 'broken percent-encoding is left as typed (a key that then matches nothing)',
    raw: '%23%21%3A%3Ar%3D%ZZ',
    want: { ok: true, mode: 'publish', key: '%23%21%3A%3Ar%3D%ZZ' },
  },
  { name: 'a bare key containing "%" is left as typed', raw: 'sk%41b', want: { ok: true, mode: 'publish', key: 'sk%41b' } },
  { name: 'exactly the maximum length is accepted', raw: 'k'.repeat(MAX_STREAM_ID_LENGTH), want: { ok: true, mode: 'publish', key: 'k'.repeat(MAX_STREAM_ID_LENGTH) } },
];

const refused: FailCase[] = [
  { name: 'empty stream id (OBS with no key typed)', raw: '', reason: /empty/ },
  { name: 'whitespace-only stream id', raw: '   \t ', reason: /empty/ },
  { name: 'longer than the SRT streamid cap', raw: 'k'.repeat(MAX_STREAM_ID_LENGTH + 1), reason: /too long/ },
  { name: 'NUL byte inside the key', raw: 'sk\u0000abc', reason: /control characters/ },
  { name: 'escape sequence inside the key', raw: 'sk\u001b[31mabc', reason: /control characters/ },
  { name: 'DEL character', raw: 'sk\u007f', reason: /control characters/ },
  { name: 'bare key with inner whitespace', raw: 'sk abc', reason: /whitespace/ },
  { name: 'access control with nothing after the prefix', raw: '#!::', reason: /list is empty/ },
  { name: 'access control item without "="', raw: '#!::r=news,publish,s=k', reason: /item 2 "publish" is not of the form key=value/ },
  { name: 'access control with a stray comma', raw: '#!::r=news,,s=k', reason: /empty item at position 2/ },
  { name: 'access control with a trailing comma', raw: '#!::r=news,s=k,', reason: /empty item at position 3/ },
  { name: 'access control item with no key before "="', raw: '#!::=k', reason: /no key before/ },
  { name: 'access control giving a key twice', raw: '#!::s=a,s=b', reason: /more than once/ },
  { name: 'access control with an empty s=', raw: '#!::r=news,s=', reason: /stream key \(s=\) is empty/ },
  { name: 'access control with empty r= and no key field', raw: '#!::r=', reason: /stream key \(r=\) is empty/ },
  { name: 'access control with an empty channel next to a key', raw: '#!::r=,s=k', reason: /channel name \(r=\) is empty/ },
  { name: 'access control with no key at all', raw: '#!::m=publish,h=x', reason: /carries no stream key/ },
  { name: 'access control with an unsupported mode', raw: '#!::r=news,m=bidirectional,s=k', reason: /unsupported mode/ },
  { name: 'percent-encoded control characters are still refused', raw: '%23%21%3A%3As%3Dk%00', reason: /control characters/ },
  { name: 'single-colon "#!:" nested syntax', raw: '#!:{r=news}', reason: /two colons/ },
  { name: 'publish: with the key missing', raw: 'publish:news', reason: /exactly <channel>:<key>/ },
  { name: 'publish: with too many parts', raw: 'publish:news:k:extra', reason: /exactly <channel>:<key>/ },
  { name: 'publish: with an empty channel', raw: 'publish::k', reason: /channel name .* is empty/ },
  { name: 'publish: with an empty key', raw: 'publish:news:', reason: /stream key .* is empty/ },
  { name: 'a reader with an empty rung', raw: '#!::r=news,m=request,t=', reason: /rung name \(t=\) is empty/ },
  { name: 'a reader with whitespace in the rung', raw: '#!::r=news,m=request,t=a b', reason: /rung name \(t=\) contains whitespace/ },
  // A mistyped role must not make a backup encoder a primary (it would take the channel over).
  { name: 'an unknown role', raw: '#!::r=news,s=k,role=bakup', reason: /unsupported role="bakup"/ },
  { name: 'an empty role', raw: '#!::s=k,role=', reason: /unsupported role/ },
  { name: 'a role given twice', raw: '#!::s=k,role=backup,role=primary', reason: /more than once/ },
];

describe('parseStreamId', () => {
  for (const c of accepted) {
    it(`accepts: ${c.name}`, () => {
      assert.deepEqual(parseStreamId(c.raw), c.want);
    });
  }
  for (const c of refused) {
    it(`refuses: ${c.name}`, () => {
      const got = parseStreamId(c.raw);
      assert.equal(got.ok, false, `expected a refusal, got ${JSON.stringify(got)}`);
      if (!got.ok) assert.match(got.reason, c.reason);
    });
  }
  it('never throws on non-string input from untyped callers', () => {
    const got = parseStreamId(undefined as unknown as string);
    assert.equal(got.ok, false);
  });
  it('quotes long fragments in reasons without echoing the whole input', () => {
    const got = parseStreamId(`#!::${'x'.repeat(300)}`);
    assert.equal(got.ok, false);
    if (!got.ok) assert.ok(got.reason.length < 200, got.reason);
  });
});

describe('parseRtmpStreamName', () => {
  it('a bare stream key is the primary', () => {
    assert.deepEqual(parseRtmpStreamName('sk_1'), { ok: true, key: 'sk_1', role: 'primary' });
  });
  it('?role=backup makes a backup; other parameters are ignored', () => {
    assert.deepEqual(parseRtmpStreamName('sk_1?role=backup'), { ok: true, key: 'sk_1', role: 'backup' });
    assert.deepEqual(parseRtmpStreamName('sk_1?foo=1&role=backup&bar'), { ok: true, key: 'sk_1', role: 'backup' });
    assert.deepEqual(parseRtmpStreamName('sk_1?role=primary'), { ok: true, key: 'sk_1', role: 'primary' });
    assert.deepEqual(parseRtmpStreamName('sk_1?x=y'), { ok: true, key: 'sk_1', role: 'primary' });
  });
  it('an unknown role is refused, not taken for a primary', () => {
    for (const name of ['sk_1?role=bakup', 'sk_1?role', 'sk_1?role=']) {
      const got = parseRtmpStreamName(name);
      assert.equal(got.ok, false, name);
      if (!got.ok) assert.match(got.reason, /unsupported role/);
    }
  });
});
