/**
 * Who enqueues: a follower of every channel's event stream that enqueues a transcode job on each
 * `segment:opened`. Job ids are deterministic, so several schedulers (or this one and a direct call from the
 * publish session) never make a segment twice. A channel seen for the first time gets its open segment
 * enqueued, then follows from its newest event. One blocking multi-stream read on a dedicated connection
 * serves every channel (on a Redis Cluster, where the channels' streams live in different slots, call
 * `enqueueSegment` from the publish session instead).
 */

import type { LiveStore } from '../core/store/live-store';
import type { RedisClient } from '../core/store/redis-connection';
import type { Channel } from '../core/model/channel';

export interface TranscodeSchedulerDeps {
  channels: { list(): Promise<Channel[]> };
  live: Pick<LiveStore, 'lastSegments' | 'lastEventId' | 'readManyEvents'>;
  /** A dedicated connection for the blocking reads. */
  reader: RedisClient;
  enqueue(channel: string, segment: number): Promise<unknown>;
  log?: { warn(obj: object, msg?: string): void };
}

export interface TranscodeSchedulerConfig {
  /** How often the channel list is reloaded, ms. */
  refreshMs: number;
  /** Longest blocking read, ms (also the longest close() waits). */
  blockMs: number;
}

export const DEFAULT_SCHEDULER_CONFIG: TranscodeSchedulerConfig = { refreshMs: 3000, blockMs: 1000 };

export interface TranscodeScheduler {
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createTranscodeScheduler(deps: TranscodeSchedulerDeps, config: TranscodeSchedulerConfig = DEFAULT_SCHEDULER_CONFIG): TranscodeScheduler {
  const cursors = new Map<string, string>();
  let running = false;
  let loop: Promise<void> | null = null;
  let lastRefresh = 0;

  async function enqueue(channel: string, segment: number): Promise<void> {
    await deps.enqueue(channel, segment).catch((err: Error) => deps.log?.warn({ channel, segment, err: err.message }, 'could not enqueue a transcode job'));
  }

  async function refresh(): Promise<void> {
    lastRefresh = Date.now();
    const names = new Set((await deps.channels.list()).map((c) => c.name));
    for (const n of [...cursors.keys()]) if (!names.has(n)) cursors.delete(n);
    for (const n of names) {
      if (cursors.has(n)) continue;
      cursors.set(n, await deps.live.lastEventId(n));
      const open = (await deps.live.lastSegments(n, 1))[0];
      if (open && open.durationPts === null) await enqueue(n, open.index);
    }
  }

  async function step(): Promise<void> {
    if (Date.now() - lastRefresh >= config.refreshMs) await refresh();
    if (cursors.size === 0) {
      await new Promise((r) => setTimeout(r, Math.min(config.blockMs, 200)));
      return;
    }
    const read = await deps.live.readManyEvents(deps.reader, cursors, config.blockMs, 200);
    for (const [name, { lastId, events }] of read) {
      cursors.set(name, lastId);
      for (const { event: e } of events) if (e.type === 'segment:opened') await enqueue(name, e.segment);
    }
  }

  return {
    async start() {
      if (running) return;
      running = true;
      await refresh();
      loop = (async () => {
        while (running) {
          try {
            await step();
          } catch (err) {
            if (!running) break;
            deps.log?.warn({ err: (err as Error).message }, 'transcode scheduler read failed');
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      })();
    },
    async close() {
      running = false;
      await loop;
      loop = null;
    },
  };
}
