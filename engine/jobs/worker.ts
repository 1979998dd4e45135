/**
 * The worker side of rules jobs: a BullMQ consumer that picks a function by name (the rule's `function`)
 * from a registry and runs it. A function gets the job (`job.data` is the JobRequest) and helpers to keep
 * bytes in Redis for the response and to enqueue further jobs (refused when they would lead back to a job
 * already in the chain). Errors with a status (JobError, BeamError, Boom) answer with that status as JSON.
 */

import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Store } from '../../core/store/store';
import type { RedisClient } from '../../core/store/redis-connection';
import { statusOfError } from './answers';
import { addAndWait, openQueueEvents, JOB_TIMEOUT_MESSAGE } from './await-job';
import { CHAIN_HEADER, JobError, type JobRequest, type JobResult } from './job-types';
import { chainLink, extendChain } from './rules';

/** What a job function receives. */
export interface WorkerJob {
  /** BullMQ's job id (deterministic for identical requests). */
  id: string;
  data: JobRequest;
  store: Store;
  /** The ephemeral time-to-live of results, ms. */
  ephemeralTtlMs: number;
  /** Keep `bytes` in Redis with the ephemeral TTL and return the result answering with them. */
  respondWithBytes(bytes: Buffer, type: string, extra?: { status?: number; headers?: Record<string, string>; key?: string }): Promise<JobResult>;
  /** Run another function as a job on a queue and wait for its result; circular chains are refused (508). */
  enqueue(queue: string, fn: string, overrides?: Partial<JobRequest>): Promise<JobResult>;
  /** Headers for an HTTP request this job makes back to the engine, so a loop through HTTP is refused too. */
  chainHeaders(): Record<string, string>;
}

export type JobFunction = (job: WorkerJob) => Promise<JobResult | JobRequest | undefined | void>;

/** A job handler for everything on a queue, as in the original engine's `consumer.process(…)`. */
export type JobHandler = JobFunction;

export interface JobWorkerDeps {
  store: Store;
  /** A new Redis connection (BullMQ workers hold blocking reads). */
  connect(): RedisClient;
  log?: { warn(obj: object, msg?: string): void; error?(obj: object, msg?: string): void };
}

export interface JobWorkerConfig {
  queue: string;
  /** BullMQ prefix (keys.jobQueuePrefix). */
  prefix: string;
  /** A registry of functions by name, or one handler for every job. */
  functions: Record<string, JobFunction> | JobHandler;
  concurrency: number;
  ephemeralTtlMs: number;
  /** Longest an enqueued child job is waited for. Default 30 s. */
  childTimeoutMs?: number;
}

export interface JobWorker {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Turn whatever a function returned or threw into the result stored on the job. */
export function settleResult(value: unknown): JobResult {
  if (value === undefined || value === null || typeof value !== 'object') return {};
  const v = value as JobResult & Partial<JobRequest>;
  const { respond, response, status, body, type, bodyKey, headers } = v;
  return { respond, response, status, body, type, bodyKey, headers };
}

export function errorResult(e: unknown): JobResult | null {
  const status = statusOfError(e);
  if (status === null) return null;
  const reason = { 400: 'Bad Request', 404: 'Not Found', 504: 'Gateway Timeout', 508: 'Loop Detected' }[status as 400] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request');
  return { respond: true, status, type: 'application/json; charset=utf-8', body: { statusCode: status, error: reason, message: (e as Error).message } };
}

export function createJobWorker(deps: JobWorkerDeps, config: JobWorkerConfig): JobWorker {
  let worker: Worker | null = null;
  const connections: RedisClient[] = [];
  const children = new Map<string, { queue: Queue; ready: Promise<QueueEvents> }>();
  const store = deps.store;
  /** One connection of the worker's own for the newest id of a child queue's events (opened on first use). */
  let eventsReader: RedisClient | null = null;

  function connection(): RedisClient {
    const c = deps.connect();
    connections.push(c);
    return c;
  }

  function childQueue(name: string) {
    let q = children.get(name);
    if (!q) {
      q = { queue: new Queue(name, { connection: connection(), prefix: config.prefix }), ready: openQueueEvents(name, config.prefix, connection(), (eventsReader ??= connection())) };
      children.set(name, q);
    }
    return q;
  }

  function pick(fnName: string): JobFunction {
    if (typeof config.functions === 'function') return config.functions;
    const fn = Object.prototype.hasOwnProperty.call(config.functions, fnName) ? config.functions[fnName] : undefined;
    if (!fn) throw new Error(`Unknown function '${fnName}' on queue '${config.queue}' (this worker has ${Object.keys(config.functions).join(', ') || 'none'}).`);
    return fn;
  }

  function makeJob(job: Job): WorkerJob {
    const data = job.data as JobRequest;
    data.chain = Array.isArray(data.chain) ? data.chain : [];
    return {
      id: String(job.id),
      data,
      store,
      ephemeralTtlMs: config.ephemeralTtlMs,
      async respondWithBytes(bytes, type, extra = {}) {
        const key = await store.putJobResult(bytes, config.ephemeralTtlMs, extra.key);
        return { respond: true, status: extra.status ?? 200, type, bodyKey: key, headers: extra.headers };
      },
      async enqueue(queue, fn, overrides = {}) {
        const chain = extendChain(data.chain, chainLink(queue, fn));
        const { queue: q, ready } = childQueue(queue);
        const events = await ready;
        const child: JobRequest = { ...data, ...overrides, rule: { ...data.rule, queue, function: fn }, chain };
        try {
          return settleResult(await addAndWait(q, events, fn, child, { removeOnComplete: true, removeOnFail: true, attempts: 1 }, config.childTimeoutMs ?? 30000));
        } catch (e) {
          const msg = (e as Error).message;
          throw new JobError(msg.includes(JOB_TIMEOUT_MESSAGE) ? 504 : 500, `Job '${fn}' on queue '${queue}' enqueued by '${data.rule.function}' failed: ${msg}`);
        }
      },
      chainHeaders: () => ({ [CHAIN_HEADER]: data.chain.join(',') }),
    };
  }

  return {
    async start() {
      if (worker) return;
      worker = new Worker(
        config.queue,
        async (job: Job) => {
          try {
            const fn = pick(job.name);
            return settleResult(await fn(makeJob(job)));
          } catch (e) {
            const answered = errorResult(e);
            if (answered) return answered;
            deps.log?.warn({ err: (e as Error).message, queue: config.queue, fn: job.name }, 'job function failed');
            throw e;
          }
        },
        { connection: connection(), prefix: config.prefix, concurrency: config.concurrency },
      );
      worker.on('error', (err) => deps.log?.warn({ err: err.message, queue: config.queue }, 'job worker error'));
      await worker.waitUntilReady();
    },
    async close() {
      await worker?.close();
      worker = null;
      for (const { queue, ready } of children.values()) await Promise.allSettled([ready.then((events) => events.close()), queue.close()]);
      children.clear();
      await Promise.allSettled(connections.map((c) => c.quit()));
      for (const c of connections) c.disconnect();
      connections.length = 0;
    },
  };
}
