/**
 * Pure: what a failed Redis call means for ingest, in words an operator understands. The kind comes from
 * the one classifier every role shares (core/store/redis-errors.ts) and is the label of
 * `beam_ingest_store_errors_total`. A lost connection or a failover is held first (segment-writer.ts
 * holdThroughOutage); a publish ends on one only when it lasts longer than BEAM_INGEST_OUTAGE_HOLD.
 */

import { redisFailureKind, redisFailureText, type RedisFailureKind } from '../core/store/redis-errors';

export type StoreErrorKind = RedisFailureKind;

export interface StoreFailure {
  kind: StoreErrorKind;
  /** For the channel status and the log: names the cause, never the raw command. */
  reason: string;
}

const REASONS: Record<Exclude<StoreErrorKind, 'other'>, string> = {
  oom: 'Redis refused writes: out of memory (maxmemory reached)',
  readonly: 'Redis refused writes: read-only (a replica, or failover in progress)',
  connection: 'Redis unavailable: connection lost',
};

export function classifyStoreError(err: unknown): StoreFailure {
  const kind = redisFailureKind(err);
  return { kind, reason: kind === 'other' ? redisFailureText(err) : REASONS[kind] };
}

/** Whether an error from the store means Redis is refusing or unreachable (not a bug in the caller). */
export function isStoreUnavailable(err: unknown): boolean {
  return classifyStoreError(err).kind !== 'other';
}
