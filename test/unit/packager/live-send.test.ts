/** How the /live plugin answers a media object: whole, a byte range (206), 416, HEAD, 304, If-Range; buffers and streamed bodies alike. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { send } from '../../../packager/live-plugin';
import { IMMUTABLE, type LiveResponse, type StreamedBody } from '../../../packager/live/live-response';

const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256));
const opened: [number, number][] = [];
const streamed: StreamedBody = {
  length: bytes.length,
  async open(start, end) {
    opened.push([start, end]);
    const slice = bytes.subarray(start, end);
    return Readable.from([slice.subarray(0, 100), slice.subarray(100)]);
  },
};
const media = (body: LiveResponse['body']): LiveResponse => ({ body, contentType: 'video/mp4', cacheControl: IMMUTABLE, etag: '"abc"' });

let app: FastifyInstance;
beforeAll(async () => {
  app = Fastify();
  app.get('/buf', (req, reply) => send(req, reply, media(bytes)));
  app.get('/stream', (req, reply) => send(req, reply, media(streamed)));
  app.get('/playlist', (req, reply) => send(req, reply, { body: '#EXTM3U\n', contentType: 'application/vnd.apple.mpegurl', cacheControl: 'public, max-age=1' }));
  await app.ready();
});
afterAll(async () => app?.close());

describe('media responses and byte ranges', () => {
  for (const path of ['/buf', '/stream']) {
    it(`${path}: whole, ranges, 416, HEAD, 304, If-Range`, async () => {
      const whole = await app.inject({ url: path });
      assert.equal(whole.statusCode, 200);
      assert.deepEqual(whole.rawPayload, bytes);
      assert.equal(whole.headers['accept-ranges'], 'bytes');
      assert.equal(whole.headers['content-length'], '5000');
      assert.equal(whole.headers['cache-control'], IMMUTABLE);
      assert.equal(whole.headers.etag, '"abc"');
      for (const [range, start, end] of [['bytes=0-99', 0, 100], ['bytes=4990-', 4990, 5000], ['bytes=-10', 4990, 5000], ['bytes=100-99999', 100, 5000], ['bytes=2500-2500', 2500, 2501]] as const) {
        const r = await app.inject({ url: path, headers: { range } });
        assert.equal(r.statusCode, 206, range);
        assert.deepEqual(r.rawPayload, bytes.subarray(start, end), range);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end - 1}/5000`);
        assert.equal(r.headers['content-length'], String(end - start));
        assert.equal(r.headers.etag, '"abc"');
        assert.equal(r.headers['cache-control'], IMMUTABLE);
      }
      const past = await app.inject({ url: path, headers: { range: 'bytes=5000-' } });
      assert.equal(past.statusCode, 416);
      assert.equal(past.headers['content-range'], 'bytes */5000');
      assert.match(past.json().message, /outside this object of 5000 bytes/);
      const many = await app.inject({ url: path, headers: { range: 'bytes=0-1,5-6' } });
      assert.equal(many.statusCode, 200);
      assert.equal(many.rawPayload.length, 5000);
      opened.length = 0;
      const head = await app.inject({ method: 'HEAD', url: path, headers: { range: 'bytes=10-19' } });
      assert.equal(head.statusCode, 206);
      assert.equal(head.headers['content-length'], '10');
      assert.equal(head.rawPayload.length, 0);
      const headWhole = await app.inject({ method: 'HEAD', url: path });
      assert.equal(headWhole.statusCode, 200);
      assert.equal(headWhole.headers['content-length'], '5000');
      assert.deepEqual(opened, [], 'HEAD reads nothing');
      assert.equal((await app.inject({ url: path, headers: { 'if-none-match': '"abc"' } })).statusCode, 304);
      const stale = await app.inject({ url: path, headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
      assert.equal(stale.statusCode, 200);
      assert.equal(stale.rawPayload.length, 5000);
      const fresh = await app.inject({ url: path, headers: { range: 'bytes=0-9', 'if-range': '"abc"' } });
      assert.equal(fresh.statusCode, 206);
    });
  }

  it('a streamed body opens only the asked bytes', async () => {
    opened.length = 0;
    await app.inject({ url: '/stream', headers: { range: 'bytes=1000-1999' } });
    assert.deepEqual(opened, [[1000, 2000]]);
  });

  it('playlists (no ETag) are not ranged', async () => {
    const r = await app.inject({ url: '/playlist', headers: { range: 'bytes=0-1' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.payload, '#EXTM3U\n');
    assert.equal(r.headers['accept-ranges'], undefined);
  });
});
