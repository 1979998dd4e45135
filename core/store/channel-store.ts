/**
 * Channels in Redis: settings, the stream-key index ingest authorises against, status written by the
 * publish session, and a change notification so every process's in-memory registry stays current.
 */

import { conflict, notFound } from '../model/errors';
import type { Channel, ChannelState, ChannelStatus } from '../model/channel';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { readEach } from './slots';

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
  setState(name: string, state: ChannelState, extra?: { connected?: boolean; disconnected?: boolean; reason?: string; code?: string }): Promise<void>;
  setIngestStats(name: string, stats: Record<string, unknown>): Promise<void>;
  /** The channel's redundant inputs (primary/backup): which is on air, their health, the switches (ingest/redundancy.ts). */
  setRedundancy(name: string, redundancy: Record<string, unknown>): Promise<void>;
  /**
   * A publisher refused before it went live (e.g. by the admission webhook): its reason and code, and when, as the
   * last disconnect; state and `since` are left as they are, so a process going live meanwhile is not undone.
   */
  recordRefusal(name: string, reason: string, code: string): Promise<void>;
  /**
   * Follow settings changes: changes made through this store instance are delivered synchronously, with the
   * new settings, before the call that made them returns (`change` set); changes from other processes arrive
   * over pub/sub on `subscriber`, a dedicated connection, with the name only. SUBSCRIBE is sent once the
   * connection is ready and again after every reconnect; `onSubscribed` runs each time (changes published
   * while it was not subscribed are lost: reload everything then). Resolves once subscribed, or after
   * `readyTimeoutMs` (the subscription then follows when Redis comes back). Returns an unsubscribe function.
   */
  onChange(subscriber: RedisClient, fn: ChannelChangeListener, opts?: OnChangeOptions): Promise<() => Promise<void>>;
}

/** A channel changed: `change` is set for changes made through this process's store (null: deleted). */
export type ChannelChangeListener = (name: string, change?: { channel: Channel | null; previousKey?: string }) => void;

export interface OnChangeOptions {
  onSubscribed?: () => void;
  onError?: (err: Error) => void;
  readyTimeoutMs?: number;
}

const IDLE: Omit<ChannelStatus, 'since'> = { state: 'idle', lastConnectedAt: null, lastDisconnectedAt: null, lastDisconnectReason: null, lastDisconnectCode: null, reconnects: 0, ingest: null, redundancy: null };

function toStatus(h: Record<string, string>, fallbackSince: string): ChannelStatus {
  return {
    ...IDLE,
    state: (h.state as ChannelState | undefined) ?? 'idle',
    since: h.since ?? fallbackSince,
    lastConnectedAt: h.lastConnectedAt ?? null,
    lastDisconnectedAt: h.lastDisconnectedAt ?? null,
    lastDisconnectReason: h.lastDisconnectReason ?? null,
    lastDisconnectCode: h.lastDisconnectCode ?? null,
    reconnects: Number(h.reconnects ?? 0),
    ingest: h.ingest ? (JSON.parse(h.ingest) as Record<string, unknown>) : null,
    redundancy: h.redundancy ? (JSON.parse(h.redundancy) as Record<string, unknown>) : null,
  };
}

export function createChannelStore(deps: { redis: RedisClient; keys: Keys }): ChannelStore {
  const { redis, keys } = deps;
  const local = new Set<ChannelChangeListener>();
  /** In-process listeners first (synchronously, so the caller's answer comes after they applied it), then pub/sub. */
  const notify = async (name: string, change: { channel: Channel | null; previousKey?: string }) => {
    for (const fn of local) {
      try {
        fn(name, change);
      } catch {
        // A listener's failure is its own; the change is stored and published regardless.
      }
    }
    await redis.publish(keys.channelsChanged, name);
  };

  return {
    async create(ch) {
      const ok = await redis.set(keys.channel(ch.name), JSON.stringify(ch), 'NX');
      if (ok !== 'OK') throw conflict(`Channel '${ch.name}' already exists.`);
      await redis.multi().hset(keys.channelKeys, ch.streamKey, ch.name).sadd(keys.channels, ch.name).exec();
      await notify(ch.name, { channel: ch });
    },

    async get(name) {
      const json = await redis.get(keys.channel(name));
      return json ? (JSON.parse(json) as Channel) : null;
    },

    async list() {
      const names = (await redis.smembers(keys.channels)).sort();
      if (names.length === 0) return [];
      const values = await readEach(redis, 'get', names.map((n) => keys.channel(n)));
      return values.filter((v): v is string => typeof v === 'string').map((v) => JSON.parse(v) as Channel);
    },

    async update(previous, next) {
      const ok = await redis.set(keys.channel(next.name), JSON.stringify(next), 'XX');
      if (ok !== 'OK') throw notFound(`Channel '${next.name}' was not found.`);
      if (previous.streamKey !== next.streamKey) {
        await redis.multi().hdel(keys.channelKeys, previous.streamKey).hset(keys.channelKeys, next.streamKey, next.name).exec();
      }
      await notify(next.name, { channel: next, previousKey: previous.streamKey });
    },

    async remove(ch) {
      await redis.del(keys.channel(ch.name), keys.status(ch.name));
      await redis.multi().hdel(keys.channelKeys, ch.streamKey).srem(keys.channels, ch.name).exec();
      await notify(ch.name, { channel: null, previousKey: ch.streamKey });
    },

    async byKey(streamKey) {
      return redis.hget(keys.channelKeys, streamKey);
    },

    async status(name) {
      return toStatus(await redis.hgetall(keys.status(name)), new Date(0).toISOString());
    },

    async statuses(names) {
      if (names.length === 0) return [];
      const hashes = await readEach(redis, 'hgetall', names.map((n) => keys.status(n)));
      return hashes.map((h) => toStatus(h ?? {}, new Date(0).toISOString()));
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
      if (extra.code !== undefined) tx.hset(keys.status(name), 'lastDisconnectCode', extra.code);
      await tx.exec();
    },

    async recordRefusal(name, reason, code) {
      await redis.hset(keys.status(name), 'lastDisconnectedAt', new Date().toISOString(), 'lastDisconnectReason', reason, 'lastDisconnectCode', code);
    },

    async setIngestStats(name, stats) {
      await redis.hset(keys.status(name), 'ingest', JSON.stringify(stats));
    },

    async setRedundancy(name, redundancy) {
      await redis.hset(keys.status(name), 'redundancy', JSON.stringify(redundancy));
    },

    async onChange(subscriber, fn, opts = {}) {
      const handler = (chan: string, message: string) => {
        if (chan === keys.channelsChanged) fn(message);
      };
      let closed = false;
      let markSubscribed: () => void = () => undefined;
      const firstSubscribed = new Promise<void>((resolve) => (markSubscribed = resolve));
      // SUBSCRIBE must not go out before the connection is ready: ioredis writes it during the handshake
      // (the command is allowed while Redis loads), the connection enters subscriber mode, the ready
      // check's INFO is then refused ("Connection in subscriber mode"), ioredis reconnects, and the
      // subscription is lost. So subscribe on 'ready', every time (a reconnect starts unsubscribed).
      const subscribe = () => {
        if (closed) return;
        subscriber.subscribe(keys.channelsChanged).then(
          () => {
            markSubscribed();
            opts.onSubscribed?.();
          },
          (err: Error) => opts.onError?.(err),
        );
      };
      local.add(fn);
      subscriber.on('message', handler);
      subscriber.on('ready', subscribe);
      if (subscriber.status === 'ready') subscribe();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([firstSubscribed, new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.readyTimeoutMs ?? 5000)))]);
      clearTimeout(timer);
      return async () => {
        closed = true;
        local.delete(fn);
        subscriber.off('message', handler);
        subscriber.off('ready', subscribe);
        if (subscriber.status === 'ready') await subscriber.unsubscribe(keys.channelsChanged);
      };
    },
  };
}
