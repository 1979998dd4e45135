/**
 * Per-process followers of channels' event streams. A channel's follower owns ONE dedicated Redis
 * connection running a blocking XREAD loop; every request waiting on that channel (blocking playlist
 * reloads, preloads of the next part) registers a check that is re-run after each batch of events,
 * so no request polls Redis. A follower starts on first use and stops after an idle period.
 */
import type { ChannelEvent } from '../../core/model/live';
import type { LiveStore } from '../../core/store/live-store';
import type { RedisClient } from '../../core/store/redis-connection';

export interface FollowerDeps {
  live: LiveStore;
  /** A new dedicated connection for one follower's blocking reads. */
  connect: () => RedisClient;
  /** Called with every batch of events (cache invalidation). */
  onEvents?: (channel: string, events: ChannelEvent[]) => void;
  onCountChange?: (count: number) => void;
  log?: { warn(obj: object, msg?: string): void };
}

export interface FollowerConfig {
  /** XREAD BLOCK timeout, ms (the loop re-checks for idleness this often). */
  blockMs: number;
  /** Stop a follower after this long without use, ms. */
  idleMs: number;
}

export interface ChannelFollower {
  /** Bumped after every batch of events (and after a reconnect). */
  readonly version: number;
  /** Resolves true once `check()` resolves true (checked at once, then after each event batch), false after `timeoutMs`. */
  waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean>;
  /** Resolves on the next batch of events, or after `timeoutMs` (then false). */
  nextEvents(timeoutMs: number): Promise<boolean>;
}

export interface EventFollowers {
  follow(channel: string): ChannelFollower;
  /** Version of a channel's follower, or null when none runs. */
  versionOf(channel: string): number | null;
  readonly count: number;
  close(): Promise<void>;
}

interface Waiter {
  check: () => Promise<boolean> | boolean;
  done: (ok: boolean) => void;
}

interface FollowerState extends ChannelFollower {
  lastUse: number;
  stop(): void;
  stopped: Promise<void>;
}

export function createEventFollowers(deps: FollowerDeps, config: FollowerConfig): EventFollowers {
  const followers = new Map<string, FollowerState>();
  let closed = false;

  function start(channel: string): FollowerState {
    const conn = deps.connect();
    const waiters = new Set<Waiter>();
    let version = 0;
    let running = true;
    let checking = false;
    let recheck = false;

    async function runChecks(): Promise<void> {
      if (checking) {
        recheck = true;
        return;
      }
      checking = true;
      try {
        do {
          recheck = false;
          for (const w of [...waiters]) {
            let ok = false;
            try {
              ok = await w.check();
            } catch {
              ok = true; // let the request re-render and report the error itself
            }
            if (ok) w.done(true);
          }
        } while (recheck);
      } finally {
        checking = false;
      }
    }

    function addWaiter(check: Waiter['check'], timeoutMs: number): Promise<boolean> {
      state.lastUse = Date.now();
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => w.done(false), timeoutMs);
        const w: Waiter = {
          check,
          done: (ok) => {
            if (!waiters.delete(w)) return;
            clearTimeout(timer);
            state.lastUse = Date.now();
            resolve(ok);
          },
        };
        waiters.add(w);
        // The request decided to wait on what it read before it got here; an event the loop consumed since
        // (and the checks it ran) would otherwise go unseen until the next one, a part later. Check once now.
        void Promise.resolve()
          .then(check)
          .then((ok) => ok && w.done(true), () => w.done(true));
      });
    }

    async function loop(): Promise<void> {
      let lastId = '$';
      let failures = 0;
      while (running) {
        if (waiters.size === 0 && Date.now() - state.lastUse > config.idleMs) break;
        try {
          const r = await deps.live.readEvents(conn, channel, lastId, config.blockMs);
          failures = 0;
          if (!running) break;
          if (r.events.length === 0 && r.lastId === lastId) continue;
          lastId = r.lastId;
          version++;
          deps.onEvents?.(channel, r.events.map((e) => e.event));
          await runChecks();
        } catch (e) {
          if (!running) break;
          failures++;
          deps.log?.warn({ channel, err: (e as Error).message }, 'event follower: read failed, retrying');
          version++;
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * failures)));
          lastId = '$';
          await runChecks();
        }
      }
      running = false;
      for (const w of [...waiters]) w.done(false);
    }

    const state: FollowerState = {
      lastUse: Date.now(),
      get version() {
        return version;
      },
      waitUntil(check, timeoutMs) {
        return addWaiter(check, timeoutMs);
      },
      nextEvents(timeoutMs) {
        const at = version;
        return addWaiter(() => version !== at, timeoutMs);
      },
      stop() {
        running = false;
        conn.disconnect();
      },
      stopped: Promise.resolve(),
    };
    state.stopped = loop().finally(() => {
      if (followers.get(channel) === state) followers.delete(channel);
      conn.disconnect();
      deps.onCountChange?.(followers.size);
    });
    return state;
  }

  return {
    follow(channel) {
      if (closed) throw new Error('event followers are closed');
      let f = followers.get(channel);
      if (!f) {
        f = start(channel);
        followers.set(channel, f);
        deps.onCountChange?.(followers.size);
      }
      f.lastUse = Date.now();
      return f;
    },
    versionOf(channel) {
      return followers.get(channel)?.version ?? null;
    },
    get count() {
      return followers.size;
    },
    async close() {
      closed = true;
      const all = [...followers.values()];
      for (const f of all) f.stop();
      await Promise.allSettled(all.map((f) => f.stopped));
    },
  };
}
