/**
 * The transcode queue: one BullMQ job per (channel, segment), whose data are references only. The job id is
 * deterministic, so a segment enqueued twice (a retried enqueue) is one job. Finished jobs are
 * kept only in bounded numbers.
 */

import { Queue } from 'bullmq';
import type { RedisClient } from '../core/store/redis-connection';
import { transcodeJobId, type TranscodeJobData } from './segment-plan';

export const TRANSCODE_QUEUE = 'transcode';

export interface TranscodeQueueDeps {
  /** A connection BullMQ may use (maxRetriesPerRequest: null). */
  connection: RedisClient;
}

export interface TranscodeQueueConfig {
  /** BullMQ key prefix (on a Redis Cluster, a hash tag such as `{beam-bull}`). */
  prefix: string;
  /** Completed / failed jobs kept for inspection. */
  keepCompleted?: number;
  keepFailed?: number;
  /** Attempts per job: a second attempt after a crashed sandbox records a gap rather than a rewrite. */
  attempts?: number;
}

export interface TranscodeQueue {
  readonly queue: Queue<TranscodeJobData>;
  /** Enqueue the segment's job (no-op when a job with its id exists). Resolves with the job id. */
  enqueueSegment(channel: string, segment: number): Promise<string>;
  close(): Promise<void>;
}

export function createTranscodeQueue(deps: TranscodeQueueDeps, config: TranscodeQueueConfig): TranscodeQueue {
  const queue = new Queue<TranscodeJobData>(TRANSCODE_QUEUE, { connection: deps.connection, prefix: config.prefix });
  return {
    queue,
    async enqueueSegment(channel, segment) {
      const jobId = transcodeJobId(channel, segment);
      await queue.add('segment', { channel, segment }, {
        jobId,
        attempts: config.attempts ?? 2,
        removeOnComplete: { count: config.keepCompleted ?? 1000 },
        removeOnFail: { count: config.keepFailed ?? 1000 },
      });
      return jobId;
    },
    async close() {
      await queue.close();
    },
  };
}
