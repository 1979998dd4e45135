/**
 * The engine's runtime seam: Redis (embedded or external) plus the store, built from validated
 * config, with a close() that stops things in a fixed order. Used by the composition root, by tests
 * and by user-written workers; it does not start the HTTP server.
 */

import type { Logger } from 'pino';
import { totalmem } from 'node:os';
import { effectiveRedisUrl, type BeamConfig } from '../core/config/config';
import type { ArchiveBackend } from '../core/archive/archive-backend';
import { archiveTargetOf, openArchive, type ArchiveTarget } from '../core/archive/open-archive';
import { createEmbeddedRedis, type EmbeddedRedis } from '../core/store/embedded-redis';
import { connectRedis, parseRedisUrl, type RedisClient, type RedisTarget } from '../core/store/redis-connection';
import { createStore, type OwnedStore } from '../core/store/store';
import type { Keys } from '../core/store/keys';
import { migrateRegistryKeys } from '../core/store/migrate-keys';
import { embeddedMaxmemory, machineMemory } from '../core/config/memory-size';
import { readRedisMemory, type RedisMemory } from '../core/store/redis-memory';

export interface EngineRuntime {
  store: OwnedStore;
  /** The key schema, for the stores built beside `store` by the composition root (channels, live, queues). */
  keys: Keys;
  redis: RedisClient;
  /** Where Redis is, as other processes of the deployment would reach it. */
  redisTarget: RedisTarget;
  embedded: EmbeddedRedis | null;
  /** The embedded redis-server's maxmemory (0 = no limit); null with an external Redis, whose own setting stands. */
  embeddedMaxmemory: number | null;
  /** Redis memory use against its limit (INFO memory; the fullest primary of a cluster). */
  memory(): Promise<RedisMemory>;
  /** Where payloads of segments past the hot window are kept (the store reads through it). */
  archive: ArchiveBackend & { close(): void };
  /** Which archive it is (handed to the transcoders' sandboxed children, which open the same one). */
  archiveTarget: ArchiveTarget;
  /** A new connection for a component that needs its own (BullMQ, blocking reads). */
  connect(opts?: { maxRetriesPerRequest?: number | null; connectionName?: string }): RedisClient;
  close(): Promise<void>;
}

export interface RuntimeDeps {
  log: Logger;
  observe?: (op: string, seconds: number) => void;
}

export async function createEngineRuntime(deps: RuntimeDeps, config: BeamConfig): Promise<EngineRuntime> {
  const { log } = deps;
  let embedded: EmbeddedRedis | null = null;
  let url = effectiveRedisUrl(config.redis);
  let maxmemory: number | null = null;
  if (url === null) {
    maxmemory = embeddedMaxmemory(config.redis.maxmemory, machineMemory(totalmem(), process.constrainedMemory?.()));
    embedded = createEmbeddedRedis({ log }, { dataDir: config.redis.dataDir, persistence: config.redis.persistence, maxmemoryBytes: maxmemory });
    await embedded.start();
    url = embedded.url;
  } else if (config.redis.maxmemory !== null) {
    log.warn({ maxmemory: config.redis.maxmemory }, 'redis.maxmemory (BEAM_REDIS_MAXMEMORY) applies to the embedded redis-server only: the external Redis keeps its own maxmemory, which /metrics and /healthz report');
  }
  let target = parseRedisUrl(url);
  if (config.redis.cluster && target.kind === 'single') target = { kind: 'cluster', urls: target.urls };

  const opened: RedisClient[] = [];
  const connect = (opts: { maxRetriesPerRequest?: number | null; connectionName?: string } = {}) => {
    const c = connectRedis(target, opts);
    c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
    opened.push(c);
    // Forget a connection once its owner has closed it, so short-lived ones (event followers) do not pile up.
    c.once('end', () => {
      const i = opened.indexOf(c);
      if (i >= 0) opened.splice(i, 1);
    });
    return c;
  };
  const redis = connect({ connectionName: 'beamline-store' });
  try {
    await redis.ping();
  } catch (e) {
    for (const c of opened) c.disconnect();
    await embedded?.close();
    throw new Error(`cannot reach Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')}: ${(e as Error).message}`);
  }
  const archiveTarget = archiveTargetOf(config);
  const archive = openArchive(archiveTarget);
  const store = createStore({ redis, observe: deps.observe, archive, log }, {
    prefix: config.redis.prepend,
    packetTtlMs: config.redis.packetTTL,
    frameTtlMs: config.redis.frameTTL,
  });
  try {
    await migrateRegistryKeys(redis, store.keys, log);
  } catch (e) {
    for (const c of opened) c.disconnect();
    await embedded?.close();
    throw new Error(`cannot migrate the channel registry keys: ${(e as Error).message}`);
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      const quitAll = Promise.allSettled(opened.map((c) => c.quit()));
      const timeout = new Promise((r) => setTimeout(r, config.redis.closeTimeout).unref());
      await Promise.race([quitAll, timeout]);
      for (const c of opened) c.disconnect();
      archive.close();
      await embedded?.close();
    })();
    return closing;
  }

  return { store, keys: store.keys, redis, redisTarget: target, embedded, embeddedMaxmemory: maxmemory, memory: () => readRedisMemory(redis), archive, archiveTarget, connect, close };
}
