/**
 * The transcoder role: a BullMQ worker on the transcode queue whose processor is a file (sandboxed: each job
 * slot is a child process, so a native crash costs one job, never the worker). Any number of workers on any
 * machines with the same Redis share the channels. Stalled-job settings make a SIGKILLed worker's jobs move on
 * within a few seconds: their retry finds the segment partly published or late and records a gap, while the
 * next segments' jobs go to the surviving workers as soon as they are enqueued. Results and failures arrive
 * here from the children, so this process reports the pipeline faults: each rung segment a job recorded as a
 * gap (TRANSCODE_LATE, TRANSCODE_ORPHANED, TRANSCODE_SEGMENT_FAILED) and each failed job (TRANSCODE_JOB_FAILED).
 */

import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../core/store/redis-connection';
import { TRANSCODE_QUEUE } from './queue';
import { createTranscodeMetrics, type TranscodeMetrics } from './transcode-metrics';
import { queueLagSeconds, type TranscodeJobData } from './segment-plan';
import { jobFailureFault, rungFaults, type SegmentJobResult } from './segment-result';
import { createFaultReporter } from '../core/observe/fault-reporter';
import { CHILD_CONFIG_ENV, type TranscodeChildConfig } from './transcode-processor';

export interface TranscodeWorkerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface TranscodeWorkerDeps {
  /** A connection BullMQ may use (maxRetriesPerRequest: null). */
  connection: RedisClient;
  registry?: Registry;
  log?: TranscodeWorkerLog;
}

export interface TranscodeWorkerConfig {
  /** BullMQ key prefix; the same as the queue's. */
  prefix: string;
  /** Job slots (sandboxed children). Default: 2 per core (a job spends most of a segment waiting for parts). */
  concurrency?: number;
  /** A job whose lock is not renewed for this long is stalled and taken by another worker. Default 4000 ms. */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for. Default 1500 ms. */
  stalledIntervalMs?: number;
  /** Worker name, stored on the jobs it takes (BullMQ `processedBy`). */
  name?: string;
  /** What the sandboxed children need: the store's Redis and the job settings. */
  child: TranscodeChildConfig;
  /** The processor file; default the compiled transcode-processor beside this file. */
  processorFile?: string;
  /** libuv pool size of each child (decode, filter and every rung's encode run there). Default 8. */
  childThreadpoolSize?: number;
}

export interface TranscodeWorker {
  start(): Promise<void>;
  close(): Promise<void>;
  readonly concurrency: number;
}

export function defaultConcurrency(): number {
  return Math.max(2, availableParallelism() * 2);
}

export function createTranscodeWorker(deps: TranscodeWorkerDeps, config: TranscodeWorkerConfig): TranscodeWorker {
  const concurrency = config.concurrency ?? defaultConcurrency();
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new Error(`transcoder concurrency must be a whole number >= 1, got ${String(config.concurrency)}`);
  const metrics: TranscodeMetrics | null = deps.registry ? createTranscodeMetrics(deps.registry) : null;
  // Results and failures arrive here from the sandboxed children: the faults are reported in this process.
  const faults = createFaultReporter({ registry: deps.registry, log: deps.log });
  let worker: Worker<TranscodeJobData, SegmentJobResult> | null = null;

  return {
    concurrency,
    async start() {
      if (worker) return;
      const lockDuration = config.lockDurationMs ?? 4000;
      worker = new Worker<TranscodeJobData, SegmentJobResult>(TRANSCODE_QUEUE, config.processorFile ?? join(__dirname, 'transcode-processor.js'), {
        connection: deps.connection,
        prefix: config.prefix,
        ...(config.name ? { name: config.name } : {}),
        concurrency,
        lockDuration,
        stalledInterval: config.stalledIntervalMs ?? 1500,
        maxStalledCount: 1,
        autorun: false,
        useWorkerThreads: false,
        workerForkOptions: {
          execArgv: ['--enable-source-maps'],
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
          env: { ...process.env, UV_THREADPOOL_SIZE: String(config.childThreadpoolSize ?? 8), [CHILD_CONFIG_ENV]: JSON.stringify(config.child) },
        },
      });
      worker.on('completed', (job: Job<TranscodeJobData, SegmentJobResult>, result: SegmentJobResult) => {
        metrics?.observeJob(result, queueLagSeconds(job.timestamp, job.processedOn ?? Date.now()));
        const problems = result.rungs.filter((r) => r.alignmentProblems.length || r.action === 'gap');
        if (problems.length || result.note) deps.log?.warn({ channel: result.channel, segment: result.segment, note: result.note, rungs: problems }, 'transcode segment finished with problems');
        for (const { fault, context } of rungFaults(result)) faults.report(fault, context);
      });
      worker.on('failed', (job: Job<TranscodeJobData> | undefined, err: Error) => {
        metrics?.observeFailure();
        faults.report(jobFailureFault(err), { job: job?.id, channel: job?.data.channel, segment: job?.data.segment, err: err.message });
      });
      worker.on('error', (err: Error) => deps.log?.warn({ err: err.message }, 'transcode worker error'));
      void worker.run();
      await worker.waitUntilReady();
    },
    async close() {
      const w = worker;
      worker = null;
      await w?.close();
    },
  };
}
