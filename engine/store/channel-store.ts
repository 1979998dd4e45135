/**
 * Channels in Redis: settings, the stream-key index ingest authorises against, status written by the
 * publish session, and a change notification so every process's in-memory registry stays current.
 */

import { conflict, notFound } from '../model/errors';
import type { Channel, ChannelState, ChannelStatus } from '../model/channel';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';

export interface ChannelStore {
  create(ch: Channel): Promise<void>;
  get(name: string): Promise<Channel | null>;
  list(): Promise<Channel[]>;
  /** Replace settings; keeps the key index right when the key was rotated. */
  update(previous: Channel, next: Channel): Promise<void>;
  remove(ch: Channel): Promise<void>;
  byKey(streamKey: string): Promise<string | null>;
  status(name: string): Promise<ChannelStatus>;
  statuses(names: string[]): Promise<ChannelStatus[]>;
  setState(name: string, state: ChannelState, extra?: { connected?: boolean; disconnected?: boolean; reason?: string }): Promise<void>;
  setIngestStats(name: string, stats: Record<string, unknown>): Promise<void>;
  /** Subscribe (on a dedicated connection) to settings changes; returns an unsubscribe function. */
  onChange(subscriber: RedisClient, fn: (name: string) => void): Promise<() => Promise<void>>;
}

const IDLE: Omit<ChannelStatus, 'since'> = { state: 'idle', lastConnectedAt: null, lastDisconnectedAt: null, lastDisconnectReason: null, reconnects: 0, ingest: null };

function toStatus(h: Record<string, string>, fallbackSince: string): ChannelStatus {
  return {
    ...IDLE,
    state: (h.state as ChannelState | undefined) ?? 'idle',
    since: h.since ?? fallbackSince,
    lastConnectedAt: h.lastConnectedAt ?? null,
    lastDisconnectedAt: h.lastDisconnectedAt ?? null,
    lastDisconnectReason: h.lastDisconnectReason ?? null,
    reconnects: Number(h.reconnects ?? 0),
    ingest: h.ingest ? (JSON.parse(h.ingest) as Record<string, unknown>) : null,
  };
}

export function createChannelStore(deps: { redis: RedisClient; keys: Keys }): ChannelStore {
  const { redis, keys } = deps;
  const notify = (name: string) => redis.publish(keys.channelsChanged, name);

  return {
    async create(ch) {
      const ok = await redis.set(keys.channel(ch.name), JSON.stringify(ch), 'NX');
      if (ok !== 'OK') throw conflict(`Channel '${ch.name}' already exists.`);
      await redis.multi().hset(keys.channelKeys, ch.streamKey, ch.name).sadd(keys.channels, ch.name).exec();
      await notify(ch.name);
    },

    async get(name) {
      const json = await redis.get(keys.channel(name));
      return json ? (JSON.parse(json) as Channel) : null;
    },

    async list() {
      const names = (await redis.smembers(keys.channels)).sort();
      if (names.length === 0) return [];
      const p = redis.pipeline();
      for (const n of names) p.get(keys.channel(n));
      const res = (await p.exec()) ?? [];
      return res.map(([, v]) => v).filter((v): v is string => typeof v === 'string').map((v) => JSON.parse(v) as Channel);
    },

    async update(previous, next) {
      const ok = await redis.set(keys.channel(next.name), JSON.stringify(next), 'XX');
      if (ok !== 'OK') throw notFound(`Channel '${next.name}' was not found.`);
      if (previous.streamKey !== next.streamKey) {
        await redis.multi().hdel(keys.channelKeys, previous.streamKey).hset(keys.channelKeys, next.streamKey, next.name).exec();
      }
      await notify(next.name);
    },

    async remove(ch) {
      await redis.del(keys.channel(ch.name), keys.status(ch.name));
      await redis.multi().hdel(keys.channelKeys, ch.streamKey).srem(keys.channels, ch.name).exec();
      await notify(ch.name);
    },

    async byKey(streamKey) {
      return redis.hget(keys.channelKeys, streamKey);
    },

    async status(name) {
      return toStatus(await redis.hgetall(keys.status(name)), new Date(0).toISOString());
    },

    async statuses(names) {
      if (names.length === 0) return [];
      const p = redis.pipeline();
      for (const n of names) p.hgetall(keys.status(n));
      const res = (await p.exec()) ?? [];
      return res.map(([, h]) => toStatus((h ?? {}) as Record<string, string>, new Date(0).toISOString()));
    },

    async setState(name, state, extra = {}) {
      const now = new Date().toISOString();
      const tx = redis.multi().hset(keys.status(name), 'state', state, 'since', now);
      if (extra.connected) {
        const previous = await redis.hget(keys.status(name), 'lastConnectedAt');
        tx.hset(keys.status(name), 'lastConnectedAt', now);
        if (previous) tx.hincrby(keys.status(name), 'reconnects', 1);
      }
      if (extra.disconnected) tx.hset(keys.status(name), 'lastDisconnectedAt', now);
      if (extra.reason !== undefined) tx.hset(keys.status(name), 'lastDisconnectReason', extra.reason);
      await tx.exec();
    },

    async setIngestStats(name, stats) {
      await redis.hset(keys.status(name), 'ingest', JSON.stringify(stats));
    },

    async onChange(subscriber, fn) {
      const handler = (chan: string, message: string) => {
        if (chan === keys.channelsChanged) fn(message);
      };
      subscriber.on('message', handler);
      await subscriber.subscribe(keys.channelsChanged);
      return async () => {
        subscriber.off('message', handler);
        await subscriber.unsubscribe(keys.channelsChanged);
      };
    },
  };
}
