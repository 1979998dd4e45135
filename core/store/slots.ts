/**
 * Redis Cluster placement, for the few reads that span many channels: a key's hash slot (CRC16/XMODEM of
 * its hash tag, mod 16384, as the cluster computes it) and reads of many keys that work on a standalone
 * Redis (one pipeline, one round trip) and on a cluster (one pipeline per slot, run together), since a
 * cluster refuses a pipeline or command whose keys sit in different slots.
 */

import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection';

const SLOTS = 16384;

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Pure: the part of a key that is hashed: the first non-empty `{…}`, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** Pure: the cluster hash slot of a key. */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), 'utf8')) % SLOTS;
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/** Pure: indexes of `keys` grouped by slot, in first-seen order. */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((k, i) => {
    const slot = keySlot(k);
    const g = groups.get(slot);
    if (g) g.push(i);
    else groups.set(slot, [i]);
  });
  return [...groups.values()];
}

type Read = 'get' | 'hgetall';

/**
 * One read command per key, answers in the keys' order (null for a missing value). Standalone: one
 * pipeline. Cluster: a pipeline per slot, all sent at once. A failed command fails the whole read: a key
 * that could not be read (its primary failing over) is not a key that does not exist — a caller listing
 * channels must never take one it could not read for a deleted one.
 */
export async function readEach<R extends Read>(redis: RedisClient, command: R, keys: readonly string[]): Promise<Array<(R extends 'get' ? string : Record<string, string>) | null>> {
  type Out = (R extends 'get' ? string : Record<string, string>) | null;
  const out: Out[] = new Array<Out>(keys.length).fill(null);
  if (keys.length === 0) return out;
  const groups = isCluster(redis) ? groupBySlot(keys) : [keys.map((_, i) => i)];
  await Promise.all(groups.map(async (idx) => {
    const p = redis.pipeline();
    for (const i of idx) p[command](keys[i] as string);
    const res = (await p.exec()) ?? [];
    res.forEach(([err, v], j) => {
      if (err) throw err;
      if (v !== null && v !== undefined) out[idx[j] as number] = v as Out;
    });
  }));
  return out;
}
