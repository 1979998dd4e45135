/**
 * Configuration: defaults < JSON file (merged as the original engine did: objects merge, `null`
 * deletes a key, e.g. a rule) < environment. Validated once, here; a bad value stops start-up with a
 * message naming the field, where it came from and the expected form.
 *
 * Environment: `BEAM_<NAME>` always, and the original engine's `BEAM_DEV_<NAME>` /
 * `BEAM_TEST_<NAME>` / `BEAM_PROD_<NAME>` for NODE_ENV development (default) / test / production;
 * the NODE_ENV-specific name wins when both are set.
 */

import { readFileSync } from 'node:fs';
import { isObject } from '../model/json';
import { DEFAULT_PART_TARGET_SECONDS, DEFAULT_SRT_LATENCY_MS } from '../model/channel';
import { EXPECTED, check, fromEnv, normalize, type Kind } from './setting-kinds';
import { JIT_QUEUE } from '../store/keys';

export interface JobRule {
  method: string | string[];
  pathPattern: string;
  statusCode?: number | number[];
  queue: string;
  function: string;
  postRoute: boolean;
}

export interface BeamConfig {
  app: {
    host: string;
    port: number;
    /** Base URL printed in ingest and playback settings, e.g. https://live.example.com. */
    publicUrl: string | null;
    apiToken: string | null;
    logLevel: string;
    jsonBodyLimit: number;
    payloadBodyLimit: number;
    /** Default and maximum page sizes of list and media element queries. */
    defaultLimit: number;
    mediaDefaultLimit: number;
    maxLimit: number;
    /** Longest a request waits for a rules job (ms) before answering 504. */
    jobTimeout: number;
    /** Waiting jobs a rules queue may hold before new image/clip/job requests answer 503 (Retry-After). */
    jobQueueLimit: number;
    /** Image, clip and other rule-matched requests per client (IPv4 address, IPv6 /64) per minute; 0 = no limit. */
    jobRateLimit: number;
  };
  redis: {
    /** redis://, rediss://, unix:// or a comma-separated cluster node list; null = embedded. */
    url: string | null;
    /** Optional separate instance for BullMQ queues; null = the same as url. */
    queueUrl: string | null;
    /** The original engine's connection fields, used when url is null and host is set. */
    cluster: boolean;
    host: string | null;
    port: number;
    password: string | null;
    db: number;
    pool: number;
    prepend: string;
    packetTTL: number;
    frameTTL: number;
    ephemeralTTL: number;
    closeTimeout: number;
    dataDir: string;
    persistence: boolean;
    /** Entries kept (approximately, XADD MAXLEN ~) in each channel's events stream. */
    eventsMaxLen: number;
    /**
     * The embedded redis-server's `maxmemory` in bytes (0 = no limit); null = derived from the machine's memory
     * (memory-size.ts defaultMaxmemory). An external Redis keeps its own setting: Beamline only reports it.
     */
    maxmemory: number | null;
  };
  /** `latency`: the SRT receive latency (TSBPD buffer) in ms, used by the listener and suggested to encoders. */
  srt: { host: string; port: number; latency: number };
  /**
   * RTMP listener. Connection limits (global and per IPv4 address / IPv6 /64), the deadline for handshake +
   * connect + publish (ms), and the largest message once publishing (a key frame); before publish the
   * server's own small limits apply (docs/rtmp.md).
   */
  rtmp: { host: string; port: number; maxConnections: number; maxConnectionsPerAddress: number; publishTimeout: number; maxMessageBytes: number };
  /**
   * WebRTC (WHEP playback): the address ICE binds to and announces, the UDP port range (0/0 = ephemeral ports),
   * STUN/TURN servers (comma-separated stun:/turn: URLs) and the most peer connections per process.
   */
  webrtc: { host: string; portMin: number; portMax: number; iceServers: string | null; maxSessions: number };
  /** Ingest role tuning (the publish session's segmenter and batching): ms unless named in seconds. */
  ingest: {
    idleTimeout: number;
    refreshInterval: number;
    segmentSeconds: number;
    flushInterval: number;
    maxBatch: number;
    streamsTimeout: number;
    statsInterval: number;
    /** The channel's ingest lease (one publisher per channel across processes): expires this long after its holder stops renewing it, ms. */
    leaseTtl: number;
    /** How long a publish is held (publisher connected, writes retried) while Redis is unreachable or failing over, ms. */
    outageHold: number;
    /** Redundant publishers: an input without media (or without video) this long is unhealthy, ms. */
    backupStall: number;
    /** Redundant publishers: the primary goes back on air after being healthy this long, seconds. */
    backupReturnSeconds: number;
  };
  /** Transcoder role tuning: x264 and the segment job; `concurrency` 0 = automatic (2 × cores, at least 2). */
  transcoder: {
    preset: string;
    threads: number;
    maxKeyframeSeconds: number;
    maxSegmentsBehind: number;
    idleTimeout: number;
    blockTime: number;
    /** While a segment is open, how often a job reads the source packets that arrived, ms; 0: only at each part. */
    sourcePoll: number;
    concurrency: number;
  };
  /** Live packager tuning (engine role): windows, waits and caches, ms unless named otherwise. */
  packager: {
    liveWindowSegments: number;
    blockingTimeoutTargets: number;
    audioWait: number;
    snapshotTtl: number;
    snapshotMaxAge: number;
    cacheBytes: number;
    followerBlock: number;
    followerIdle: number;
    tsOverhead: number;
    /** A channel with one audio track is listed as muxed variants (video and audio in the same fragments). */
    muxedAudio: boolean;
  };
  jobs: Record<string, JobRule>;
  /** `partTarget`: the LL-HLS part target in seconds for channels that set none (`partTargetSeconds`). */
  live: { partTarget: number };
  /**
   * Catch-up storage: payloads of closed segments older than `hotWindowSeconds` move from Redis to the archive
   * at `url` (file:// or s3://; null = `<redis.dataDir>/archive`, see `archiveDirOf` and core/archive/open-archive.ts).
   */
  archive: {
    url: string | null;
    hotWindowSeconds: number;
    /** S3-compatible endpoint for s3:// archives (e.g. http://minio:9000); null = AWS. */
    s3Endpoint: string | null;
    s3Region: string;
  };
  /**
   * The server's webhook (README, Webhooks): `url` receives every channel's admission requests and
   * notifications, signed with `secret` (both or neither); channels may name their own beside it. `timeout`
   * bounds one HTTP exchange (an admission, or one attempt of a notification), `admissionDefault` decides a
   * publish when a webhook gives no answer in time; notifications are retried `retries` times with a backoff
   * from `retryDelay` ms, waiting in a queue of at most `queueLimit` (then the oldest is dropped); the last
   * `logSize` deliveries are kept for GET /api/webhooks/deliveries.
   */
  webhook: {
    url: string | null;
    secret: string | null;
    timeout: number;
    admissionDefault: 'allow' | 'deny';
    retries: number;
    retryDelay: number;
    queueLimit: number;
    logSize: number;
  };
}

export const DEFAULTS: BeamConfig = {
  app: {
    host: '0.0.0.0',
    port: 8080,
    publicUrl: null,
    apiToken: null,
    logLevel: 'info',
    jsonBodyLimit: 1024 * 1024,
    payloadBodyLimit: 64 * 1024 * 1024,
    defaultLimit: 10,
    mediaDefaultLimit: 10,
    maxLimit: 10000,
    jobTimeout: 15000,
    jobQueueLimit: 100,
    jobRateLimit: 120,
  },
  redis: {
    url: null,
    queueUrl: null,
    cluster: false,
    host: null,
    port: 6379,
    password: null,
    db: 0,
    pool: 10,
    prepend: 'beam',
    packetTTL: 3600000,
    frameTTL: 10000,
    ephemeralTTL: 10000,
    closeTimeout: 5000,
    dataDir: '.beamline',
    persistence: false,
    eventsMaxLen: 10000,
    maxmemory: null,
  },
  srt: { host: '0.0.0.0', port: 9000, latency: DEFAULT_SRT_LATENCY_MS },
  rtmp: { host: '0.0.0.0', port: 1935, maxConnections: 1000, maxConnectionsPerAddress: 8, publishTimeout: 10000, maxMessageBytes: 8 * 1024 * 1024 },
  live: { partTarget: DEFAULT_PART_TARGET_SECONDS },
  archive: { url: null, hotWindowSeconds: 120, s3Endpoint: null, s3Region: 'us-east-1' },
  webhook: { url: null, secret: null, timeout: 2000, admissionDefault: 'allow', retries: 4, retryDelay: 1000, queueLimit: 1000, logSize: 200 },
  webrtc: { host: '0.0.0.0', portMin: 0, portMax: 0, iceServers: null, maxSessions: 200 },
  // The roles' own defaults (DEFAULT_INGEST_CONFIG, DEFAULT_SESSION_CONFIG, DEFAULT_SEGMENT_JOB_CONFIG,
  // DEFAULT_ENCODER_CONFIG, DEFAULT_LIVE_PACKAGER_CONFIG); a unit test keeps the two in step.
  ingest: { idleTimeout: 10000, refreshInterval: 2000, segmentSeconds: 2, flushInterval: 50, maxBatch: 64, streamsTimeout: 10000, statsInterval: 2000, leaseTtl: 6000, outageHold: 30000, backupStall: 1000, backupReturnSeconds: 10 },
  transcoder: { preset: 'veryfast', threads: 0, maxKeyframeSeconds: 10, maxSegmentsBehind: 1, idleTimeout: 10000, blockTime: 500, sourcePoll: 25, concurrency: 0 },
  packager: {
    liveWindowSegments: 6, blockingTimeoutTargets: 3, audioWait: 1000, snapshotTtl: 200, snapshotMaxAge: 2000,
    cacheBytes: 256 * 1024 * 1024, followerBlock: 5000, followerIdle: 60000, tsOverhead: 1.15, muxedAudio: true,
  },
  /** Built-in rules: frame images and clips are made just in time by the media_workers queue (transcoders/jit). */
  jobs: {
    frameImage: {
      method: 'GET',
      pathPattern: '^/beams/[^/]+/[^/]+/(latest|frame_[0-9]+)\\.(jpg|jpeg|png)$',
      queue: JIT_QUEUE,
      function: 'frameImage',
      postRoute: false,
    },
    clipMp4: {
      method: 'GET',
      pathPattern: '^/beams/[^/]+/all/[^/]+\\.mp4$',
      queue: JIT_QUEUE,
      function: 'clipMp4',
      postRoute: false,
    },
  },
};

interface Field {
  path: [keyof BeamConfig, string];
  kind: Kind;
  /** Environment suffix: BEAM_<env> and BEAM_<DEV|TEST|PROD>_<env>. */
  env: string;
}

/** Every scalar setting, its form and its environment variable. The README lists the same table. */
export const FIELDS: Field[] = [
  { path: ['app', 'host'], kind: 'string', env: 'APP_HOST' },
  { path: ['app', 'port'], kind: 'port', env: 'APP_PORT' },
  { path: ['app', 'publicUrl'], kind: 'url', env: 'PUBLIC_URL' },
  { path: ['app', 'apiToken'], kind: 'nullableString', env: 'API_TOKEN' },
  { path: ['app', 'logLevel'], kind: 'logLevel', env: 'LOG_LEVEL' },
  { path: ['app', 'jsonBodyLimit'], kind: 'posInt', env: 'JSON_BODY_LIMIT' },
  { path: ['app', 'payloadBodyLimit'], kind: 'posInt', env: 'PAYLOAD_BODY_LIMIT' },
  { path: ['app', 'defaultLimit'], kind: 'posInt', env: 'DEFAULT_LIMIT' },
  { path: ['app', 'mediaDefaultLimit'], kind: 'posInt', env: 'MEDIA_DEFAULT_LIMIT' },
  { path: ['app', 'maxLimit'], kind: 'posInt', env: 'MAX_LIMIT' },
  { path: ['app', 'jobTimeout'], kind: 'posInt', env: 'JOB_TIMEOUT' },
  { path: ['app', 'jobQueueLimit'], kind: 'posInt', env: 'JOB_QUEUE_LIMIT' },
  { path: ['app', 'jobRateLimit'], kind: 'int', env: 'JOB_RATE_LIMIT' },
  { path: ['redis', 'url'], kind: 'nullableString', env: 'REDIS_URL' },
  { path: ['redis', 'queueUrl'], kind: 'nullableString', env: 'QUEUE_REDIS_URL' },
  { path: ['redis', 'cluster'], kind: 'bool', env: 'REDIS_CLUSTER' },
  { path: ['redis', 'host'], kind: 'nullableString', env: 'REDIS_HOST' },
  { path: ['redis', 'port'], kind: 'port', env: 'REDIS_PORT' },
  { path: ['redis', 'password'], kind: 'nullableString', env: 'REDIS_PASSWORD' },
  { path: ['redis', 'db'], kind: 'int', env: 'REDIS_DB' },
  { path: ['redis', 'pool'], kind: 'posInt', env: 'REDIS_POOL' },
  { path: ['redis', 'prepend'], kind: 'prefix', env: 'REDIS_PREPEND' },
  { path: ['redis', 'packetTTL'], kind: 'int', env: 'REDIS_PACKET_TTL' },
  { path: ['redis', 'frameTTL'], kind: 'int', env: 'REDIS_FRAME_TTL' },
  { path: ['redis', 'ephemeralTTL'], kind: 'posInt', env: 'REDIS_EPHEMERAL_TTL' },
  { path: ['redis', 'closeTimeout'], kind: 'posInt', env: 'REDIS_CLOSE_TIMEOUT' },
  { path: ['redis', 'dataDir'], kind: 'string', env: 'DATA_DIR' },
  { path: ['redis', 'persistence'], kind: 'bool', env: 'REDIS_PERSISTENCE' },
  { path: ['redis', 'maxmemory'], kind: 'maxmemory', env: 'REDIS_MAXMEMORY' },
  { path: ['srt', 'host'], kind: 'string', env: 'SRT_HOST' },
  { path: ['srt', 'port'], kind: 'port', env: 'SRT_PORT' },
  { path: ['srt', 'latency'], kind: 'srtLatency', env: 'SRT_LATENCY' },
  { path: ['rtmp', 'host'], kind: 'string', env: 'RTMP_HOST' },
  { path: ['rtmp', 'port'], kind: 'port', env: 'RTMP_PORT' },
  { path: ['rtmp', 'maxConnections'], kind: 'posInt', env: 'RTMP_MAX_CONNECTIONS' },
  { path: ['rtmp', 'maxConnectionsPerAddress'], kind: 'posInt', env: 'RTMP_MAX_CONNECTIONS_PER_ADDRESS' },
  { path: ['rtmp', 'publishTimeout'], kind: 'timeoutMs', env: 'RTMP_PUBLISH_TIMEOUT' },
  { path: ['rtmp', 'maxMessageBytes'], kind: 'rtmpMessageBytes', env: 'RTMP_MAX_MESSAGE_BYTES' },
  { path: ['webrtc', 'host'], kind: 'string', env: 'WEBRTC_HOST' },
  { path: ['webrtc', 'portMin'], kind: 'port', env: 'WEBRTC_PORT_MIN' },
  { path: ['webrtc', 'portMax'], kind: 'port', env: 'WEBRTC_PORT_MAX' },
  { path: ['webrtc', 'iceServers'], kind: 'nullableString', env: 'WEBRTC_ICE_SERVERS' },
  { path: ['webrtc', 'maxSessions'], kind: 'posInt', env: 'WEBRTC_MAX_SESSIONS' },
  { path: ['redis', 'eventsMaxLen'], kind: 'eventsMaxLen', env: 'EVENTS_MAX_LEN' },
  { path: ['ingest', 'idleTimeout'], kind: 'timeoutMs', env: 'INGEST_IDLE_TIMEOUT' },
  { path: ['ingest', 'refreshInterval'], kind: 'timeoutMs', env: 'INGEST_REFRESH_INTERVAL' },
  { path: ['ingest', 'segmentSeconds'], kind: 'segmentSeconds', env: 'SEGMENT_SECONDS' },
  { path: ['ingest', 'flushInterval'], kind: 'ms', env: 'INGEST_FLUSH_INTERVAL' },
  { path: ['ingest', 'maxBatch'], kind: 'posInt', env: 'INGEST_MAX_BATCH' },
  { path: ['ingest', 'streamsTimeout'], kind: 'timeoutMs', env: 'INGEST_STREAMS_TIMEOUT' },
  { path: ['ingest', 'statsInterval'], kind: 'timeoutMs', env: 'INGEST_STATS_INTERVAL' },
  { path: ['ingest', 'leaseTtl'], kind: 'timeoutMs', env: 'INGEST_LEASE_TTL' },
  { path: ['ingest', 'outageHold'], kind: 'timeoutMs', env: 'INGEST_OUTAGE_HOLD' },
  { path: ['ingest', 'backupStall'], kind: 'timeoutMs', env: 'BACKUP_STALL' },
  { path: ['ingest', 'backupReturnSeconds'], kind: 'seconds', env: 'BACKUP_RETURN_SECONDS' },
  { path: ['transcoder', 'preset'], kind: 'x264Preset', env: 'X264_PRESET' },
  { path: ['transcoder', 'threads'], kind: 'threads', env: 'X264_THREADS' },
  { path: ['transcoder', 'maxKeyframeSeconds'], kind: 'seconds', env: 'MAX_KEYFRAME_SECONDS' },
  { path: ['transcoder', 'maxSegmentsBehind'], kind: 'int', env: 'TRANSCODER_MAX_SEGMENTS_BEHIND' },
  { path: ['transcoder', 'idleTimeout'], kind: 'timeoutMs', env: 'TRANSCODER_IDLE_TIMEOUT' },
  { path: ['transcoder', 'blockTime'], kind: 'ms', env: 'TRANSCODER_BLOCK_TIME' },
  { path: ['transcoder', 'sourcePoll'], kind: 'int', env: 'TRANSCODER_SOURCE_POLL' },
  { path: ['transcoder', 'concurrency'], kind: 'threads', env: 'TRANSCODER_CONCURRENCY' },
  { path: ['packager', 'liveWindowSegments'], kind: 'liveWindow', env: 'LIVE_WINDOW_SEGMENTS' },
  { path: ['packager', 'blockingTimeoutTargets'], kind: 'posInt', env: 'BLOCKING_TIMEOUT_TARGETS' },
  { path: ['packager', 'audioWait'], kind: 'ms', env: 'PACKAGER_AUDIO_WAIT' },
  { path: ['packager', 'snapshotTtl'], kind: 'ms', env: 'PACKAGER_SNAPSHOT_TTL' },
  { path: ['packager', 'snapshotMaxAge'], kind: 'ms', env: 'PACKAGER_SNAPSHOT_MAX_AGE' },
  { path: ['packager', 'cacheBytes'], kind: 'posInt', env: 'PACKAGER_CACHE_BYTES' },
  { path: ['packager', 'followerBlock'], kind: 'ms', env: 'PACKAGER_FOLLOWER_BLOCK' },
  { path: ['packager', 'followerIdle'], kind: 'timeoutMs', env: 'PACKAGER_FOLLOWER_IDLE' },
  { path: ['packager', 'tsOverhead'], kind: 'overhead', env: 'PACKAGER_TS_OVERHEAD' },
  { path: ['packager', 'muxedAudio'], kind: 'bool', env: 'HLS_MUXED_AUDIO' },
  { path: ['live', 'partTarget'], kind: 'partTarget', env: 'PART_TARGET' },
  { path: ['archive', 'url'], kind: 'archiveUrl', env: 'ARCHIVE_URL' },
  { path: ['archive', 'hotWindowSeconds'], kind: 'hotWindow', env: 'HOT_WINDOW_SECONDS' },
  { path: ['archive', 's3Endpoint'], kind: 'url', env: 'S3_ENDPOINT' },
  { path: ['archive', 's3Region'], kind: 'string', env: 'S3_REGION' },
  { path: ['webhook', 'url'], kind: 'webhookUrl', env: 'WEBHOOK_URL' },
  { path: ['webhook', 'secret'], kind: 'webhookSecret', env: 'WEBHOOK_SECRET' },
  { path: ['webhook', 'timeout'], kind: 'webhookTimeout', env: 'WEBHOOK_TIMEOUT' },
  { path: ['webhook', 'admissionDefault'], kind: 'admissionDefault', env: 'WEBHOOK_ADMISSION_DEFAULT' },
  { path: ['webhook', 'retries'], kind: 'webhookRetries', env: 'WEBHOOK_RETRIES' },
  { path: ['webhook', 'retryDelay'], kind: 'ms', env: 'WEBHOOK_RETRY_DELAY' },
  { path: ['webhook', 'queueLimit'], kind: 'webhookQueue', env: 'WEBHOOK_QUEUE_LIMIT' },
  { path: ['webhook', 'logSize'], kind: 'webhookLog', env: 'WEBHOOK_LOG_SIZE' },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Merge as the original engine: objects merge recursively, `null` deletes the key, anything else replaces. */
export function mergeConfig(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = mergeConfig(out[k] as Record<string, unknown>, v);
    else out[k] = isObject(v) ? structuredClone(v) : v;
  }
  return out;
}

function envPrefix(nodeEnv: string | undefined): string {
  if (nodeEnv === 'production') return 'BEAM_PROD_';
  if (nodeEnv === 'test') return 'BEAM_TEST_';
  return 'BEAM_DEV_';
}

function validateRules(jobs: unknown, source: Map<string, string>): Record<string, JobRule> {
  if (!isObject(jobs)) throw new ConfigError(`Invalid configuration: jobs must be an object of rules`);
  const out: Record<string, JobRule> = {};
  for (const [name, rule] of Object.entries(jobs)) {
    const at = `jobs.${name}`;
    const fail = (why: string) => new ConfigError(`Invalid configuration: ${at}${why} (from ${source.get('jobs') ?? 'defaults'})`);
    if (!isObject(rule)) throw fail(' must be an object {method, pathPattern, queue, function, statusCode?, postRoute?}');
    const methods = Array.isArray(rule.method) ? rule.method : [rule.method];
    if (!methods.every((m) => typeof m === 'string' && /^[A-Z]+$/.test(m))) throw fail('.method must be an HTTP method or an array of them, e.g. "GET"');
    if (typeof rule.pathPattern !== 'string') throw fail('.pathPattern must be a regular expression string');
    try {
      new RegExp(rule.pathPattern);
    } catch (e) {
      throw fail(`.pathPattern is not a valid regular expression: ${(e as Error).message}`);
    }
    if (typeof rule.queue !== 'string' || !rule.queue) throw fail('.queue must be a queue name');
    if (typeof rule.function !== 'string' || !rule.function) throw fail('.function must be a function name');
    const codes = rule.statusCode === undefined ? [] : Array.isArray(rule.statusCode) ? rule.statusCode : [rule.statusCode];
    if (!codes.every((c) => Number.isInteger(c) && (c as number) >= 100 && (c as number) <= 599)) throw fail('.statusCode must be an HTTP status or an array of them');
    if (rule.postRoute !== undefined && typeof rule.postRoute !== 'boolean') throw fail('.postRoute must be true or false');
    out[name] = {
      method: rule.method as string | string[],
      pathPattern: rule.pathPattern,
      queue: rule.queue,
      function: rule.function,
      postRoute: rule.postRoute === true,
      ...(rule.statusCode === undefined ? {} : { statusCode: rule.statusCode as number | number[] }),
    };
  }
  return out;
}

/** Read and parse a JSON config file, with an error that names the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot read configuration file ${path}: ${(e as Error).message}`);
  }
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch (e) {
    throw new ConfigError(`Configuration file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new ConfigError(`Configuration file ${path} must hold a JSON object`);
  return parsed;
}

/**
 * Build the validated configuration from defaults, an optional parsed config file and the environment.
 * Pure given its inputs.
 */
export function loadConfig(file: Record<string, unknown> | null, env: NodeJS.ProcessEnv, fileName = 'config file'): BeamConfig {
  const source = new Map<string, string>();
  let merged = structuredClone(DEFAULTS) as unknown as Record<string, unknown>;
  if (file) {
    merged = mergeConfig(merged, file);
    for (const top of Object.keys(file)) source.set(top, fileName);
    for (const [top, v] of Object.entries(file)) {
      if (isObject(v)) for (const k of Object.keys(v)) source.set(`${top}.${k}`, fileName);
    }
  }
  const specific = envPrefix(env.NODE_ENV);
  for (const f of FIELDS) {
    const name = env[specific + f.env] !== undefined ? specific + f.env : env['BEAM_' + f.env] !== undefined ? 'BEAM_' + f.env : null;
    if (name === null) continue;
    const [section, key] = f.path;
    const obj = isObject(merged[section]) ? (merged[section] as Record<string, unknown>) : {};
    obj[key] = fromEnv(f.kind, env[name] as string);
    merged[section] = obj;
    source.set(`${section}.${key}`, name);
  }

  for (const f of FIELDS) {
    const [section, key] = f.path;
    const at = `${section}.${key}`;
    const obj = merged[section];
    if (!isObject(obj)) throw new ConfigError(`Invalid configuration: ${section} must be an object (from ${source.get(section) ?? 'defaults'})`);
    if (!(key in obj)) {
      if (f.kind === 'nullableString' || f.kind === 'url' || f.kind === 'maxmemory' || f.kind === 'archiveUrl' || f.kind === 'webhookUrl' || f.kind === 'webhookSecret') {
        obj[key] = null;
        continue;
      }
      throw new ConfigError(`Invalid configuration: ${at} is missing (removed by ${source.get(at) ?? source.get(section) ?? 'the config'}); expected ${EXPECTED[f.kind]}`);
    }
    const given = obj[key];
    obj[key] = normalize(f.kind, given);
    if (!check(f.kind, obj[key])) {
      throw new ConfigError(
        `Invalid configuration: ${at} = ${f.kind === 'webhookSecret' ? '(a secret, not shown)' : JSON.stringify(given)} (from ${source.get(at) ?? 'defaults'}); expected ${EXPECTED[f.kind]}`,
      );
    }
  }
  merged.jobs = validateRules(merged.jobs ?? {}, source);
  const cfg = merged as unknown as BeamConfig;
  if (cfg.webrtc.portMax < cfg.webrtc.portMin) {
    throw new ConfigError(`Invalid configuration: webrtc.portMax = ${cfg.webrtc.portMax} is below webrtc.portMin = ${cfg.webrtc.portMin} (from ${source.get('webrtc.portMax') ?? 'defaults'})`);
  }
  if (cfg.live.partTarget >= cfg.ingest.segmentSeconds) {
    throw new ConfigError(
      `Invalid configuration: live.partTarget = ${cfg.live.partTarget} (from ${source.get('live.partTarget') ?? 'defaults'}) must be below ingest.segmentSeconds = ${cfg.ingest.segmentSeconds} (from ${source.get('ingest.segmentSeconds') ?? 'defaults'})`,
    );
  }
  if (cfg.webhook.url !== null && cfg.webhook.secret === null) {
    throw new ConfigError(
      `Invalid configuration: webhook.url is set (from ${source.get('webhook.url') ?? 'defaults'}) without webhook.secret: every delivery is signed, set BEAM_WEBHOOK_SECRET to a shared secret of 16-256 characters`,
    );
  }
  if (cfg.webhook.timeout >= cfg.rtmp.publishTimeout) {
    throw new ConfigError(
      `Invalid configuration: webhook.timeout = ${cfg.webhook.timeout} (from ${source.get('webhook.timeout') ?? 'defaults'}) must be below rtmp.publishTimeout = ${cfg.rtmp.publishTimeout} (from ${source.get('rtmp.publishTimeout') ?? 'defaults'}): an RTMP publish waits for its admission within that deadline`,
    );
  }
  if (cfg.app.publicUrl) cfg.app.publicUrl = cfg.app.publicUrl.replace(/\/+$/, '');
  return cfg;
}

/** Pure: the local folder of the archive: archive.url's path (file://, percent-decoded), else `<redis.dataDir>/archive`. */
export function archiveDirOf(c: Pick<BeamConfig, 'archive' | 'redis'>): string {
  if (!c.archive.url) return `${c.redis.dataDir.replace(/\/+$/, '')}/archive`;
  return decodeURIComponent(c.archive.url.slice('file://'.length));
}

/** The Redis URL to use: explicit url, else the original host/port/password/db fields, else null (embedded). */
export function effectiveRedisUrl(r: BeamConfig['redis']): string | null {
  if (r.url) return r.url;
  if (!r.host) return null;
  const auth = r.password ? `:${encodeURIComponent(r.password)}@` : '';
  const db = r.cluster ? '' : `/${r.db}`;
  return `redis://${auth}${r.host}:${r.port}${db}`;
}
