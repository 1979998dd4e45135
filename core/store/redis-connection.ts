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

function singleOptions(url: string, opts: ConnectOptions): RedisOptions {
  const base: RedisOptions = {
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 3 : opts.maxRetriesPerRequest,
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
