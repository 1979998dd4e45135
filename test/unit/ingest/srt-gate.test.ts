// The SRT gate parses streamids in C++ (ingest/srt/native/src/streamid.cc) so libsrt's listen callback
// decides without JS. Its parser must agree with ingest/streamid.ts: one table, and seeded random input
// built from the grammar's own characters, fed to both.
// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { loadSrtBinding, type NativeParsedStreamId } from '../../../ingest/srt/native-binding';
import { parseStreamId } from '../../../ingest/streamid';

const binding = loadSrtBinding();

function viaTs(raw: string): NativeParsedStreamId {
  const p = parseStreamId(raw);
  if (!p.ok) return { ok: false };
  const base = p.channel === undefined ? { ok: true as const, mode: p.mode, key: p.key } : { ok: true as const, mode: p.mode, channel: p.channel, key: p.key };
  return p.rung === undefined ? base : { ...base, rung: p.rung };
}

const table: string[] = [
  'sk_abc123', '  sk_abc \n', 'live:abc', 'a', '', ' ', '\t', 'a b', 'a\u00a0b', '\u00a0key\u3000', 'k\u2028', 'k\ufeff',
  '#!::r=news,m=publish,s=sk_1', '#!::r=news,s=sk_1', '#!::r=news,u=sk_1', '#!::r=news,secret=sk_1', '#!::u=alice,r=news,s=sk_1',
  '#!::r=sk_1', '#!::s=sk_1', '#!::r=news,m=request,s=sk_1', '#!::m=request,r=k', '#!::m=play,s=k', '#!::m=,s=k',
  '#!::', '#!:: ', '#!::,', '#!::s=k,', '#!::,s=k', '#!::s', '#!::=k', '#!:: = k', '#!::s=k,s=j', '#!::s=', '#!::s= ', '#!::r=',
  '#!::r= a b', '#!::s=a b', '#!:: s = k , r = news ', '#!::x=1,s=k', '#!::x=1', '#!::m=publish', '#!::r=a,u=', '#!::s==k', '#!::s=k=v',
  '#!:r=a', '#!:', '#!', '#!:::s=k', '#!::s=k\u0001', 'k\u0000', 'k\u007f', 'k\u0085', 'k\u009f', 'k\u00a0', 'k\u00a1',
  'publish:news:sk_1', 'publish:news', 'publish:', 'publish::k', 'publish:news:', 'publish:a:b:c', 'publish:a b:k', 'publish:a:k k',
  'Publish:a:b', 'PUBLISH:a:b', ' publish:a:b ', 'publish:a:\u00a0',
  '%23%21%3A%3Ar%3Dnews%2Cs%3Dsk_1', '%23%21%3a%3as%3dk', '%23%21%3A%3A', '%23%ZZ', '%23%E2%82', '%23%C2%A0', '%23%21%3A%3As%3D%20k%20',
  'publish%3Anews%3Ask_1', 'PUBLISH%3anews%3ak', 'publish%3A%E2', 'publish%3Aa%3Ab%3Ac', '%2523', 'k%23', '%4b', '%',
  '%23%00', '%23%01abc', 'publish%3Aa%3A%C2%85', 'x'.repeat(512), 'x'.repeat(513), ' '.repeat(600) + 'k', '\u00e9'.repeat(300),
  '\u00e9'.repeat(513), '\u{1F600}'.repeat(256), '\u{1F600}'.repeat(257), 'clé', '#!::r=chaîne,s=clé',
  '#!::r=news,m=request,t=360p', '#!::r=news,m=request,t=', '#!::r=news,m=request,t=a b', '#!::r=news,m=request,t=720p,s=tok',
  '#!::s=k,t=360p', '#!::t=360p', '#!::r=news,t=x,t=y,m=request',
  '#!::r=news,m=publish,s=k,role=backup', '#!::s=k,role=primary', '#!::s=k,role=bogus', '#!::s=k,role=', '#!::s=k,role=backup,role=primary',
  '#!::r=news,m=request,role=bogus', '#!::s=k,role= backup ', '#!::s=k,role=Backup',
];

describe('SRT gate streamid parser (C++) agrees with parseStreamId', () => {
  for (const raw of table) {
    it(JSON.stringify(raw.length > 60 ? `${raw.slice(0, 30)}…(${raw.length})` : raw), () => {
      assert.deepEqual(binding.parseStreamId(raw), viaTs(raw));
    });
  }

  it('agrees on 20,000 seeded random streamids built from the grammar\'s characters', () => {
    const pieces = ['#!::', '#!:', 'publish:', 'publish%3A', '%23%21%3A%3A', 'r', 's', 'u', 'm', 'secret', '=', ',', ':', ' ', '\t',
      'publish', 'request', 'k', 'news', 't', 't=360p,', '%', '%2C', '%3D', '%E2', '\u00a0', '\u0085', '\u0001', '\u2003', 'é', '#', '!', 'role=backup,', 'role=x,', ',role='];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const mismatches: string[] = [];
    for (let i = 0; i < 20000; i++) {
      let raw = '';
      const n = 1 + rand(10);
      for (let j = 0; j < n; j++) raw += pieces[rand(pieces.length)];
      if (JSON.stringify(binding.parseStreamId(raw)) !== JSON.stringify(viaTs(raw))) mismatches.push(raw);
    }
    assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} mismatches`);
  });
});
