/**
 * The last N deliveries of this process (admissions and notifications), newest first: a fixed-size ring, so
 * its memory is bounded whatever the traffic. What GET /api/webhooks/deliveries answers.
 */

import type { WebhookEvent } from '../model/webhook';

export interface DeliveryRecord {
  id: string;
  event: WebhookEvent;
  channel: string;
  /** Whose webhook: the server's (BEAM_WEBHOOK_URL) or the channel's own. */
  target: 'server' | 'channel';
  /** Host and port of the URL (never its path or query, which may carry a token). */
  host: string;
  /** delivered: a 2xx (an admission: any answer); failed: no 2xx after the last attempt; dropped: pushed out of a full queue, or left at shutdown. */
  outcome: 'delivered' | 'failed' | 'dropped';
  /** The last HTTP status, or null when there was no answer. */
  status: number | null;
  /** Why the last attempt failed (timeout, connection refused…), or null. */
  error: string | null;
  attempts: number;
  /** Time spent in HTTP exchanges, all attempts together (backoff waits excluded), ms. */
  durationMs: number;
  /** When the event happened (the delivery was created). */
  at: string;
  /** When its outcome was settled. */
  finishedAt: string;
  /** Admissions: what this webhook's answer (or the default, without one) decided. */
  decision?: 'allow' | 'deny';
}

export interface DeliveryLog {
  add(r: DeliveryRecord): void;
  /** The newest `limit` records, newest first. */
  list(limit?: number): DeliveryRecord[];
  readonly capacity: number;
}

export function createDeliveryLog(capacity: number): DeliveryLog {
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new Error(`delivery log size must be an integer ≥ 1, got ${capacity}`);
  const ring: DeliveryRecord[] = [];
  let next = 0;
  return {
    capacity,
    add(r) {
      if (ring.length < capacity) ring.push(r);
      else ring[next] = r;
      next = (next + 1) % capacity;
    },
    list(limit = capacity) {
      const out: DeliveryRecord[] = [];
      for (let i = 1; i <= Math.min(limit, ring.length); i++) out.push(ring[(next - i + ring.length * 2) % ring.length] as DeliveryRecord);
      return out;
    },
  };
}
