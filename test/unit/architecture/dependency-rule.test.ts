/**
 * The dependency rule of docs/architecture.md, checked on the code's own imports:
 * - core/ (model, config, store) is the ground floor: it imports no role;
 * - each role (engine, ingest, transcoders, packager, webrtc) imports only core/ and itself;
 * - named exceptions: transcoders/jit → engine/jobs (the just-in-time images and clips are job functions);
 * - only the composition root (beamline.ts) and the library face (index.ts) import several roles;
 * - raw Redis stays in core/store: no `.redis.` (or `.redis)`) anywhere else in a product folder.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths';

const ROLES = ['engine', 'ingest', 'transcoders', 'packager', 'webrtc'] as const;
const FLOORS = ['core', ...ROLES] as const;
type Folder = (typeof FLOORS)[number];

/** Allowed imports across folders besides core/: [importing path prefix, imported path prefix, why]. */
const EXCEPTIONS: [string, string, string][] = [
  ['transcoders/jit/', 'engine/jobs/', 'frame images and clips are job functions run by the engine\'s job worker'],
];

function sources(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'build' ? [] : sources(rel);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Pure: the relative module specifiers a TypeScript source imports (static, dynamic and require). */
export function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] as string);
}

/** Files outside core/store handed a narrow Redis connection explicitly by the composition root: [path, why]. */
const RAW_REDIS_EXCEPTIONS: [string, string][] = [
  ['core/config/api-token.ts', 'the shared API token is settled (get / SET NX) before any store exists'],
  ['engine/jobs/dispatcher.ts', 'BullMQ queue events and job result bodies, on a connection the composition root hands in'],
];

const files = FLOORS.flatMap((f) => sources(f));
const edges = files.flatMap((file) =>
  importsOf(readFileSync(join(REPO_ROOT, file), 'utf8')).map((spec) => ({
    file: file.split(sep).join('/'),
    target: relative('.', normalize(join(dirname(file), spec))).split(sep).join('/'),
  })),
);
const folderOf = (p: string): string => p.split('/')[0] as string;

describe('dependency rule (docs/architecture.md)', () => {
  it('reads imports of every product folder', () => {
    for (const f of FLOORS) assert.ok(files.some((x) => folderOf(x) === f), `no sources found in ${f}/`);
    assert.ok(edges.length > 100, `only ${edges.length} imports found`);
    assert.deepEqual(importsOf(`import a from './x';\nimport type { B } from "../core/model/b";\nconst c = require('./c');\nawait import('../d');`), ['./x', '../core/model/b', './c', '../d']);
  });

  it('core imports no role', () => {
    const bad = edges.filter((e) => folderOf(e.file) === 'core' && folderOf(e.target) !== 'core');
    assert.deepEqual(bad, [], 'core/ must stay the ground floor');
  });

  it('each role imports only core and itself, besides the named exceptions', () => {
    const bad = edges.filter((e) => {
      const from = folderOf(e.file) as Folder;
      const to = folderOf(e.target);
      if (from === 'core' || to === 'core' || to === from) return false;
      return !EXCEPTIONS.some(([a, b]) => e.file.startsWith(a) && e.target.startsWith(b));
    });
    assert.deepEqual(bad, [], `a role reached into another: ${bad.map((e) => `${e.file} → ${e.target}`).join(', ')}`);
  });

  it('every named exception is still used (a stale exception hides nothing)', () => {
    for (const [a, b, why] of EXCEPTIONS) assert.ok(edges.some((e) => e.file.startsWith(a) && e.target.startsWith(b)), `unused exception ${a} → ${b} (${why})`);
  });

  it('no raw Redis outside core/store (roles get typed store operations)', () => {
    // Pure: lines that reach a raw client through a `.redis` property; config.redis is settings, not a client.
    const rawRedis = (text: string): string[] => text.split('\n').filter((l) => /\.redis[.)]/.test(l.replace(/\b(config|c|cfg)\.redis\b/g, 'settings')));
    assert.deepEqual(rawRedis('await store.redis.xrevrange(k);\nf(deps.redis);\nconfig.redis.url;\nconst r = redis.get(k);'), ['await store.redis.xrevrange(k);', 'f(deps.redis);']);
    const bad = files
      .filter((f) => !f.split(sep).join('/').startsWith('core/store/') && !RAW_REDIS_EXCEPTIONS.some(([p]) => p === f.split(sep).join('/')))
      .flatMap((f) => rawRedis(readFileSync(join(REPO_ROOT, f), 'utf8')).map((l) => `${f}: ${l.trim()}`));
    assert.deepEqual(bad, [], 'use a store operation (core/store) instead of the raw client');
    for (const [p, why] of RAW_REDIS_EXCEPTIONS) assert.ok(rawRedis(readFileSync(join(REPO_ROOT, p), 'utf8')).length > 0, `unused exception ${p} (${why})`);
  });
});
