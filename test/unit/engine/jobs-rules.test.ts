/** Pure rule matching, job chains and job results → HTTP answers. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { compileRules, extendChain, matchRules, parseChain, pathOf, queryOf } from '../../../engine/jobs/rules';
import { jobIdOf } from '../../../engine/jobs/dispatcher';
import { errorAnswer, resultToAnswer } from '../../../engine/jobs/answers';
import { DEFAULTS } from '../../../core/config/config';
import type { RedisClient } from '../../../core/store/redis-connection';

const rules = compileRules({
  jpeg: { method: 'GET', pathPattern: '^/beams/.*\\.(jpg|jpeg)$', queue: 'media_workers', function: 'makeJPEG', postRoute: false },
  any: { method: ['GET', 'PUT'], pathPattern: '^/beams/', queue: 'q', function: 'log', postRoute: false },
  dataMissing: { method: 'GET', pathPattern: '^/beams/.*(packet|frame)_(\\d+)(\\.raw.*|/data.*)$', statusCode: 404, queue: 'file_workers', function: 'retrieveCopy', postRoute: true },
  allPost: { method: 'GET', pathPattern: '^/x$', queue: 'q', function: 'after', postRoute: true },
});

describe('rule matching', () => {
  const cases: [string, string, string, number | undefined, string[]][] = [
    ['pre-route in configured order', 'GET', '/beams/a/video/latest.jpg', undefined, ['jpeg', 'any']],
    ['method must match', 'POST', '/beams/a/video/latest.jpg', undefined, []],
    ['method list', 'PUT', '/beams/a', undefined, ['any']],
    ['post-route needs its status', 'GET', '/beams/a/video/packet_9/data', 404, ['dataMissing']],
    ['post-route other status', 'GET', '/beams/a/video/packet_9/data', 200, []],
    ['post-route with no statusCode matches every status', 'GET', '/x', 500, ['allPost']],
  ];
  for (const [name, method, path, status, want] of cases) {
    it(name, () => assert.deepEqual(matchRules(rules, method, path, status).map((c) => c.rule.name), want));
  }
  it('the built-in rules catch images and clips only', () => {
    const builtin = compileRules(DEFAULTS.jobs);
    const names = (p: string) => matchRules(builtin, 'GET', p).map((c) => c.rule.name);
    assert.deepEqual(names('/beams/main/video/latest.jpg'), ['frameImage']);
    assert.deepEqual(names('/beams/main/stream_0/frame_9000.png'), ['frameImage']);
    assert.deepEqual(names('/beams/main/all/1.5s-9s.mp4'), ['clipMp4']);
    assert.deepEqual(names('/beams/main/video/packet_9000'), []);
    assert.deepEqual(names('/beams/main/video/latest'), []);
  });
});

describe('chains and ids', () => {
  it('refuses a link already in the chain and over-long chains', () => {
    assert.deepEqual(extendChain(['a/x'], 'b/y'), ['a/x', 'b/y']);
    assert.throws(() => extendChain(['a/x', 'b/y'], 'a/x'), (e: Error & { statusCode?: number }) => e.statusCode === 508 && /a\/x -> b\/y -> a\/x/.test(e.message));
    assert.throws(() => extendChain(Array.from({ length: 8 }, (_, i) => `q/f${i}`), 'q/g'), /more than 8/);
  });
  it('parses the chain header, dropping junk', () => {
    assert.deepEqual(parseChain('q1/a, q2/b ,junk,, /x'), ['q1/a', 'q2/b']);
    assert.deepEqual(parseChain(undefined), []);
  });
  it('job ids are deterministic, differ per request, and hold no colon', () => {
    const a = jobIdOf('r', 'GET', '/beams/a/all/1-2.mp4');
    assert.equal(a, jobIdOf('r', 'GET', '/beams/a/all/1-2.mp4'));
    assert.notEqual(a, jobIdOf('r', 'GET', '/beams/a/all/1-3.mp4'));
    assert.notEqual(a, jobIdOf('r', 'GET', '/beams/a/all/1-2.mp4', 404));
    assert.doesNotMatch(a, /:/);
  });
  it('splits path and query', () => {
    assert.equal(pathOf('/a/b?x=1'), '/a/b');
    assert.deepEqual(queryOf('/a?width=160&accurate=1&width=320'), { width: '320', accurate: '1' });
  });
});

describe('results to answers', () => {
  const redis = { getBuffer: async (k: string) => (k === 'k1' ? Buffer.from('img') : null) } as unknown as RedisClient;
  it('passes on without respond; JSON, text, bytes by key, expired key 502', async () => {
    assert.equal(await resultToAnswer({ body: 'x' }, redis), null);
    assert.deepEqual(await resultToAnswer({ respond: true, body: { a: 1 } }, redis), { status: 200, type: 'application/json; charset=utf-8', body: '{"a":1}', headers: {} });
    assert.equal((await resultToAnswer({ response: true, status: 201, body: 'hi', type: 'text/plain' }, redis))?.status, 201);
    assert.deepEqual((await resultToAnswer({ respond: true, type: 'application/octet-stream', body: 'k1' }, redis))?.body, Buffer.from('img'));
    assert.equal((await resultToAnswer({ respond: true, type: 'image/jpeg', bodyKey: 'k1' }, redis))?.type, 'image/jpeg');
    assert.equal((await resultToAnswer({ respond: true, bodyKey: 'gone' }, redis))?.status, 502);
  });
  it('errors keep their status (Boom too) and are JSON', () => {
    const boom = errorAnswer(Object.assign(new Error('nope'), { output: { statusCode: 403 } }));
    assert.equal(boom.status, 403);
    assert.deepEqual(JSON.parse(boom.body as string), { statusCode: 403, error: 'Forbidden', message: 'nope' });
    assert.equal(errorAnswer(new Error('x')).status, 500);
  });
});
