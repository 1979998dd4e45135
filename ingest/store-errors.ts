/**
 * Pure: what a failed Redis call means for ingest, in words an operator understands. The kind comes from
 * the one classifier every role shares (core/store/redis-errors.ts) and is the label of
 * `beam_ingest_store_errors_total`. A lost connection or a failover is held first (segment-writer.ts
 * holdThroughOutage); a publish ends on one only when it lasts longer than BEAM_INGEST_OUTAGE_HOLD.
 */

import { PIPELINE_ERRORS, type PipelineErrorCode } from '../core/model/pipeline-errors';
import { redisFailureKind, redisFailureText, type RedisFailureKind } from '../core/store/redis-errors';

export type StoreErrorKind = RedisFailureKind;

/** The pipeline error code of each kind (its text is the reason an operator reads). */
export const STORE_FAULT_CODES: Readonly<Record<StoreErrorKind, PipelineErrorCode>> = {
  oom: 'STORE_OOM',
  readonly: 'STORE_READONLY',
  connection: 'STORE_UNAVAILABLE',
  other: 'STORE_FAILED',
};

export interface StoreFailure {
  kind: StoreErrorKind;
  /** For the channel status and the log: names the cause, never the raw command. */
  reason: string;
}

export function classifyStoreError(err: unknown): StoreFailure {
  const kind = redisFailureKind(err);
  return { kind, reason: kind === 'other' ? redisFailureText(err) : PIPELINE_ERRORS[STORE_FAULT_CODES[kind]].text };
}
