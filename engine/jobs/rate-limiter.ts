/**
 * A per-client request limiter for the job routes: a fixed window per client (N requests per window),
 * in memory, with a bounded number of clients remembered (the oldest window is forgotten first, so an
 * attacker spraying addresses costs a bounded amount of memory). IPv6 clients are counted per /64, the
 * block one subscriber usually holds, so rotating addresses inside it gains nothing.
 *
 * Why not @fastify/rate-limit: the job routes are answered in a root `onRequest` hook before routing,
 * where the plugin's per-route hooks never run; its limiter would have to be registered on an app this
 * folder does not own and would share one store, keyed by address only, with any other limit there.
 */

import { addressBucket } from '../../core/model/address-bucket';

export interface RateLimiterConfig {
  /** Requests allowed per client per window; 0 = no limit. */
  max: number;
  windowMs: number;
  /** Clients remembered at most. */
  maxClients: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the client's window ends (for Retry-After). */
  retryAfterS: number;
  remaining: number;
}

export interface RateLimiter {
  hit(client: string, now?: number): RateDecision;
  /** Clients currently remembered. */
  size(): number;
}

/** Pure: the key a client is counted under: an IPv4 address, or the /64 of an IPv6 address. */
export function clientKey(ip: string | undefined): string {
  return ip ? addressBucket(ip) : 'unknown';
}

export function createRateLimiter(config: RateLimiterConfig): RateLimiter {
  /** Insertion order = window start order: the first entry is the oldest. */
  const windows = new Map<string, { start: number; count: number }>();
  return {
    hit(client, now = Date.now()) {
      if (config.max <= 0) return { allowed: true, retryAfterS: 0, remaining: Infinity };
      let w = windows.get(client);
      if (!w || now - w.start >= config.windowMs) {
        if (w) windows.delete(client);
        w = { start: now, count: 0 };
        windows.set(client, w);
        // Forget expired windows first, then the oldest, to stay within maxClients.
        for (const [k, v] of windows) {
          if (windows.size <= config.maxClients && now - v.start < config.windowMs) break;
          if (k !== client) windows.delete(k);
        }
      }
      w.count++;
      const retryAfterS = Math.max(1, Math.ceil((w.start + config.windowMs - now) / 1000));
      return { allowed: w.count <= config.max, retryAfterS, remaining: Math.max(0, config.max - w.count) };
    },
    size: () => windows.size,
  };
}
