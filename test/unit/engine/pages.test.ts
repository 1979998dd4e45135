/**
 * The pages plugin on a bare fastify instance (with the app's trailing-slash setting): the dashboard
 * at /, the viewer at /player/ and /player, its scripts, hls.js from node_modules, and nothing else
 * of either folder (no traversal, only hls.js's dist files).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { findPagesDirs, HLS_JS_PREFIX, pagesPlugin } from '../../../engine/api/pages';

let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
  await app.register(async (scope) => pagesPlugin(scope, findPagesDirs(__dirname)));
  await app.ready();
});

afterAll(async () => app.close());

describe('pagesPlugin', () => {
  const cases: [string, number, RegExp | null, string | null][] = [
    ['/', 200, /^text\/html/, 'Beamline · channels'],
    ['/player/', 200, /^text\/html/, 'Beamline player'],
    ['/player', 200, /^text\/html/, 'Beamline player'],
    ['/player/index.html', 200, /^text\/html/, 'Beamline player'],
    ['/player/player.js', 200, /javascript/, 'beamPlayer'],
    ['/player/dashboard.js', 200, /javascript/, 'beamDashboard'],
    ['/player/common.css', 200, /^text\/css/, null],
    [`${HLS_JS_PREFIX}hls.min.js`, 200, /javascript/, null],
    [`${HLS_JS_PREFIX}hls.mjs`, 404, null, null],
    [`${HLS_JS_PREFIX}..%2Fpackage.json`, 404, null, null],
    ['/player/..%2F..%2Fpackage.json', 403, null, null], // send refuses a traversal
    ['/player/../package.json', 404, null, null],
    ['/player/nope.js', 404, null, null],
  ];
  for (const [url, status, type, contains] of cases) {
    it(`${url} → ${status}`, async () => {
      const res = await app.inject(url);
      assert.equal(res.statusCode, status, res.body.slice(0, 200));
      if (type) assert.match(String(res.headers['content-type']), type);
      if (contains) assert.ok(res.body.includes(contains), `${url} contains ${contains}`);
      if (status === 200) assert.equal(res.headers['x-content-type-options'], 'nosniff');
    });
  }

  it('refuses folders without the pages', async () => {
    const bare = Fastify();
    await assert.rejects(async () => {
      await bare.register(async (scope) => pagesPlugin(scope, { playerDir: '/nonexistent', hlsJsDir: '/nonexistent' }));
      await bare.ready();
    }, /playerDir has no \/nonexistent\/index\.html/);
    await bare.close();
  });

  it('findPagesDirs names what it looked for when nothing is found', () => {
    assert.throws(() => findPagesDirs('/'), /Could not find player\/index\.html/);
  });
});
