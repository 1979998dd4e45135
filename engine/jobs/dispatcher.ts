/**
 * Rules → jobs: for a request, run the jobs of the rules that match it, in order, on their BullMQ queues,
 * and turn the first job that answers into an HTTP answer. Identical concurrent requests share one job
 * (the job id is derived from the rule and the request); a job that does not finish within `timeoutMs`
 * answers 504; a request whose job chain leads back to a rule already in it answers 508.
 * Binary bodies travel through Redis: the job result names a key holding the bytes.
 */

import { createHash } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { addAndWait, openQueueEvents, JOB_TIMEOUT_MESSAGE } from './await-job';
import type { JobRule } from '../config/config';
import type { RedisClient } from '../store/redis-connection';
import { CHAIN_HEADER, JobError, type JobAnswer, type JobRequest, type JobResult } from './job-types';
import { compileRules, extendChain, matchRules, parseChain, pathOf, queryOf, type CompiledRule } from './rules';
import { errorAnswer, resultToAnswer } from './answers';

export interface DispatcherDeps {
  /** Reads binary bodies named by job results. */
  redis: RedisClient;
  /** A new connection for each BullMQ queue and queue-events reader (blocking reads need their own). */
  connect(): RedisClient;
  log?: { warn(obj: object, msg?: string): void };
}

export interface DispatcherConfig {
  rules: Record<string, JobRule>;
  /** BullMQ prefix (keys.jobQueuePrefix). */
  prefix: string;
  /** Longest a request waits for its job before answering 504. */
  timeoutMs: number;
}

export interface IncomingRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface JobDispatcher {
  /** True when some rule could apply to this method and path (cheap pre-check for the hooks). */
  hasRules(postRoute: boolean): boolean;
  /** Pre-route: the answer of the first matching job that answers, or null to pass the request on. */
  preRoute(req: IncomingRequest): Promise<JobAnswer | null>;
  /** Post-route: the same for the rules matching the response's status. */
  postRoute(req: IncomingRequest, status: number): Promise<JobAnswer | null>;
  close(): Promise<void>;
}

/** Pure: the deterministic job id of a rule applied to a request (BullMQ ids may not contain ':'). */
export function jobIdOf(ruleName: string, method: string, url: string, status?: number): string {
  return createHash('sha256').update(`${ruleName}\n${method}\n${url}\n${status ?? ''}`).digest('hex').slice(0, 40);
}

function flatHeaders(h: IncomingRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function createJobDispatcher(deps: DispatcherDeps, config: DispatcherConfig): JobDispatcher {
  const rules = compileRules(config.rules);
  const queues = new Map<string, { queue: Queue; ready: Promise<QueueEvents> }>();
  const connections: RedisClient[] = [];
  /** Identical requests in this process wait on one promise (other processes share the BullMQ job). */
  const inflight = new Map<string, Promise<JobResult>>();
  let closed = false;

  function queueOf(name: string) {
    let q = queues.get(name);
    if (!q) {
      const qc = deps.connect();
      const ec = deps.connect();
      connections.push(qc, ec);
      const queue = new Queue(name, { connection: qc, prefix: config.prefix });
      queue.on('error', (err) => deps.log?.warn({ err: err.message, queue: name }, 'job queue error'));
      // Many requests may wait on one queue at once: each waiter adds listeners.
      queue.setMaxListeners(0);
      const ready = openQueueEvents(name, config.prefix, ec, deps.redis).then((events) => {
        events.on('error', (err) => deps.log?.warn({ err: err.message, queue: name }, 'job queue events error'));
        return events;
      });
      q = { queue, ready };
      queues.set(name, q);
    }
    return q;
  }

  async function runJob(c: CompiledRule, data: JobRequest, jobId: string): Promise<JobResult> {
    const { queue, ready } = queueOf(c.rule.queue);
    const events = await ready;
    try {
      return ((await addAndWait(queue, events, c.rule.function, data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 }, config.timeoutMs)) ?? {}) as JobResult;
    } catch (e) {
      const msg = (e as Error).message ?? '';
      if (msg.includes(JOB_TIMEOUT_MESSAGE)) {
        throw new JobError(504, `Job '${c.rule.function}' on queue '${c.rule.queue}' (rule '${c.rule.name}') did not finish within ${config.timeoutMs} ms.`);
      }
      throw new JobError(500, `Job '${c.rule.function}' on queue '${c.rule.queue}' (rule '${c.rule.name}') failed: ${msg}`);
    }
  }

  async function apply(req: IncomingRequest, status?: number): Promise<JobAnswer | null> {
    if (closed) return null;
    const path = pathOf(req.url);
    const matched = matchRules(rules, req.method, path, status);
    if (matched.length === 0) return null;
    const headers = flatHeaders(req.headers);
    const incoming = parseChain(headers[CHAIN_HEADER]);
    for (const c of matched) {
      try {
        const chain = extendChain(incoming, c.link);
        const data: JobRequest = { rule: c.rule, path, url: req.url, method: req.method, headers, query: queryOf(req.url), chain, ...(status === undefined ? {} : { statusCode: status }) };
        const jobId = jobIdOf(c.rule.name, req.method, req.url, status);
        let pending = inflight.get(jobId);
        if (!pending) {
          pending = runJob(c, data, jobId).finally(() => inflight.delete(jobId));
          inflight.set(jobId, pending);
        }
        const result = await pending;
        const answer = await resultToAnswer(result, deps.redis);
        if (answer) return answer;
      } catch (e) {
        return errorAnswer(e);
      }
    }
    return null;
  }

  return {
    hasRules: (post) => rules.some((c) => c.rule.postRoute === post),
    preRoute: (req) => apply(req),
    postRoute: (req, status) => apply(req, status),
    async close() {
      if (closed) return;
      closed = true;
      for (const { queue, ready } of queues.values()) {
        await Promise.allSettled([ready.then((events) => events.close()), queue.close()]);
      }
      await Promise.allSettled(connections.map((c) => c.quit()));
      for (const c of connections) c.disconnect();
    },
  };
}
