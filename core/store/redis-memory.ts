/**
 * Redis memory use against its limit, read from `INFO memory` (used_memory, maxmemory). On a Redis Cluster
 * every primary is read and the fullest one (highest used / maxmemory) is reported: a cluster refuses writes
 * per slot, so one full primary refuses the channels it holds however empty the others are, and a sum would
 * hide that.
 */

import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection';

export interface RedisMemory {
  usedMemoryBytes: number;
  /** 0 = no limit. */
  maxmemoryBytes: number;
}

/** Pure: the two figures from an `INFO memory` reply. Throws when used_memory is absent. */
export function parseMemoryInfo(info: string): RedisMemory {
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:(\\d+)\\s*$`, 'm').exec(info);
    return m ? Number(m[1]) : null;
  };
  const used = field('used_memory');
  if (used === null) throw new Error('INFO memory has no used_memory field');
  return { usedMemoryBytes: used, maxmemoryBytes: field('maxmemory') ?? 0 };
}

/** Pure: used / maxmemory, or null when there is no limit. */
export function usedRatio(m: RedisMemory): number | null {
  return m.maxmemoryBytes > 0 ? m.usedMemoryBytes / m.maxmemoryBytes : null;
}

/**
 * Pure: the node to report for a cluster: the highest use ratio (a node without a limit counts as 0), then
 * the most bytes used. Throws on an empty list.
 */
export function fullestNode(nodes: readonly RedisMemory[]): RedisMemory {
  if (nodes.length === 0) throw new Error('no Redis primary to read memory from');
  const ratio = (m: RedisMemory) => usedRatio(m) ?? 0;
  return nodes.reduce((a, b) => (ratio(b) > ratio(a) || (ratio(b) === ratio(a) && b.usedMemoryBytes > a.usedMemoryBytes) ? b : a));
}

/** One `INFO memory` per server (each primary of a cluster). */
export async function readRedisMemory(redis: RedisClient): Promise<RedisMemory> {
  if (redis instanceof Cluster) {
    const primaries = redis.nodes('master');
    return fullestNode(await Promise.all(primaries.map(async (n) => parseMemoryInfo(await n.info('memory')))));
  }
  return parseMemoryInfo(await redis.info('memory'));
}
