/**
 * The OpenAPI document (/api/openapi.json) and the docs page (/api/docs) of the engine's app against a real
 * redis-server: public, valid OpenAPI 3, every channel and Content Beam API route with its parameters, the
 * bearer token declared and required on every write; the page's assets served from here. Route schemas
 * check path parameters and query strings with 400 `{statusCode, error, message}` naming the parameter.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_API_TOKEN, TEST_APP_CONFIG } from '../../helpers/app';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

let redis: TestRedis;
let app: FastifyInstance;
beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  app = await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort: 9000, rtmpPort: 1935 } })],
    },
    { ...TEST_APP_CONFIG, apiToken: TEST_API_TOKEN },
  );
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await redis?.close();
});

/** Every route of the two APIs: method, OpenAPI path, whether it writes (needs the token). */
const ROUTES: [string, string, boolean][] = [
  ['post', '/api/channels', true],
  ['get', '/api/channels', false],
  ['get', '/api/channels/{name}', false],
  ['patch', '/api/channels/{name}', true],
  ['delete', '/api/channels/{name}', true],
  ['post', '/api/channels/{name}/key', true],
  ['post', '/api/channels/{name}/playback-tokens', true],
  ['post', '/api/channels/{name}/playback-secret', true],
  ['get', '/beams', false],
  ['post', '/beams', true],
  ['get', '/beams/{content}', false],
  ['put', '/beams/{content}', true],
  ['delete', '/beams/{content}', true],
  ['get', '/beams/{content}/{stream}', false],
  ['get', '/beams/{content}/{stream}/{ref}', false],
  ['put', '/beams/{content}/{stream}/{ref}', true],
  ['delete', '/beams/{content}/{stream}/{ref}', true],
  ['get', '/beams/{content}/{stream}/{ref}/{data}', false],
  ['put', '/beams/{content}/{stream}/{ref}/{data}', true],
  ['get', '/beams/{content}/relations', false],
  ['get', '/beams/{content}/relations/rendition', false],
  ['put', '/beams/{content}/relations/rendition', true],
  ['delete', '/beams/{content}/relations/rendition', true],
];

type Operation = {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
};
type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }>; schemas: Record<string, unknown> };
};

async function anonymous(url: string) {
  return app.inject({ method: 'GET', url });
}

describe('OpenAPI document', () => {
  let doc: Doc;
  it('is a public read of valid JSON, OpenAPI 3, with the bearer scheme', async () => {
    const res = await anonymous('/api/openapi.json');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = JSON.parse(res.body) as Doc;
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    assert.equal(doc.components.securitySchemes.bearerAuth?.type, 'http');
    assert.equal(doc.components.securitySchemes.bearerAuth?.scheme, 'bearer');
    assert.ok(!res.body.includes(TEST_API_TOKEN), 'no secret in the document');
  });

  it('lists every channel and Content Beam API route, and nothing else but health', () => {
    for (const [method, path] of ROUTES) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    const expected = new Set([...ROUTES.map(([m, p]) => `${m} ${p}`), 'get /healthz', 'get /metrics']);
    assert.deepEqual(documented.filter((r) => !expected.has(r)), [], 'no page, /live or docs route in the API document');
  });

  it('every path parameter is declared, required, a string', () => {
    for (const [method, path] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation;
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      assert.deepEqual(declared.map((p) => p.name).sort(), [...names].sort(), `${method} ${path}`);
      for (const p of declared) {
        assert.equal(p.required, true, `${method} ${path} ${p.name}`);
        assert.deepEqual((p.schema as { type: string }).type, 'string');
      }
    }
  });

  it('paged reads declare offset, start and limit', () => {
    for (const path of ['/beams', '/beams/{content}/{stream}/{ref}']) {
      const q = (doc.paths[path]?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
      assert.deepEqual(q, ['limit', 'offset', 'start'], path);
    }
  });

  it('writes require the token; reads take it optionally (it shows more)', () => {
    for (const [method, path, writes] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation;
      if (writes) {
        assert.deepEqual(op.security, [{ bearerAuth: [] }], `${method} ${path} needs the token`);
        assert.ok(op.responses['401'], `${method} ${path} documents 401`);
      } else {
        assert.deepEqual(op.security, [{}, { bearerAuth: [] }], `${method} ${path} is a public read`);
      }
    }
  });

  it('bodies: JSON documents, and payloads as application/octet-stream', () => {
    assert.ok(doc.paths['/api/channels']?.post?.requestBody?.content['application/json']);
    assert.ok(doc.paths['/api/channels/{name}']?.patch?.requestBody?.content['application/json']);
    assert.ok(doc.paths['/beams']?.post?.requestBody?.content['application/json']);
    assert.ok(doc.paths['/beams/{content}/relations/rendition']?.put?.requestBody?.content['application/json']);
    const element = doc.paths['/beams/{content}/{stream}/{ref}']?.put?.requestBody?.content ?? {};
    assert.deepEqual(Object.keys(element).sort(), ['application/json', 'application/octet-stream']);
    assert.deepEqual(Object.keys(doc.paths['/beams/{content}/{stream}/{ref}/{data}']?.put?.requestBody?.content ?? {}), ['application/octet-stream']);
  });

  it('every error answer is the {statusCode, error, message} body, and every $ref resolves', () => {
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc.paths);
    for (const r of refs) {
      assert.match(r, /^#\/components\/schemas\//, r);
      assert.ok(doc.components.schemas[r.slice('#/components/schemas/'.length)], `${r} resolves`);
    }
    const error = doc.components.schemas.ErrorBody as { required: string[] };
    assert.deepEqual([...error.required].sort(), ['error', 'message', 'statusCode']);
    for (const [method, path] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation;
      for (const [code, r] of Object.entries(op.responses)) {
        if (Number(code) >= 400) assert.deepEqual(r.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorBody' }, `${method} ${path} ${code}`);
      }
    }
  });

  it('a wrong token is refused as on any read; the docs page JSON is the same document', async () => {
    const wrong = await app.inject({ method: 'GET', url: '/api/openapi.json', headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.statusCode, 401);
    const again = await anonymous('/api/docs/json');
    assert.equal(again.statusCode, 200);
    assert.deepEqual(JSON.parse(again.body), doc);
  });
});

describe('docs page', () => {
  it('/api/docs is HTML whose scripts and styles are served from here, with a CSP that allows nothing else', async () => {
    const res = await anonymous('/api/docs');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /https?:|upgrade-insecure-requests/, 'no other origin, no https upgrade of a plain-HTTP deployment');
    assert.doesNotMatch(res.body, /(src|href)="(https?:)?\/\//, 'no asset from another origin (no CDN)');
    const assets = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(assets.length >= 4, res.body);
    for (const a of assets) {
      const r = await anonymous(a);
      assert.equal(r.statusCode, 200, a);
    }
  });
});

describe('route schemas: parameters and query strings', () => {
  it('a query parameter given twice is a 400 naming it', async () => {
    const res = await anonymous('/beams?limit=1&limit=2');
    assert.equal(res.statusCode, 400);
    assert.deepEqual(JSON.parse(res.body), { statusCode: 400, error: 'Bad Request', message: "Query parameter 'limit' is given more than once." });
  });
  it('the pure parsers still give the precise messages', async () => {
    const res = await anonymous('/beams?limit=abc');
    assert.equal(res.statusCode, 400);
    assert.match((JSON.parse(res.body) as { message: string }).message, /^Query parameter 'limit' must be a positive integer, not 'abc'/);
    const name = await anonymous('/api/channels/Not_Valid');
    assert.equal(name.statusCode, 400);
    assert.match((JSON.parse(name.body) as { message: string }).message, /^Invalid channel name 'Not_Valid'/);
  });
  it('answers are serialised whole (a response schema documents, it does not filter)', async () => {
    const created = await app.inject({
      method: 'POST', url: '/beams', headers: { authorization: `Bearer ${TEST_API_TOKEN}`, 'content-type': 'application/json' },
      payload: { url: `oa-${Date.now()}`, streams: [{ time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'h264', width: 320 } }], custom_field: 'kept' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const body = JSON.parse(created.body) as { custom_field: string; streams: { codecpar: { width: number } }[] };
    assert.equal(body.custom_field, 'kept');
    assert.equal(body.streams[0]?.codecpar.width, 320);
  });
});

describe("fastify's own validation (a plugin with a plain JSON schema)", () => {
  it('answers 400 {statusCode, error, message} naming the field, through the one error handler', async () => {
    const store = createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
    const other = await buildApp(
      {
        store, metrics: createEngineMetrics(undefined, false),
        plugins: [(s) => void s.get('/api/probe', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, async () => ({ ok: true }))],
      },
      { ...TEST_APP_CONFIG, apiToken: TEST_API_TOKEN },
    );
    try {
      const res = await other.inject({ method: 'GET', url: '/api/probe?n=x' });
      assert.equal(res.statusCode, 400);
      const body = JSON.parse(res.body) as { statusCode: number; error: string; message: string };
      assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode']);
      assert.equal(body.error, 'Bad Request');
      assert.match(body.message, /\bn\b/, body.message);
      assert.equal((await other.inject({ method: 'GET', url: '/api/probe?n=3' })).statusCode, 200);
    } finally {
      await other.close();
    }
  });
});
