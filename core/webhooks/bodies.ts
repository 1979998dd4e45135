/**
 * Pure: the JSON bodies a webhook receives and how an admission answer is read.
 *
 * Every body has `event`, `id` (this delivery: the same on every retry of it, so a receiver can drop
 * duplicates), `timestamp` (when the event happened, ISO 8601) and `channel`. A publish has a `requestId` that
 * its `publisher.connected` and `publisher.disconnected` repeat. No body carries a stream key, a passphrase or
 * a secret.
 */

import type { WebhookEvent } from '../model/webhook';

export type IngestProtocol = 'srt' | 'rtmp' | 'whip';

export interface PeerAddress {
  address: string;
  port: number;
}

/** What happened, without the delivery's own fields (id, timestamp). */
export type WebhookNotice =
  | { event: 'publish'; channel: string; requestId: string; protocol: IngestProtocol; peer: PeerAddress }
  | { event: 'publisher.connected'; channel: string; requestId: string; protocol: IngestProtocol; peer: PeerAddress }
  | { event: 'publisher.disconnected'; channel: string; requestId: string; protocol: IngestProtocol; peer: PeerAddress; reason: string; code: string }
  | { event: 'channel.live'; channel: string; requestId: string; protocol: IngestProtocol }
  | { event: 'channel.idle'; channel: string; reason: string | null; code: string | null }
  /** A channel with redundant publishers switched its on-air input (ingest/redundancy.ts). */
  | { event: 'backup.switch'; channel: string; from: 'primary' | 'backup'; to: 'primary' | 'backup'; reason: string };

export type WebhookBody = WebhookNotice & { id: string; timestamp: string };

/** Pure: the body of one delivery, as sent (JSON text: the signature covers exactly these bytes). */
export function bodyText(notice: WebhookNotice, id: string, atMs: number): string {
  const { event, ...rest } = notice;
  const body: Record<string, unknown> = { event, id, timestamp: new Date(atMs).toISOString(), ...rest };
  return JSON.stringify(body);
}

/** Longest reason kept from a webhook's answer (it reaches the channel status and the RTMP client). */
export const REASON_MAX = 200;

/** Pure: a receiver's reason made safe to store and show: no control characters, one line, bounded. */
export function cleanReason(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (s.length === 0) return null;
  return s.length > REASON_MAX ? `${s.slice(0, REASON_MAX - 1)}…` : s;
}

/** What an admission webhook said: an answer (allow or deny, with the receiver's reason), or none readable. */
export type AdmissionAnswer = { kind: 'answer'; allow: boolean; reason: string | null } | { kind: 'unreadable'; reason: string };

/**
 * Pure: a 2xx allows unless its JSON body says `"allow": false`; any other status refuses. The reason is the
 * body's `reason` when it has one, else `HTTP <status>` for a refusal. A 2xx whose body was cut at the size bound
 * is unreadable (it might have said no): the configured default decides, as for no answer.
 */
export function parseAdmissionAnswer(status: number, text: string, truncated: boolean): AdmissionAnswer {
  const ok = status >= 200 && status < 300;
  if (ok && truncated) return { kind: 'unreadable', reason: 'the answer was larger than the size bound' };
  let json: unknown = null;
  if (!truncated && text.trim().length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  const obj = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : null;
  const reason = cleanReason(obj?.reason);
  if (!ok) return { kind: 'answer', allow: false, reason: reason ?? `HTTP ${status}` };
  if (obj?.allow === false) return { kind: 'answer', allow: false, reason: reason ?? 'allow: false' };
  return { kind: 'answer', allow: true, reason };
}

/** Pure: whether an event is an admission request (asked and waited for) rather than a notification. */
export function isAdmission(event: WebhookEvent): boolean {
  return event === 'publish';
}
