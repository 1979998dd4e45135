/**
 * Pure: the webhook vocabulary shared by the configuration (the server's webhook), the channel model (a
 * channel's own webhook) and core/webhooks (delivery): the events, the URL and secret rules, and the setting a
 * channel stores.
 *
 * URLs come from the operator (configuration) or a holder of the API token (channel API); both are trusted to
 * name a receiver, so any host is allowed, but only `http:`/`https:` (no `file:`, `ftp:`, `data:`…), without
 * credentials in the URL (they would be shown and logged) and without a fragment. Redirects are not followed
 * and answers are read with a size bound (core/webhooks/http-post.ts).
 */

/** The events a webhook receives: `publish` asks (admission), the others tell (notifications). */
export const WEBHOOK_EVENTS = ['publish', 'publisher.connected', 'publisher.disconnected', 'channel.live', 'channel.idle', 'backup.switch'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Longest webhook URL accepted. */
export const WEBHOOK_URL_MAX = 2048;
/** A shared secret's length bounds (characters): at least 128 bits of a random hex or base64 string. */
export const WEBHOOK_SECRET_MIN = 16;
export const WEBHOOK_SECRET_MAX = 256;

/** A channel's own webhook: every delivery about the channel also goes here, signed with `secret`. */
export interface ChannelWebhook {
  url: string;
  secret: string;
}

/** Pure: why `v` is not an acceptable webhook URL, or null when it is. */
export function webhookUrlProblem(v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0) return 'must be an http:// or https:// URL';
  if (v.length > WEBHOOK_URL_MAX) return `must be at most ${WEBHOOK_URL_MAX} characters`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `must use http:// or https:// (not ${u.protocol})`;
  if (u.username !== '' || u.password !== '') return 'must not carry credentials (user:password@): put a token in the path or query, or verify the signature';
  if (u.hash !== '') return 'must not have a #fragment';
  if (u.hostname === '') return 'must name a host';
  return null;
}

/** Pure: why `v` is not an acceptable shared secret, or null when it is. */
export function webhookSecretProblem(v: unknown): string | null {
  if (typeof v !== 'string') return 'must be a string';
  if (v.length < WEBHOOK_SECRET_MIN || v.length > WEBHOOK_SECRET_MAX) return `must be ${WEBHOOK_SECRET_MIN} to ${WEBHOOK_SECRET_MAX} characters`;
  if (!/^[\x21-\x7e]+$/.test(v)) return 'must be printable ASCII without spaces';
  return null;
}

/** Pure: the host (and port) of a webhook URL, for logs and the delivery log (never the path or query: they may hold a token). */
export function webhookHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}
