#!/usr/bin/env node
/**
 * The composition root: `beamline [config.json] [--roles all|engine,ingest,transcoder]`.
 * Only this file imports every folder. It loads and validates the configuration, starts Redis (embedded
 * unless BEAM_REDIS_URL is set) and the roles asked for, prints where everything is, and shuts down
 * in a fixed order on SIGINT/SIGTERM.
 */

import './engine/threadpool';
import './engine/v8-heap';
import { networkInterfaces } from 'node:os';
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, readConfigFile, type BeamConfig } from './core/config/config';
import { formatBinarySize } from './core/config/memory-size';
import { buildApp } from './engine/api/app';
import { createEngineMetrics } from './engine/api/metrics';
import { createEngineRuntime } from './engine/runtime';
import { resolveApiToken, type ApiToken } from './core/config/api-token';
import { channelsPlugin } from './engine/api/channels';
import { markersPlugin } from './engine/api/markers';
import { createChannelStore } from './core/store/channel-store';
import { createChannel, ingestSettings, type Channel } from './core/model/channel';
import { createLiveStore } from './core/store/live-store';
import { createMarkerStreams } from './core/store/marker-stream';
import { DEFAULT_LADDER, validateLadder } from './transcoders/ladder';
import { createIngestService, type IngestService, type IngestServiceConfig } from './ingest/ingest-service';
import { createIngestMetrics } from './ingest/ingest-metrics';
import { createLivePackager, DEFAULT_LIVE_PACKAGER_CONFIG, livePlugin, type LivePackager, type LivePackagerConfig } from './packager/live-plugin';
import { createSrtPull, type SrtPull } from './packager/srt/srt-pull';
import { createSrtPullMetrics } from './packager/srt/pull-metrics';
import { findPagesDirs, pagesPlugin } from './engine/api/pages';
import { createJobDispatcher, createJobWorker, type JobWorker } from './engine/jobs';
import { createJitFunctions } from './transcoders/jit/jit-functions';
import { JIT_QUEUE, jitNormalizers } from './transcoders/jit/jit-paths';
import { connectRedis, parseRedisUrl } from './core/store/redis-connection';
import { createTranscodeQueue, type TranscodeQueue } from './transcoders/queue';
import { createTranscodeWorker, type TranscodeWorker } from './transcoders/worker';
import { createWebrtcService, DEFAULT_SERVICE_TIMINGS } from './webrtc/webrtc-service';
import { isWhepWrite, webrtcPlugin } from './webrtc/webrtc-plugin';
import { createWhipService, DEFAULT_WHIP_TIMINGS } from './webrtc/whip-service';
import { deferredIntake, type PublishIntake } from './core/model/publish-intake';
import type { SegmentJobConfig } from './transcoders/segment-job';
import { DEFAULT_LIVE_SERVICE_CONFIG } from './packager/live/live-service';
import { createArchiver, type Archiver, type ArchiverConfig } from './core/archive/archiver';
import { archiveTargetOf, describeArchive } from './core/archive/open-archive';
import { createWebhooks, type WebhooksConfig } from './core/webhooks/webhooks';
import { webhooksPlugin } from './engine/api/webhooks';
import { webhookHost } from './core/model/webhook';
import { createArchiveCatalog } from './core/archive/catalog';
import { restoreFromArchive } from './core/archive/restore';

const ROLES = ['engine', 'ingest', 'transcoder'] as const;
type Role = (typeof ROLES)[number];

export interface Cli {
  configFile: string | null;
  roles: Set<Role>;
}

/** Pure: parse the command line. */
export function parseCli(argv: string[]): Cli {
  let configFile: string | null = null;
  let roles = new Set<Role>(ROLES);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--roles' || a.startsWith('--roles=')) {
      const value = a.includes('=') ? a.slice(8) : argv[++i];
      if (!value) throw new ConfigError('--roles needs a value: all, or a comma-separated list of engine, ingest, transcoder');
      const list = value.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.includes('all')) continue;
      const bad = list.filter((r) => !(ROLES as readonly string[]).includes(r));
      if (bad.length) throw new ConfigError(`unknown role(s) ${bad.join(', ')}: expected all, or a comma-separated list of ${ROLES.join(', ')}`);
      roles = new Set(list as Role[]);
    } else if (a === '--help' || a === '-h') {
      throw new ConfigError('usage: beamline [config.json] [--roles all|engine,ingest,transcoder]');
    } else if (a.startsWith('-')) {
      throw new ConfigError(`unknown option ${a}: usage: beamline [config.json] [--roles all|engine,ingest,transcoder]`);
    } else if (configFile === null) {
      configFile = a;
    } else {
      throw new ConfigError(`only one configuration file may be given (got ${configFile} and ${a})`);
    }
  }
  return { configFile, roles };
}

function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const ni of list ?? []) if (ni.family === 'IPv4' && !ni.internal) return ni.address;
  }
  return '127.0.0.1';
}

/** The base URL people should use, from app.publicUrl or the listening address. */
export function publicBase(config: BeamConfig): string {
  if (config.app.publicUrl) return config.app.publicUrl;
  const host = config.app.host === '0.0.0.0' || config.app.host === '::' ? lanAddress() : config.app.host;
  return `http://${host}:${config.app.port}`;
}

export interface BannerInput {
  config: BeamConfig;
  redisWhere: string;
  roles: Set<Role>;
  channels: Channel[];
  createdDefault: boolean;
  /** The API token in force (null for a process without the engine role). */
  apiToken: ApiToken | null;
  /** Whether stdout is a terminal: only then are secrets (stream keys, a generated token) printed. */
  tty: boolean;
}

/** Pure: the banner's line about the API token. Never the token itself unless on a terminal and generated here. */
export function tokenLine(t: ApiToken | null, tty: boolean): string {
  if (t === null) return 'not served by this process (engine role only)';
  if (t.origin === 'config') return 'BEAM_API_TOKEN (writes and secrets need Authorization: Bearer <token>)';
  const where = t.origin === 'redis' ? `shared through Redis, copy in ${t.file}` : `in ${t.file}`;
  return tty ? `${t.token}  (${where}; the dashboard asks for it)` : `${where} (not printed: stdout is not a terminal)`;
}

/** Pure: what `npm start` prints — where everything is and what to paste into OBS or Larix. */
export function banner(b: BannerInput): string {
  const base = publicBase(b.config);
  const host = new URL(base).hostname;
  const ep = { httpBase: base, ingestHost: host, srtPort: b.config.srt.port, rtmpPort: b.config.rtmp.port, srtLatencyMs: b.config.srt.latency };
  const engine = b.roles.has('engine');
  const lines = [
    '',
    '  Beamline is running',
    `  roles:               ${[...b.roles].join(', ')}`,
    `  Redis:               ${b.redisWhere}`,
    `  archive:             ${describeArchive(archiveTargetOf(b.config))} (payloads older than ${b.config.archive.hotWindowSeconds} s)`,
    `  webhook:             ${webhookLine(b.config)}`,
  ];
  if (engine) lines.push(
    `  dashboard:           ${base}/`,
    `  Content Beam API:    ${base}/beams/`,
    `  channel API:         ${base}/api/channels`,
    `  API docs (OpenAPI):  ${base}/api/docs  ${base}/api/openapi.json`,
    `  health / metrics:    ${base}/healthz  ${base}/metrics`,
    `  API token:           ${tokenLine(b.apiToken, b.tty)}`,
    `  WebRTC (WHEP):       ${base}/live/<channel>/whep  ICE UDP ${b.config.webrtc.portMin ? `${b.config.webrtc.portMin}-${b.config.webrtc.portMax}` : 'ephemeral ports'} on ${b.config.webrtc.host}`,
  );
  else lines.push('  HTTP:                none (no engine role in this process: the API, players and metrics are served by engine processes)');
  if (engine && b.roles.has('ingest')) lines.push(`  WebRTC (WHIP):       ${base}/whip/<channel>  (OBS: Service WHIP, Bearer Token = the stream key)`);
  if (b.roles.has('ingest')) lines.push(`  ingest listens on:   SRT UDP ${b.config.srt.host}:${b.config.srt.port}, RTMP TCP ${b.config.rtmp.host}:${b.config.rtmp.port}`);
  if (b.roles.has('transcoder')) lines.push(`  transcoder:          takes ABR segment jobs and frame-image/clip jobs from Redis (no listening port)`);
  if (!engine && !b.roles.has('ingest')) {
    lines.push('');
    return lines.join('\n');
  }
  for (const ch of b.channels.slice(0, 5)) {
    const s = ingestSettings(ch, ep);
    lines.push(
      '',
      `  Channel '${ch.name}'${b.createdDefault && ch.name === DEFAULT_CHANNEL ? ' (created because there was none)' : ''}: encoder H.264 + AAC, keyframe interval 2 s`,
    );
    if (!b.tty) {
      // Logs are kept and shipped: stream keys (and the ingest URLs that embed them) stay off them.
      lines.push(engine
        ? `    encoder settings:  in the dashboard (${base}/) or GET ${base}/api/channels/${ch.name} with the API token`
        : '    encoder settings:  from an engine process (dashboard, or GET /api/channels/<name> with the API token)');
    } else lines.push(
      `    OBS, SRT:          Server ${s.obs.srt.server}`,
      `                       Stream Key ${s.obs.srt.streamKey}`,
      `    OBS, RTMP:         Server ${s.obs.rtmp.server}`,
      `                       Stream Key ${s.obs.rtmp.streamKey}`,
      `    Larix, SRT:        URL ${s.larix.url}  Stream ID ${s.larix.streamid}  latency ${s.larix.latencyMs} ms${s.larix.passphrase ? '  passphrase (see the channel API)' : ''}`,
      `    ffmpeg:            ffmpeg -re -i input.mp4 -c:v libx264 -g 60 -c:a aac -f mpegts -pes_payload_size 0 '${s.srt}'`,
    );
    if (engine) lines.push(
      `    player:            ${base}/player/?channel=${encodeURIComponent(ch.name)}`,
      `    HLS / DASH:        ${base}/live/${ch.name}/master.m3u8  ${base}/live/${ch.name}/manifest.mpd`,
      `    latest frame:      ${base}/beams/${ch.name}/video/latest.jpg`,
    );
    if (engine && ch.private === true) lines.push(`    private:           add ?token=… (POST ${base}/api/channels/${ch.name}/playback-tokens)`);
  }
  if (b.channels.length > 5) lines.push(`  … and ${b.channels.length - 5} more channels${engine ? `: ${base}/api/channels` : ''}`);
  lines.push('');
  return lines.join('\n');
}

/** Pure: the banner's line about the server's webhook (its host only: the path or query may hold a token). */
export function webhookLine(c: BeamConfig): string {
  const w = c.webhook;
  if (!w.url) return 'none for the server (channels may set their own)';
  return `${webhookHost(w.url)} (admission timeout ${w.timeout} ms, then ${w.admissionDefault}; delivery log at /api/webhooks/deliveries)`;
}

/** Pure: the webhooks' settings from the configuration. */
export function webhooksTuning(c: BeamConfig): WebhooksConfig {
  const w = c.webhook;
  return {
    url: w.url, secret: w.secret, timeoutMs: w.timeout, admissionDefault: w.admissionDefault, retries: w.retries,
    retryDelayMs: w.retryDelay, queueLimit: w.queueLimit, logSize: w.logSize,
  };
}

/** Pure: the ingest role's tuning from the configuration (the listeners are wired apart). */
export function ingestTuning(c: BeamConfig): Omit<IngestServiceConfig, 'srt' | 'rtmp'> {
  const i = c.ingest;
  return {
    idleTimeoutMs: i.idleTimeout,
    refreshMs: i.refreshInterval,
    session: {
      segmentSeconds: i.segmentSeconds, partSeconds: c.live.partTarget, flushMs: i.flushInterval, maxBatch: i.maxBatch,
      streamsTimeoutMs: i.streamsTimeout, statsIntervalMs: i.statsInterval, leaseTtlMs: i.leaseTtl, outageHoldMs: i.outageHold,
    },
    redundancy: { stallMs: i.backupStall, returnMs: Math.round(i.backupReturnSeconds * 1000) },
  };
}

/** Pure: one transcode job's tuning (x264 and the segment job) from the configuration. */
export function segmentJobTuning(c: BeamConfig): SegmentJobConfig {
  const t = c.transcoder;
  return {
    encoder: { preset: t.preset, threads: t.threads, maxKeyframeSeconds: t.maxKeyframeSeconds },
    maxSegmentsBehind: t.maxSegmentsBehind, idleTimeoutMs: t.idleTimeout, blockMs: t.blockTime, prefetchMs: t.sourcePoll,
  };
}

/** Pure: the live packager's tuning from the configuration (its UTCTiming path is not a setting). */
export function packagerTuning(c: BeamConfig): LivePackagerConfig {
  const p = c.packager;
  return {
    liveWindowSegments: p.liveWindowSegments, blockingTimeoutTargets: p.blockingTimeoutTargets, audioWaitMs: p.audioWait,
    snapshotTtlMs: p.snapshotTtl, snapshotMaxAgeMs: p.snapshotMaxAge, utcTimingPath: DEFAULT_LIVE_SERVICE_CONFIG.utcTimingPath,
    partWaitFloorMs: DEFAULT_LIVE_SERVICE_CONFIG.partWaitFloorMs,
    cacheBytes: p.cacheBytes, followerBlockMs: p.followerBlock, followerIdleMs: p.followerIdle, tsOverhead: p.tsOverhead, muxedAudio: p.muxedAudio,
    archivedPlans: DEFAULT_LIVE_PACKAGER_CONFIG.archivedPlans,
  };
}

/** The SRT pull's segment cache (recent TS segments of the channels read over SRT) is at most this. */
const SRT_PULL_CACHE_BYTES = 64 * 1024 * 1024;

/** Pure: the archiver's settings: the hot window, and a pass every quarter of it (2 s to 30 s). */
export function archiverTuning(c: BeamConfig): ArchiverConfig {
  const hotWindowMs = c.archive.hotWindowSeconds * 1000;
  return { hotWindowMs, intervalMs: Math.min(30_000, Math.max(2000, Math.round(hotWindowMs / 4))) };
}

export const DEFAULT_CHANNEL = 'main';

/** Fields never written to the log, whoever logs them (defence in depth: no log call should carry them). */
export const LOG_REDACT = [
  'streamKey', 'passphrase', 'token', 'apiToken', 'authorization', 'password', 'secret', 'playbackSecret',
  '*.streamKey', '*.passphrase', '*.token', '*.apiToken', '*.authorization', '*.password', '*.secret', '*.playbackSecret',
  'headers.authorization', 'req.headers.authorization', 'req.headers.cookie',
];

let handlersInstalled = false;
/** Anything that escapes every handler is logged, never allowed to stop the process (issue 10). */
function installProcessHandlers(log: Logger): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason : new Error(String(reason)) }, 'unhandled promise rejection (kept running)');
  });
  process.on('uncaughtException', (err, origin) => {
    log.error({ err, origin }, 'uncaught exception (kept running)');
  });
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const cli = parseCli(argv);
  const config = loadConfig(cli.configFile ? readConfigFile(cli.configFile) : null, env, cli.configFile ?? undefined);
  const log: Logger = pino({ level: config.app.logLevel, name: 'beamline', redact: { paths: LOG_REDACT, censor: '[redacted]' } });
  installProcessHandlers(log);
  const metrics = createEngineMetrics();
  // One per process: ingest asks and notifies through it, the engine serves its delivery log.
  const webhooks = createWebhooks({ log, registry: metrics.registry }, webhooksTuning(config));
  const runtime = await createEngineRuntime({ log, observe: (op, s) => metrics.storeOps.observe({ op }, s) }, config);
  const channels = createChannelStore({ redis: runtime.redis, keys: runtime.keys });
  // BullMQ connections: BEAM_QUEUE_REDIS_URL when set (a queue instance apart from media), else the store's Redis.
  const queueConnection = () =>
    config.redis.queueUrl
      ? connectRedis(parseRedisUrl(config.redis.queueUrl), { maxRetriesPerRequest: null, connectionName: 'beamline-jobs' })
      : runtime.connect({ maxRetriesPerRequest: null, connectionName: 'beamline-jobs' });
  const jobPrefix = runtime.keys.jobQueuePrefix;
  const jobs = cli.roles.has('engine')
    ? createJobDispatcher(
        { redis: runtime.redis, connect: queueConnection, log, normalizers: jitNormalizers() },
        { rules: config.jobs, prefix: jobPrefix, timeoutMs: config.app.jobTimeout, maxWaiting: config.app.jobQueueLimit, ratePerMinute: config.app.jobRateLimit },
      )
    : undefined;
  const live = createLiveStore({ redis: runtime.redis, keys: runtime.keys }, { eventsMaxLen: config.redis.eventsMaxLen });
  // ABR transcoding: ingest enqueues one job per channel segment; transcoder workers (any machine) take them.
  const transcodePrefix = runtime.keys.transcodeQueuePrefix;
  const apiToken = cli.roles.has('engine')
    ? await resolveApiToken(
        { redis: runtime.embedded ? null : runtime.redis, log },
        { configured: config.app.apiToken, dataDir: config.redis.dataDir, redisKey: runtime.keys.apiToken },
      ).catch(async (e: unknown) => {
        await runtime.close();
        throw new Error(`cannot set up the API token: ${(e as Error).message}`);
      })
    : null;
  /** The ingest's intake for WHIP publishers, once ingest has started. */
  let ingestIntake: PublishIntake | null = null;
  const app = cli.roles.has('engine') && apiToken
    ? await buildApp(
        {
          store: runtime.store,
          metrics,
          redisMemory: () => runtime.memory(),
          log,
          jobs,
          isPublicWrite: isWhepWrite,
          privateMedia: { channel: (name) => channels.get(name) },
          markers: createMarkerStreams({ live }),
          plugins: [
            (scope) => pagesPlugin(scope, findPagesDirs(__dirname)),
            (scope) =>
              channelsPlugin(scope, {
                deps: { channels, store: runtime.store, validateLadder, defaultLadder: DEFAULT_LADDER },
                config: { publicUrl: config.app.publicUrl, srtPort: config.srt.port, rtmpPort: config.rtmp.port, srtLatencyMs: config.srt.latency },
              }),
            (scope) => markersPlugin(scope, { channels, live }),
            (scope) =>
              livePlugin(scope, {
                deps: {
                  store: runtime.store,
                  live,
                  channels,
                  connect: () => runtime.connect({ connectionName: 'beamline-live-follower' }),
                  registry: metrics.registry,
                  log,
                },
                config: packagerTuning(config),
              }),
            (scope) => webhooksPlugin(scope, { webhooks }),
            (scope) => {
              const service = createWebrtcService({ store: runtime.store, channels, log }, { ...DEFAULT_SERVICE_TIMINGS, ...config.webrtc });
              // WHIP publishers go to this process's ingest (none without the ingest role: 503).
              const whip = createWhipService(
                { intake: cli.roles.has('ingest') ? deferredIntake(() => ingestIntake) : null, log, otherSessions: () => service.sessions() },
                { ...DEFAULT_WHIP_TIMINGS, ...config.webrtc, idleTimeoutMs: config.ingest.idleTimeout },
              );
              return webrtcPlugin(scope, { service, whip });
            },
          ],
        },
        { ...config.app, apiToken: apiToken.token },
      )
    : null;

  // After Redis was lost (a restart without persistence): the archive's channels come back, with their archived
  // segments, before the default channel is made and before ingest takes publishers (numbering continues).
  if (cli.roles.has('engine') || cli.roles.has('ingest')) {
    try {
      const restored = await restoreFromArchive({
        catalog: createArchiveCatalog({ archive: runtime.archive }), channels, store: runtime.store, live, validateLadder, defaultLadder: DEFAULT_LADDER, log,
      }, { headMargin: Math.ceil(archiverTuning(config).intervalMs / 1000) + 2 });
      if (restored.channels.length > 0) log.info(restored, 'rebuilt channels from the archive');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'could not read the archive to rebuild lost channels; starting without them');
    }
  }

  // The default channel exists before ingest loads its registry, so the key printed below works at once.
  let createdDefault = false;
  if (cli.roles.has('engine') && (await channels.list()).length === 0) {
    await channels.create(createChannel({ name: DEFAULT_CHANNEL }, validateLadder, DEFAULT_LADDER));
    createdDefault = true;
  }
  const list = await channels.list();

  let ingest: IngestService | null = null;
  let transcodeQueue: TranscodeQueue | null = null;
  let archiver: Archiver | null = null;
  let pullPackager: LivePackager | null = null;
  let srtPull: SrtPull | null = null;
  if (cli.roles.has('ingest')) {
    transcodeQueue = createTranscodeQueue({ connection: queueConnection() }, { prefix: transcodePrefix });
    const tq = transcodeQueue;
    // SRT readers (m=request on the SRT port) are fed by a packager of their own in the ingest role: the
    // TS service muxes each segment once, the pull paces it out to every reader of the channel and rung.
    pullPackager = createLivePackager(
      { store: runtime.store, live, channels, connect: () => runtime.connect({ connectionName: 'beamline-srt-pull' }), log },
      { ...packagerTuning(config), cacheBytes: Math.min(config.packager.cacheBytes, SRT_PULL_CACHE_BYTES) },
    );
    const pull = createSrtPull({
      live: pullPackager.service, ts: pullPackager.ts, followers: pullPackager.followers, metrics: createSrtPullMetrics(metrics.registry), log,
    });
    srtPull = pull;
    ingest = createIngestService(
      {
        store: runtime.store, live, channels, subscriber: runtime.connect({ connectionName: 'beamline-ingest-sub' }), log,
        metrics: createIngestMetrics(metrics.registry), enqueueSegment: (ch, seg) => tq.enqueueSegment(ch, seg), webhooks,
        onReader: (r) => pull.attach(r),
      },
      {
        ...ingestTuning(config),
        srt: { host: config.srt.host, port: config.srt.port, latencyMs: config.srt.latency },
        rtmp: {
          host: config.rtmp.host, port: config.rtmp.port, maxConnections: config.rtmp.maxConnections,
          maxConnectionsPerAddress: config.rtmp.maxConnectionsPerAddress, publishTimeoutMs: config.rtmp.publishTimeout,
          maxMessageBytes: config.rtmp.maxMessageBytes,
        },
      },
    );
    try {
      await ingest.start();
      ingestIntake = ingest.intake;
    } catch (e) {
      await ingest.close().catch(() => undefined);
      await transcodeQueue.close().catch(() => undefined);
      await app?.close();
      await runtime.close();
      throw new Error(`cannot start ingest (SRT UDP ${config.srt.port}, RTMP TCP ${config.rtmp.port}): ${(e as Error).message}; set BEAM_SRT_PORT / BEAM_RTMP_PORT to free ports`);
    }
    // Catch-up storage: payloads of closed segments past the hot window move to the archive (one process per channel at a time).
    archiver = createArchiver(
      { store: runtime.store, live, channels, catalog: createArchiveCatalog({ archive: runtime.archive }), log, registry: metrics.registry },
      archiverTuning(config),
    );
    archiver.start();
  }

  // Media workers for the rules' built-in functions (frame images, latest.jpg, clips) run with the transcoder role.
  let mediaWorker: JobWorker | null = null;
  let transcoder: TranscodeWorker | null = null;
  if (cli.roles.has('transcoder')) {
    transcoder = createTranscodeWorker(
      { connection: queueConnection(), registry: metrics.registry, log },
      {
        prefix: transcodePrefix,
        child: {
          redisUrl: runtime.redisTarget.urls.join(','),
          storePrefix: config.redis.prepend,
          packetTtlMs: config.redis.packetTTL,
          frameTtlMs: config.redis.frameTTL,
          eventsMaxLen: config.redis.eventsMaxLen,
          job: segmentJobTuning(config),
          archive: runtime.archiveTarget,
        },
        ...(config.transcoder.concurrency > 0 ? { concurrency: config.transcoder.concurrency } : {}),
      },
    );
    await transcoder.start();
    mediaWorker = createJobWorker(
      { store: runtime.store, connect: queueConnection, log },
      { queue: JIT_QUEUE, prefix: jobPrefix, functions: { ...createJitFunctions({ registry: metrics.registry, log }) }, concurrency: 2, ephemeralTtlMs: config.redis.ephemeralTTL },
    );
    await mediaWorker.start();
  }

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: HTTP, job dispatch and workers, ingest, webhooks, Redis connections, the embedded redis-server');
    const force = setTimeout(() => {
      log.error('shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15000);
    force.unref();
    try {
      await app?.close();
      await jobs?.close();
      await mediaWorker?.close();
      await archiver?.close();
      await ingest?.close(); // its SRT readers close with it
      await srtPull?.close();
      await pullPackager?.close();
      await webhooks.close(); // after ingest: its last notifications (publishers gone, channels idle) get one attempt
      await transcodeQueue?.close();
      await transcoder?.close();
      await runtime.close();
    } finally {
      clearTimeout(force);
    }
    process.exit(0);
  }
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  if (app) {
    try {
      await app.listen({ host: config.app.host, port: config.app.port });
    } catch (e) {
      await ingest?.close();
      await runtime.close();
      throw new Error(`cannot listen on ${config.app.host}:${config.app.port} (${(e as Error).message}); set BEAM_APP_PORT to a free port`);
    }
  }
  const limit = runtime.embeddedMaxmemory ? `maxmemory ${formatBinarySize(runtime.embeddedMaxmemory)}` : 'no maxmemory';
  const where = runtime.embedded ? `embedded redis-server on ${runtime.embedded.socketPath} (${limit})` : runtime.redisTarget.urls.map((u) => u.replace(/\/\/[^@/]*@/, '//***@')).join(', ');
  process.stdout.write(banner({ config, redisWhere: where, roles: cli.roles, channels: list, createdDefault, apiToken, tty: process.stdout.isTTY === true }) + '\n');
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).catch((e: unknown) => {
    const msg = e instanceof ConfigError ? e.message : `Beamline could not start: ${(e as Error).message}`;
    process.stderr.write(msg + '\n');
    process.exit(1);
  });
}
