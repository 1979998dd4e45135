/**
 * The `/live` fastify plugin: HLS (multivariant, media playlists with LL-HLS and blocking reload),
 * DASH, CMAF init segments, segments and parts of every channel, catch-up ranges, and the UTCTiming
 * clock. Registered by the composition root through `buildApp`'s `deps.plugins`:
 *
 *   (scope) => livePlugin(scope, { deps: { store, live, channels, connect, registry }, config: {} })
 *
 * Segments and parts are immutable (long max-age, ETag, byte ranges); playlists live a second; CORS is open.
 * `master.m3u8?format=ts`, `ts-<rung>.m3u8` and `ts-<rung>-<msn>.ts` serve MPEG-TS for legacy players.
 * A private channel's objects need its playback token (`?token=`, live/playback-access.ts), else 403.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { ChannelStore } from '../core/store/channel-store';
import type { LiveStore } from '../core/store/live-store';
import type { RedisClient } from '../core/store/redis-connection';
import type { Store } from '../core/store/store';
import { notFound } from '../core/model/errors';
import { createChannelReader, type ChannelReader } from './channel-reader';
import { createEventFollowers, type EventFollowers } from './live/event-follower';
import { parseLiveFile } from './live/live-files';
import { contentRange, parseRange } from './live/byte-range';
import { isStreamed } from './live/live-response';
import { createLiveService, DEFAULT_LIVE_SERVICE_CONFIG, type LiveResponse, type LiveService, type LiveServiceConfig, type Query } from './live/live-service';
import { createPackagerMetrics, type PackagerMetrics } from './live/metrics';
import { createSegmentCache, type SegmentCache } from './live/segment-cache';
import { createArchivedSegments } from './live/archived-segments';
import { createTsService, type TsService } from './live/ts-service';
import { CHANNEL_NAME } from '../core/model/channel';
import { playbackAccess } from '../core/model/playback-token';
import { signedResponse } from './live/playback-access';

export interface LivePackagerDeps {
  store: Store;
  live: LiveStore;
  channels: ChannelStore;
  /** Opens a dedicated Redis connection (one per followed channel, for blocking event reads). */
  connect: () => RedisClient;
  /** Metrics are registered here when given (or pass ready-made `metrics`). */
  registry?: Registry;
  metrics?: PackagerMetrics;
  log?: { warn(obj: object, msg?: string): void };
}

export interface LivePackagerConfig extends LiveServiceConfig {
  /** Bytes of built segments and parts kept in memory. */
  cacheBytes: number;
  /** Plans of archived segments kept (head + sizes, a few KB each; see archived-segments.ts). */
  archivedPlans?: number;
  /** XREAD BLOCK timeout of the event followers, ms. */
  followerBlockMs: number;
  /** A follower with no waiting request for this long stops, ms. */
  followerIdleMs: number;
  /** BANDWIDTH of an MPEG-TS variant = measured elementary bit rate × this. */
  tsOverhead: number;
}

export const DEFAULT_LIVE_PACKAGER_CONFIG: LivePackagerConfig = {
  ...DEFAULT_LIVE_SERVICE_CONFIG,
  cacheBytes: 256 * 1024 * 1024,
  archivedPlans: 2048,
  followerBlockMs: 5000,
  followerIdleMs: 60000,
  tsOverhead: 1.15,
};

export interface LivePackager {
  service: LiveService;
  ts: TsService;
  reader: ChannelReader;
  followers: EventFollowers;
  cache: SegmentCache;
  metrics: PackagerMetrics | undefined;
  close(): Promise<void>;
}

/** The packager's components, wired; the plugin serves them over HTTP. */
export function createLivePackager(deps: LivePackagerDeps, config: Partial<LivePackagerConfig> = {}): LivePackager {
  const cfg = { ...DEFAULT_LIVE_PACKAGER_CONFIG, ...config };
  const metrics = deps.metrics ?? (deps.registry ? createPackagerMetrics(deps.registry) : undefined);
  const reader = createChannelReader({ store: deps.store, live: deps.live, channels: deps.channels });
  const cache = createSegmentCache({ onHit: () => metrics?.cacheHits.inc(), onMiss: () => metrics?.cacheMisses.inc() }, { maxBytes: cfg.cacheBytes });
  const followers = createEventFollowers({
    live: deps.live,
    connect: deps.connect,
    onEvents: (channel, events) => {
      if (events.some((e) => e.type === 'format:changed')) reader.invalidate(channel);
    },
    onCountChange: (n) => metrics?.followers.set(n),
    ...(deps.log ? { log: deps.log } : {}),
  }, { blockMs: cfg.followerBlockMs, idleMs: cfg.followerIdleMs });
  const archived = createArchivedSegments({ store: deps.store, onStreamed: () => metrics?.archivedStreams.inc() }, { maxPlans: cfg.archivedPlans ?? 2048 });
  const service = createLiveService({ reader, followers, cache, archived, ...(metrics ? { metrics } : {}) }, cfg);
  const ts = createTsService({ reader, followers, cache, live: service, ...(metrics ? { metrics } : {}) }, cfg);
  return { service, ts, reader, followers, cache, metrics, close: () => followers.close() };
}

const EXPOSED = 'Content-Length, Content-Type, ETag, Cache-Control, Date, Age, Accept-Ranges, Content-Range';

/**
 * Sends a live response. Media (those with an ETag) answer byte ranges (see byte-range.ts): `Accept-Ranges:
 * bytes`, a 206 slice, a 416 for a range past the end; `If-Range` with another validator gets the whole object.
 */
export async function send(req: FastifyRequest, reply: FastifyReply, r: LiveResponse): Promise<FastifyReply> {
  reply.header('Content-Type', r.contentType).header('Cache-Control', r.cacheControl);
  if (!r.etag) return reply.send(r.body);
  reply.header('ETag', r.etag).header('Accept-Ranges', 'bytes');
  const inm = req.headers['if-none-match'];
  if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === r.etag)) return reply.code(304).send();
  const size = typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length;
  const ifRange = req.headers['if-range'];
  const answer = ifRange !== undefined && ifRange !== r.etag ? { kind: 'whole' as const } : parseRange(req.headers.range, size);
  if (answer.kind === 'unsatisfiable') {
    return reply.code(416).header('Content-Range', `bytes */${size}`).header('Content-Type', 'application/json; charset=utf-8')
      .send({ statusCode: 416, error: 'Range Not Satisfiable', message: `The range '${String(req.headers.range).slice(0, 80)}' lies outside this object of ${size} bytes.` });
  }
  const { start, end } = answer.kind === 'slice' ? answer.slice : { start: 0, end: size - 1 };
  if (answer.kind === 'slice') reply.code(206).header('Content-Range', contentRange(answer.slice, size));
  reply.header('Content-Length', String(end + 1 - start));
  // HEAD: nothing is read; an empty stream keeps the Content-Length set above (fastify's HEAD route resets it for no body).
  if (req.method === 'HEAD') return reply.send(Readable.from([]));
  if (isStreamed(r.body)) return reply.send(await r.body.open(start, end + 1));
  const body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
  return reply.send(answer.kind === 'slice' ? body.subarray(start, end + 1) : body);
}

export interface LivePluginOptions {
  deps: LivePackagerDeps;
  config?: Partial<LivePackagerConfig>;
}

export async function livePlugin(app: FastifyInstance, opts: LivePluginOptions): Promise<void> {
  const packager = createLivePackager(opts.deps, opts.config);
  const { service, ts } = packager;
  app.addHook('onClose', async () => packager.close());
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('Access-Control-Allow-Origin', '*');
    reply.header('Access-Control-Expose-Headers', EXPOSED);
    return payload;
  });

  app.options('/live/*', async (_req, reply) => reply
    .header('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS')
    .header('Access-Control-Allow-Headers', 'Range, If-None-Match, Content-Type')
    .header('Access-Control-Max-Age', '86400')
    .code(204)
    .send());

  app.get('/live/time', async (_req, reply) => reply
    .header('Content-Type', 'text/plain; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .send(new Date().toISOString()));

  app.get<{ Params: { channel: string; file: string }; Querystring: Query }>('/live/:channel/:file', async (req, reply) => {
    const { channel, file } = req.params;
    const what = CHANNEL_NAME.test(channel) ? parseLiveFile(file) : null;
    if (!what) throw notFound(`No live object '${file}' for channel '${channel}': see /live/<channel>/master.m3u8 or manifest.mpd.`);
    const query = req.query ?? {};
    // A private channel opens only with its playback token (403 otherwise), checked on the channel record of the
    // snapshot every route reads anyway (shared, so no Redis read of its own); playlists carry the token on.
    const token = playbackAccess((await service.snapshot(channel)).channel, query, req.ip, Date.now());
    switch (what.type) {
      case 'master':
        return send(req, reply, signedResponse(query.format === 'ts' ? await ts.master(channel, query) : await service.master(channel, query), token, 'hls'));
      case 'mpd':
        return send(req, reply, signedResponse(await service.mpd(channel, query), token, 'mpd'));
      case 'playlist':
        return send(req, reply, signedResponse(await service.mediaPlaylist(channel, what.rendition, query), token, 'hls'));
      case 'init':
        return send(req, reply, await service.init(channel, what.rendition));
      case 'media':
        return send(req, reply, await service.media(channel, what.rendition, what.segment, what.part));
      case 'tsPlaylist':
        return send(req, reply, signedResponse(await ts.mediaPlaylist(channel, what.rung, query), token, 'hls'));
      case 'tsSegment':
        return send(req, reply, await ts.segment(channel, what.rung, what.segment));
    }
  });
}
