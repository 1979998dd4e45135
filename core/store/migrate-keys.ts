/**
 * One-time key migrations run at start-up. Releases before the `reg:` space kept the channel registry at
 * `<p>:{channels}:names|keys`, inside the content key space (a content item named `channels` could delete
 * it). At start, each old key is moved to its new name when the new one does not exist yet: RENAMENX on a
 * single node; on a cluster (the two names hash to different slots) a copy then a delete. Idempotent.
 */

import { isCluster } from './slots';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';

export interface MigrationLog {
  info(obj: object, msg?: string): void;
}

async function moveKey(redis: RedisClient, from: string, to: string): Promise<boolean> {
  if ((await redis.exists(from)) === 0) return false;
  if (isCluster(redis)) {
    if ((await redis.exists(to)) === 1) return false;
    const type = await redis.type(from);
    if (type === 'set') {
      const members = await redis.smembers(from);
      if (members.length) await redis.sadd(to, ...members);
    } else if (type === 'hash') {
      const h = await redis.hgetall(from);
      if (Object.keys(h).length) await redis.hset(to, h);
    } else {
      return false;
    }
    await redis.del(from);
    return true;
  }
  return (await redis.renamenx(from, to)) === 1;
}

/** Move the channel registry out of the content key space. Returns the number of keys moved. */
export async function migrateRegistryKeys(redis: RedisClient, keys: Keys, log?: MigrationLog): Promise<number> {
  let moved = 0;
  for (const [from, to] of [[keys.legacyChannels, keys.channels], [keys.legacyChannelKeys, keys.channelKeys]] as const) {
    if (await moveKey(redis, from, to)) {
      moved++;
      log?.info({ from, to }, 'channel registry key moved out of the content key space');
    }
  }
  return moved;
}
