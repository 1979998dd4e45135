/**
 * Pure: when a notification is tried again. Only notifications are retried (an admission has one attempt
 * within its timeout, then the configured default). A failure is worth retrying when the receiver may
 * accept the same delivery later: no answer (connection refused, reset, timeout), 408, 429 or a 5xx. Any
 * other status (a 3xx: redirects are not followed; a 4xx) is final.
 */

/** Longest wait between two attempts, ms. */
export const MAX_RETRY_DELAY_MS = 60_000;

/** Pure: the wait after failed attempt `attempt` (1 = the first): `baseMs` doubled each time, at most `capMs`. */
export function backoffMs(attempt: number, baseMs: number, capMs = MAX_RETRY_DELAY_MS): number {
  const n = Math.max(1, Math.floor(attempt));
  return Math.min(capMs, baseMs * 2 ** Math.min(n - 1, 30));
}

/** Pure: the whole schedule of waits for `retries` retries (what the README's table shows). */
export function retrySchedule(retries: number, baseMs: number, capMs = MAX_RETRY_DELAY_MS): number[] {
  return Array.from({ length: retries }, (_, i) => backoffMs(i + 1, baseMs, capMs));
}

/** Pure: whether an attempt's outcome (a status, or none: `null`) is worth another attempt. */
export function isRetryable(status: number | null): boolean {
  if (status === null) return true;
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}
