/**
 * Add a BullMQ job and wait for its outcome from the queue's event stream. The listeners are attached
 * before the job is added and the job id is known up front, so a job that finishes and is removed at once
 * (removeOnComplete) is never missed — `job.waitUntilFinished` reads the job's key first and fails with
 * "Missing key" in that race. An identical job already in flight (same id) is shared: its events resolve us.
 */

import { randomUUID } from 'node:crypto';
import { QueueEvents, type JobsOptions, type Queue } from 'bullmq';
import type { RedisClient } from '../../core/store/redis-connection';

export const JOB_TIMEOUT_MESSAGE = 'timed out before finishing';
export const JOB_ABANDONED_MESSAGE = 'was given up by every request waiting for it';

function parseReturn(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/**
 * `events` must be ready (QueueEvents only sees events after it connected). `signal` aborting stops the
 * wait at once (rejecting with JOB_ABANDONED_MESSAGE); removing the job is the caller's decision.
 */
export function addAndWait(queue: Queue, events: QueueEvents, name: string, data: unknown, opts: JobsOptions, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  const jobId = opts.jobId ?? randomUUID();
  events.setMaxListeners(0);
  return new Promise<unknown>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error(`Job ${jobId} ${JOB_ABANDONED_MESSAGE}`));
      return;
    }
    const onCompleted = (args: { jobId: string; returnvalue: unknown }) => {
      if (args.jobId !== jobId) return;
      cleanup();
      resolve(parseReturn(args.returnvalue));
    };
    const onFailed = (args: { jobId: string; failedReason: string }) => {
      if (args.jobId !== jobId) return;
      cleanup();
      reject(new Error(args.failedReason));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Job ${jobId} ${JOB_TIMEOUT_MESSAGE} (${timeoutMs} ms)`));
    }, timeoutMs);
    const onAbort = () => {
      cleanup();
      reject(new Error(`Job ${jobId} ${JOB_ABANDONED_MESSAGE}`));
    };
    function cleanup(): void {
      clearTimeout(timer);
      events.off('completed', onCompleted);
      events.off('failed', onFailed);
      signal?.removeEventListener('abort', onAbort);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    events.on('completed', onCompleted);
    events.on('failed', onFailed);
    queue.add(name, data, { ...opts, jobId }).catch((e: unknown) => {
      cleanup();
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

/**
 * A QueueEvents that sees every event written from now on: it starts reading after the stream's current
 * last entry (not at '$', which is resolved only when its first blocking read reaches Redis — an event
 * written in between would be lost, and a job's outcome with it).
 */
export async function openQueueEvents(name: string, prefix: string, connection: RedisClient, redis: RedisClient): Promise<QueueEvents> {
  const last = (await redis.xrevrange(`${prefix}:${name}:events`, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
  const events = new QueueEvents(name, { connection, prefix, lastEventId: last });
  events.setMaxListeners(0);
  await events.waitUntilReady();
  return events;
}
