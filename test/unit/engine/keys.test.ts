/**
 * The key schema keeps kinds apart: no content name (issue 10: a content item named `channels` shared the
 * channel registry's keys, so `DELETE /beams/channels` emptied the registry) produces a key of another
 * kind, or of another content item. Table-driven over every key kind and hostile names.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createKeys, hashTag } from '../../../core/store/keys';

const k = createKeys('beam');

/** Names to try as content (and channel) names: the registry's tag, braces, colons, look-alikes of suffixes. */
const NAMES = [
  'channels', 'main', 'a', 'a.720p', 'chan', 'reg', 'jobs', 'jobres', 'contents', 'auth',
  'channels}:names', '{channels}', 'a}:s0:index', 'a}:format', 'a:s0', 'x:events', 'a{b', 'a}b', '}', '{', ':', '::',
  'reg:{channels}:names', 'a%7Db', '%', 'x}:jit:1', 'channels}:keys', 'a}:gaps:r',
];

type Kind = { kind: string; owner: 'content' | 'channel' | 'global'; keys: (name: string) => string[] };

const CONTENT_KINDS: Kind[] = [
  { kind: 'format', owner: 'content', keys: (n) => [k.format(n)] },
  { kind: 'index', owner: 'content', keys: (n) => [0, 1, 12].map((s) => k.index(n, s)) },
  { kind: 'expiry', owner: 'content', keys: (n) => [0, 1, 12].map((s) => k.expiry(n, s)) },
  { kind: 'element', owner: 'content', keys: (n) => [k.element(n, 0, 'packet_0'), k.element(n, 1, 'frame_90000')] },
  { kind: 'data', owner: 'content', keys: (n) => [k.data(n, 0, 'packet_0'), k.data(n, 1, 'frame_90000')] },
  { kind: 'renditionOf', owner: 'content', keys: (n) => [k.renditionOf(n)] },
  { kind: 'renditions', owner: 'content', keys: (n) => [k.renditions(n)] },
  { kind: 'events', owner: 'content', keys: (n) => [k.events(n)] },
  { kind: 'segments', owner: 'content', keys: (n) => [k.segments(n)] },
  { kind: 'segtime', owner: 'content', keys: (n) => [k.segtime(n)] },
  { kind: 'parts', owner: 'content', keys: (n) => [k.parts(n)] },
  { kind: 'timeline', owner: 'content', keys: (n) => [k.timeline(n)] },
  { kind: 'gaps', owner: 'content', keys: (n) => [k.gaps(n, '720p'), k.gaps(n, 'low')] },
  { kind: 'made', owner: 'content', keys: (n) => [k.made(n, '720p'), k.made(n, 'low')] },
  { kind: 'jit', owner: 'content', keys: (n) => [k.jit(n, 'abc123')] },
  { kind: 'archived', owner: 'content', keys: (n) => [k.archived(n)] },
  { kind: 'archiveLock', owner: 'content', keys: (n) => [k.archiveLock(n)] },
  { kind: 'archiveGaps', owner: 'content', keys: (n) => [k.archiveGaps(n)] },
  { kind: 'cold', owner: 'content', keys: (n) => [0, 1, 12].map((s) => k.cold(n, s)) },
  { kind: 'coldRank', owner: 'content', keys: (n) => [0, 1, 12].map((s) => k.coldRank(n, s)) },
];
const CHANNEL_KINDS: Kind[] = [
  { kind: 'channel settings', owner: 'channel', keys: (n) => [k.channel(n)] },
  { kind: 'channel status', owner: 'channel', keys: (n) => [k.status(n)] },
];
const GLOBAL_KINDS: Kind[] = [
  { kind: 'contents', owner: 'global', keys: () => [k.contents] },
  { kind: 'registry names', owner: 'global', keys: () => [k.channels] },
  { kind: 'registry keys', owner: 'global', keys: () => [k.channelKeys] },
  { kind: 'registry changes', owner: 'global', keys: () => [k.channelsChanged] },
  { kind: 'api token', owner: 'global', keys: () => [k.apiToken] },
  { kind: 'legacy registry', owner: 'global', keys: () => [k.legacyChannels, k.legacyChannelKeys] },
  { kind: 'job queues', owner: 'global', keys: () => [`${k.jobQueuePrefix}:media_workers:1`, `${k.jobQueuePrefix}:media_workers:wait`] },
  { kind: 'job results', owner: 'global', keys: () => [k.jobResult('0b6f3c1e-5d2a-4f7e-9c1b-2a3d4e5f6a7b')] },
];

/** Who a key belongs to: kind and name. Two different owners must never produce the same key. */
function ownersOf(): Map<string, string> {
  const owners = new Map<string, string>();
  const add = (key: string, owner: string) => {
    const had = owners.get(key);
    assert.ok(had === undefined || had === owner, `key ${key} is produced by both ${had} and ${owner}`);
    owners.set(key, owner);
  };
  for (const kind of GLOBAL_KINDS) for (const key of kind.keys('')) add(key, kind.kind);
  for (const name of NAMES) {
    for (const kind of [...CONTENT_KINDS, ...CHANNEL_KINDS]) for (const key of kind.keys(name)) add(key, `${kind.kind} of ${JSON.stringify(name)}`);
  }
  return owners;
}

/** The Redis Cluster hash tag of a key: what lies between the first `{` and the next `}`, if not empty. */
function clusterTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('key schema: kinds never meet', () => {
  it('every (kind, name) pair produces its own keys', () => {
    const owners = ownersOf();
    assert.ok(owners.size > NAMES.length * CONTENT_KINDS.length, 'the table covers every kind');
  });

  for (const name of NAMES) {
    it(`content ${JSON.stringify(name)} reaches no registry, job, token or channel key`, () => {
      const others = new Set([...GLOBAL_KINDS, ...CHANNEL_KINDS].flatMap((kind) => NAMES.concat('').flatMap((n) => kind.keys(n))));
      for (const kind of CONTENT_KINDS) {
        for (const key of kind.keys(name)) {
          assert.ok(!others.has(key), `${kind.kind} of ${name}: ${key}`);
          assert.ok(key.startsWith('beam:{'), `content keys live in the content space: ${key}`);
        }
      }
    });

    it(`content ${JSON.stringify(name)} keeps all its keys in its own slot`, () => {
      for (const kind of CONTENT_KINDS) for (const key of kind.keys(name)) assert.equal(clusterTag(key), hashTag(name), key);
    });
  }

  it('registry keys are outside the content space (issue 10: content `channels` deleted the registry)', () => {
    for (const key of [k.channels, k.channelKeys, k.channelsChanged, k.apiToken]) assert.match(key, /^beam:reg:/);
    assert.equal(k.channels, 'beam:reg:{channels}:names');
    assert.equal(clusterTag(k.channels), clusterTag(k.channelKeys), 'names and keys share a slot');
    assert.equal(k.legacyChannels, 'beam:{channels}:names', 'the old name, for the start-up migration');
  });

  it('percent-encodes braces and % inside the hash tag, identity for valid names', () => {
    assert.equal(hashTag('main.720p'), 'main.720p');
    assert.equal(hashTag('a}b{c%'), 'a%7Db%7Bc%25');
    assert.equal(k.format('channels}:names'), 'beam:{channels%7D:names}:format');
  });
});
