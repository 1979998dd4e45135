/**
 * Pure: what a failed Redis call means for ingest. Redis refusing writes (maxmemory reached, a read-only
 * replica) or a lost connection ends the affected publish with a reason an operator understands; the
 * kind is the label of `beam_ingest_store_errors_total`.
 */

export type StoreErrorKind = 'oom' | 'readonly' | 'connection' | 'other';

export interface StoreFailure {
  kind: StoreErrorKind;
  /** For the channel status and the log: names the cause, never the raw command. */
  reason: string;
}

function messagesOf(err: unknown): string[] {
  if (!(err instanceof Error)) return [String(err)];
  const out = [err.message];
  // ioredis: a MULTI refused at EXEC (EXECABORT) carries the errors of the queued commands.
  const previous = (err as Error & { previousErrors?: unknown[] }).previousErrors;
  if (Array.isArray(previous)) for (const p of previous) out.push(p instanceof Error ? p.message : String(p));
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string') out.push(code);
  return out;
}

export function classifyStoreError(err: unknown): StoreFailure {
  const text = messagesOf(err).join(' | ');
  if (/\bOOM\b|maxmemory/i.test(text)) return { kind: 'oom', reason: 'Redis refused writes: out of memory (maxmemory reached)' };
  if (/\bREADONLY\b|read only replica/i.test(text)) return { kind: 'readonly', reason: 'Redis refused writes: read-only (a replica, or failover in progress)' };
  if (/Connection is closed|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOENT|EPIPE|Stream isn't writeable|connection (lost|closed)|LOADING|MISCONF/i.test(text)) {
    return { kind: 'connection', reason: 'Redis unavailable: connection lost' };
  }
  return { kind: 'other', reason: text.length > 200 ? `${text.slice(0, 200)}…` : text };
}

/** Whether an error from the store means Redis is refusing or unreachable (not a bug in the caller). */
export function isStoreUnavailable(err: unknown): boolean {
  return classifyStoreError(err).kind !== 'other';
}
