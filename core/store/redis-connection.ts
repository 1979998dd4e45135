/**
 * Redis connections from one URL form: `redis://…`, `rediss://…` (TLS), `unix:///path/to.sock`,
 * or a comma-separated list of `redis://host:port` Redis Cluster nodes.
 */

import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  kind: 'single' | 'cluster';
  /** For single: the URL; for cluster: the node URLs. */
  urls: string[];
}

/** Pure: parse and check a BEAM_REDIS_URL value. Throws an Error naming the expected form. */
export function parseRedisUrl(value: string): RedisTarget {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  const expected = 'redis://[user:password@]host:port[/db], rediss://…, unix:///path/to/redis.sock, or a comma-separated list of redis:// cluster nodes';
  if (parts.length === 0) throw new Error(`redis.url is empty; expected ${expected}`);
  for (const p of parts) {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new Error(`redis.url '${p}' is not a URL; expected ${expected}`);
    }
    if (!['redis:', 'rediss:', 'unix:'].includes(u.protocol)) {
      throw new Error(`redis.url '${p}' has protocol ${u.protocol}; expected ${expected}`);
    }
    if (u.protocol === 'unix:' && parts.length > 1) throw new Error(`redis.url: a unix socket cannot be part of a cluster list`);
  }
  return parts.length > 1 ? { kind: 'cluster', urls: parts } : { kind: 'single', urls: parts };
}

export interface ConnectOptions {
  /** BullMQ workers need `null` here; the store uses a small bounded number. */
  maxRetriesPerRequest?: number | null;
  connectionName?: string;
  lazyConnect?: boolean;
}

/** Longest wait between reconnect attempts to a single-node Redis, ms. */
const RECONNECT_MAX_MS = 500;

function singleOptions(url: string, opts: ConnectOptions): RedisOptions {
  const base: RedisOptions = {
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 3 : opts.maxRetriesPerRequest,
    // Reconnect at least every RECONNECT_MAX_MS while Redis is away (ioredis backs off to 2 s): a command
    // fails after maxRetriesPerRequest attempts, so a request answers 503 within ~1.5 s of an outage instead
    // of 6-8 s, and the store is used again at most half a second after Redis returns. Cluster node
    // connections do not reconnect (the cluster client refreshes its slot map), so this is single-node only.
    retryStrategy: (times: number) => Math.min(times * 50, RECONNECT_MAX_MS),
    connectionName: opts.connectionName ?? 'beamline',
    lazyConnect: opts.lazyConnect ?? false,
    enableAutoPipelining: false,
  };
  const u = new URL(url);
  if (u.protocol === 'unix:') return { ...base, path: decodeURIComponent(u.pathname) };
  return base;
}

/** Open a client for a target. Single-node URLs pass through to ioredis, which reads db/auth/TLS from them. */
export function connectRedis(target: RedisTarget, opts: ConnectOptions = {}): RedisClient {
  if (target.kind === 'cluster') {
    const nodes = target.urls.map((u) => {
      const url = new URL(u);
      return { host: url.hostname, port: Number(url.port || 6379) };
    });
    const first = new URL(target.urls[0] as string);
    return new Cluster(nodes, {
      redisOptions: {
        ...singleOptions(target.urls[0] as string, opts),
        password: first.password ? decodeURIComponent(first.password) : undefined,
        username: first.username ? decodeURIComponent(first.username) : undefined,
        tls: first.protocol === 'rediss:' ? {} : undefined,
      },
      lazyConnect: opts.lazyConnect ?? false,
    });
  }
  const url = target.urls[0] as string;
  const opt = singleOptions(url, opts);
  return url.startsWith('unix:') ? new Redis(opt) : new Redis(url, opt);
}
