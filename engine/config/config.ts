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
import { DEFAULT_PART_TARGET_SECONDS, DEFAULT_SRT_LATENCY_MS, PART_TARGET_RANGE } from '../model/channel';

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
  };
  /** `latency`: the SRT receive latency (TSBPD buffer) in ms, used by the listener and suggested to encoders. */
  srt: { host: string; port: number; latency: number };
  rtmp: { host: string; port: number };
  jobs: Record<string, JobRule>;
  /** `partTarget`: the LL-HLS part target in seconds for channels that set none (`partTargetSeconds`). */
  live: { partTarget: number };
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
  },
  srt: { host: '0.0.0.0', port: 9000, latency: DEFAULT_SRT_LATENCY_MS },
  rtmp: { host: '0.0.0.0', port: 1935 },
  live: { partTarget: DEFAULT_PART_TARGET_SECONDS },
  /** Built-in rules: frame images and clips are made just in time by the media_workers queue (transcoders/jit). */
  jobs: {
    frameImage: {
      method: 'GET',
      pathPattern: '^/beams/[^/]+/[^/]+/(latest|frame_[0-9]+)\\.(jpg|jpeg|png)$',
      queue: 'media_workers',
      function: 'frameImage',
      postRoute: false,
    },
    clipMp4: {
      method: 'GET',
      pathPattern: '^/beams/[^/]+/all/[^/]+\\.mp4$',
      queue: 'media_workers',
      function: 'clipMp4',
      postRoute: false,
    },
  },
};

type Kind = 'port' | 'int' | 'posInt' | 'srtLatency' | 'string' | 'nullableString' | 'bool' | 'logLevel' | 'url' | 'prefix' | 'partTarget';

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
  { path: ['srt', 'host'], kind: 'string', env: 'SRT_HOST' },
  { path: ['srt', 'port'], kind: 'port', env: 'SRT_PORT' },
  { path: ['srt', 'latency'], kind: 'srtLatency', env: 'SRT_LATENCY' },
  { path: ['rtmp', 'host'], kind: 'string', env: 'RTMP_HOST' },
  { path: ['rtmp', 'port'], kind: 'port', env: 'RTMP_PORT' },
  { path: ['live', 'partTarget'], kind: 'partTarget', env: 'PART_TARGET' },
];

const EXPECTED: Record<Kind, string> = {
  port: 'an integer port from 0 to 65535',
  int: 'an integer ≥ 0',
  posInt: 'an integer ≥ 1',
  srtLatency: 'a latency in milliseconds from 20 to 8000',
  string: 'a non-empty string',
  nullableString: 'a string, or null for none',
  bool: 'true or false',
  logLevel: 'one of fatal, error, warn, info, debug, trace, silent',
  url: 'an http:// or https:// URL, or null',
  prefix: 'a key prefix of letters, digits, _ - . : (1-64 characters)',
  partTarget: `a part target in seconds from ${PART_TARGET_RANGE.min} to ${PART_TARGET_RANGE.max}`,
};

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

/** Coerce an environment string to the field's type (validation happens afterwards). */
function fromEnv(kind: Kind, raw: string): unknown {
  switch (kind) {
    case 'port':
    case 'int':
    case 'posInt':
    case 'srtLatency':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'partTarget':
      return /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'bool':
      return /^(true|1|yes|on)$/i.test(raw) ? true : /^(false|0|no|off)$/i.test(raw) ? false : raw;
    case 'nullableString':
    case 'url':
      return raw === '' ? null : raw;
    default:
      return raw;
  }
}

function check(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'port':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;
    case 'int':
      return Number.isSafeInteger(v) && (v as number) >= 0;
    case 'posInt':
      return Number.isSafeInteger(v) && (v as number) >= 1;
    case 'srtLatency':
      return Number.isSafeInteger(v) && (v as number) >= 20 && (v as number) <= 8000;
    case 'string':
      return typeof v === 'string' && v.length > 0;
    case 'nullableString':
      return v === null || typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'logLevel':
      return typeof v === 'string' && ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v);
    case 'url':
      return v === null || (typeof v === 'string' && /^https?:\/\/[^\s/]+/.test(v));
    case 'prefix':
      return typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(v);
    case 'partTarget':
      return typeof v === 'number' && Number.isFinite(v) && v >= PART_TARGET_RANGE.min && v <= PART_TARGET_RANGE.max;
  }
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
      if (f.kind === 'nullableString' || f.kind === 'url') {
        obj[key] = null;
        continue;
      }
      throw new ConfigError(`Invalid configuration: ${at} is missing (removed by ${source.get(at) ?? source.get(section) ?? 'the config'}); expected ${EXPECTED[f.kind]}`);
    }
    if (!check(f.kind, obj[key])) {
      throw new ConfigError(
        `Invalid configuration: ${at} = ${JSON.stringify(obj[key])} (from ${source.get(at) ?? 'defaults'}); expected ${EXPECTED[f.kind]}`,
      );
    }
  }
  merged.jobs = validateRules(merged.jobs ?? {}, source);
  const cfg = merged as unknown as BeamConfig;
  if (cfg.app.publicUrl) cfg.app.publicUrl = cfg.app.publicUrl.replace(/\/+$/, '');
  return cfg;
}

/** The Redis URL to use: explicit url, else the original host/port/password/db fields, else null (embedded). */
export function effectiveRedisUrl(r: BeamConfig['redis']): string | null {
  if (r.url) return r.url;
  if (!r.host) return null;
  const auth = r.password ? `:${encodeURIComponent(r.password)}@` : '';
  const db = r.cluster ? '' : `/${r.db}`;
  return `redis://${auth}${r.host}:${r.port}${db}`;
}
