/**
 * Pure: what a failed Redis call means, in one place for every role. Redis unreachable (a lost connection,
 * a cluster failing over: slots without a primary, too many redirections while the slot map is refreshed)
 * or refusing writes (maxmemory, a read-only replica) is a dependency's state, not a bug: the HTTP layer
 * answers 503 with Retry-After, ingest ends or holds a publish with a reason an operator understands.
 */

export type RedisFailureKind = 'oom' | 'readonly' | 'connection' | 'other';

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

const OOM = /\bOOM\b|maxmemory/i;
const READONLY = /\bREADONLY\b|read only replica/i;
const CONNECTION = /Connection is closed|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOENT|EPIPE|Stream isn't writeable|connection (lost|closed)|\bLOADING\b|\bMISCONF\b|\bMASTERDOWN\b|\bCLUSTERDOWN\b|\bTRYAGAIN\b|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|\bBUSY\b/i;

/** The kind of a Redis failure: oom, readonly, connection (unreachable, failing over), or other (not Redis's state). */
export function redisFailureKind(err: unknown): RedisFailureKind {
  if (err instanceof Error && (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError')) return 'connection';
  const text = messagesOf(err).join(' | ');
  if (OOM.test(text)) return 'oom';
  if (READONLY.test(text)) return 'readonly';
  if (CONNECTION.test(text)) return 'connection';
  return 'other';
}

/** The full text of a failure (EXECABORT's queued errors included), bounded for logs and statuses. */
export function redisFailureText(err: unknown): string {
  const text = messagesOf(err).join(' | ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** True when Redis is unreachable, failing over or refusing writes (not a bug in the caller). */
export function isRedisUnavailable(err: unknown): boolean {
  return redisFailureKind(err) !== 'other';
}
