/**
 * Pure: how a webhook delivery is signed and how a receiver checks it. The signature is HMAC-SHA256, keyed with
 * the shared secret, over `<timestamp>.<body>` (the timestamp in Unix seconds as sent in its header, a dot,
 * then the raw body bytes), hex-encoded as `sha256=<hex>`. Every attempt is signed afresh with the time it is
 * sent, so a receiver can refuse a delivery whose timestamp is too old (a replay) and still accept a retry.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-beamline-signature';
export const TIMESTAMP_HEADER = 'x-beamline-timestamp';
export const EVENT_HEADER = 'x-beamline-event';
export const DELIVERY_HEADER = 'x-beamline-delivery';

/** How far a receiver should let a timestamp be from its own clock, seconds (the README's example uses it). */
export const DEFAULT_TOLERANCE_S = 300;

/** Pure: `sha256=<hex>` of `<timestampS>.<body>` under `secret`. */
export function signBody(secret: string, timestampS: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/** Pure: the headers of one attempt (content type, event, delivery id, timestamp and signature). */
export function signedHeaders(secret: string, body: string, nowMs: number, event: string, deliveryId: string): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'Beamline-Webhook/1',
    [EVENT_HEADER]: event,
    [DELIVERY_HEADER]: deliveryId,
    [TIMESTAMP_HEADER]: String(ts),
    [SIGNATURE_HEADER]: signBody(secret, ts, body),
  };
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/**
 * Pure: what a receiver does with a delivery: the timestamp must be a whole number of seconds within
 * `toleranceS` of `nowMs`, and the signature must match the body exactly as received (compared in constant time).
 */
export function verifySignature(v: { secret: string; body: string; timestamp: string | undefined; signature: string | undefined; nowMs: number; toleranceS?: number }): Verdict {
  if (v.timestamp === undefined || !/^\d{1,12}$/.test(v.timestamp)) return { ok: false, reason: `missing or malformed ${TIMESTAMP_HEADER}` };
  const ts = Number(v.timestamp);
  if (Math.abs(v.nowMs / 1000 - ts) > (v.toleranceS ?? DEFAULT_TOLERANCE_S)) return { ok: false, reason: 'timestamp outside the tolerance (a replay, or a clock off)' };
  if (v.signature === undefined) return { ok: false, reason: `missing ${SIGNATURE_HEADER}` };
  const want = Buffer.from(signBody(v.secret, ts, v.body));
  const got = Buffer.from(v.signature);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}
