/**
 * `queue(name)`: a job consumer for a user-written worker process, configured like the engine from the
 * local configuration (defaults < config file < BEAM_* environment), as the original engine's
 * `queue('media_workers')`. It connects to the same Redis (BEAM_REDIS_URL / BEAM_QUEUE_REDIS_URL, or the
 * embedded redis-server's socket under the data folder) and gives the store, the original's `redisio`.
 */

import { join, resolve } from 'node:path';
import { effectiveRedisUrl, loadConfig, readConfigFile, type BeamConfig } from '../../core/config/config';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../core/store/redis-connection';
import { createStore, type Store } from '../../core/store/store';
import { archiveTargetOf, openArchive } from '../../core/archive/open-archive';
import { createJobWorker, type JobFunction, type JobHandler, type JobWorker } from './worker';

export interface QueueOptions {
  /** A JSON config file, as given to `beamline`; default none. */
  configFile?: string;
  /** Environment to read BEAM_* settings from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Jobs run at once by this consumer; default 1. */
  concurrency?: number;
}

export interface JobConsumer {
  readonly name: string;
  readonly config: BeamConfig;
  /** The Content Beam store (the original engine's redisio). */
  readonly store: Store;
  /** Start consuming: one handler for every job, or functions by name (the rule's `function`). */
  process(functions: JobHandler | Record<string, JobFunction>): Promise<void>;
  close(): Promise<void>;
}

/** Where the engine's Redis is, for a separate process: the configured URL or the embedded server's socket. */
export function workerRedisUrl(config: BeamConfig): string {
  return effectiveRedisUrl(config.redis) ?? `unix://${join(resolve(config.redis.dataDir), 'redis.sock')}`;
}

export function queue(name: string, options: QueueOptions = {}): JobConsumer {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new Error(`queue name '${name}' must be 1-100 letters, digits, _ . -`);
  const env = options.env ?? process.env;
  const config = loadConfig(options.configFile ? readConfigFile(options.configFile) : null, env, options.configFile);
  const url = workerRedisUrl(config);
  const opened: RedisClient[] = [];
  const connect = (target: string) => {
    const c = connectRedis(parseRedisUrl(target), { maxRetriesPerRequest: null, connectionName: `beamline-worker-${name}` });
    c.on('error', () => undefined);
    opened.push(c);
    return c;
  };
  // The archive too: archived segments' elements are read through it (they are no longer in the index).
  const archive = openArchive(archiveTargetOf(config));
  const store = createStore({ redis: connect(url), archive }, { prefix: config.redis.prepend, packetTtlMs: config.redis.packetTTL, frameTtlMs: config.redis.frameTTL });
  let worker: JobWorker | null = null;
  return {
    name,
    config,
    store,
    async process(functions) {
      if (worker) throw new Error(`queue '${name}' is already being processed by this consumer`);
      worker = createJobWorker(
        { store, connect: () => connect(config.redis.queueUrl ?? url) },
        { queue: name, prefix: store.keys.jobQueuePrefix, functions, concurrency: options.concurrency ?? 1, ephemeralTtlMs: config.redis.ephemeralTTL },
      );
      await worker.start();
    },
    async close() {
      await worker?.close();
      await Promise.allSettled(opened.map((c) => c.quit()));
      for (const c of opened) c.disconnect();
      archive.close();
    },
  };
}
