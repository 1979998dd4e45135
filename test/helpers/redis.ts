/**
 * Test helpers: one real redis-server per test file (the embedded one, in a temp folder), and a
 * fresh key prefix per test so tests never see each other's keys.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createEmbeddedRedis, type EmbeddedRedis } from '../../core/store/embedded-redis';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../core/store/redis-connection';

export interface TestRedis {
  url: string;
  server: EmbeddedRedis;
  connect(): RedisClient;
  close(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'beamline-test-'));
  const server = createEmbeddedRedis({}, { dataDir: dir, persistence: false });
  await server.start();
  const clients: RedisClient[] = [];
  return {
    url: server.url,
    server,
    connect() {
      const c = connectRedis(parseRedisUrl(server.url));
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.quit()));
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}
