/**
 * Rules → jobs: for a request, run the jobs of the rules that match it, in order, on their BullMQ queues,
 * and turn the first job that answers into an HTTP answer. Identical concurrent requests share one job
 * (the job id is derived from the rule and the request's identity — for the built-in functions the parsed
 * request, see job-identity.ts); a job that does not finish within `timeoutMs` answers 504; a request whose
 * job chain leads back to a rule already in it answers 508. Binary bodies travel through Redis: the job
 * result names a key holding the bytes.
 *
 * Bounded work: each client may make `ratePerMinute` rule-matched requests a minute (429 + Retry-After); a
 * queue holding `maxWaiting` waiting jobs refuses new ones (503 + Retry-After); a job whose every waiting
 * request gave up (timeout or client gone) is removed from its queue if it has not started (a started
 * job finishes and its result is cached by the function). Job data keeps allow-listed headers only.
 */

import { Queue, QueueEvents } from 'bullmq';
import { addAndWait, openQueueEvents, JOB_ABANDONED_MESSAGE, JOB_TIMEOUT_MESSAGE } from './await-job';
import type { JobRule } from '../../core/config/config';
import type { RedisClient } from '../../core/store/redis-connection';
import { CHAIN_HEADER, JobError, type JobAnswer, type JobRequest, type JobResult } from './job-types';
import { canonicalUrl, defaultIdentity, jobHeaders, jobIdOf, type RequestNormalizer } from './job-identity';
import { compileRules, extendChain, matchRules, parseChain, pathOf, queryOf, type CompiledRule } from './rules';
import { errorAnswer, jsonError, resultToAnswer } from './answers';
import { clientKey, createRateLimiter } from './rate-limiter';

export { jobIdOf } from './job-identity';

export interface DispatcherDeps {
  /** Reads binary bodies named by job results. */
  redis: RedisClient;
  /** A new connection for each BullMQ queue and queue-events reader (blocking reads need their own). */
  connect(): RedisClient;
  log?: { warn(obj: object, msg?: string): void };
  /**
   * How a request for a function becomes a job, by `queue/function` (e.g. transcoders/jit jitNormalizers()):
   * its identity and the query it keeps; a normalizer may refuse a request (400) before any job exists.
   * Other functions get defaultIdentity (path and sorted query).
   */
  normalizers?: Record<string, RequestNormalizer>;
}

export interface DispatcherConfig {
  rules: Record<string, JobRule>;
  /** BullMQ prefix (keys.jobQueuePrefix). */
  prefix: string;
  /** Longest a request waits for its job before answering 504. */
  timeoutMs: number;
  /** Waiting jobs a queue may hold before new jobs answer 503 with Retry-After. Default 100. */
  maxWaiting?: number;
  /** Rule-matched requests per client (IPv4 address or IPv6 /64) per minute; 0 = no limit. Default 120. */
  ratePerMinute?: number;
  /** Clients the rate limiter remembers at most (its memory bound). Default 10000. */
  rateClients?: number;
}

export interface IncomingRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client's address, for the rate limit (none: the request is not limited). */
  ip?: string;
  /** Aborts when the client gave up (disconnected before the answer). */
  signal?: AbortSignal;
}

export interface JobDispatcher {
  /** True when some rule could apply to this method and path (cheap pre-check for the hooks). */
  hasRules(postRoute: boolean): boolean;
  /** Pre-route: the answer of the first matching job that answers, or null to pass the request on. */
  preRoute(req: IncomingRequest): Promise<JobAnswer | null>;
  /** Post-route: the same for the rules matching the response's status. */
  postRoute(req: IncomingRequest, status: number): Promise<JobAnswer | null>;
  /** Requests waiting for jobs in this process, and the jobs they wait for. */
  pending(): { requests: number; jobs: number };
  close(): Promise<void>;
}

/** Seconds a client is asked to wait when a queue is full. */
const QUEUE_FULL_RETRY_S = 5;

/** One job in flight in this process and the requests waiting for it. */
interface Flight {
  result: Promise<JobResult>;
  waiters: number;
  settled: boolean;
  abandon: AbortController;
}

export function createJobDispatcher(deps: DispatcherDeps, config: DispatcherConfig): JobDispatcher {
  const rules = compileRules(config.rules);
  const queues = new Map<string, { queue: Queue; ready: Promise<QueueEvents> }>();
  const connections: RedisClient[] = [];
  /** Identical requests in this process wait on one job (other processes share the BullMQ job by its id). */
  const inflight = new Map<string, Flight>();
  const maxWaiting = config.maxWaiting ?? 100;
  const limiter = createRateLimiter({ max: config.ratePerMinute ?? 120, windowMs: 60000, maxClients: config.rateClients ?? 10000 });
  const normalizers = deps.normalizers ?? {};
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
      ready.catch(() => undefined);
      q = { queue, ready };
      queues.set(name, q);
    }
    return q;
  }

  /** Remove a job nobody waits for any more, unless a worker has started it (then it finishes). */
  async function removeIfWaiting(queue: Queue, jobId: string): Promise<boolean> {
    try {
      return (await queue.remove(jobId)) === 1;
    } catch (e) {
      deps.log?.warn({ err: (e as Error).message, jobId }, 'could not remove an abandoned job');
      return false;
    }
  }

  async function runJob(c: CompiledRule, data: JobRequest, jobId: string, abandon: AbortSignal): Promise<JobResult> {
    const { queue, ready } = queueOf(c.rule.queue);
    const events = await ready;
    const what = `Job '${c.rule.function}' on queue '${c.rule.queue}' (rule '${c.rule.name}')`;
    const waiting = await queue.getWaitingCount();
    if (waiting >= maxWaiting) {
      throw new JobError(503, `${what} refused: the queue already holds ${waiting} waiting jobs (limit ${maxWaiting}); try again shortly.`, { 'retry-after': String(QUEUE_FULL_RETRY_S) });
    }
    try {
      return ((await addAndWait(queue, events, c.rule.function, data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 }, config.timeoutMs, abandon)) ?? {}) as JobResult;
    } catch (e) {
      const msg = (e as Error).message ?? '';
      if (msg.includes(JOB_ABANDONED_MESSAGE)) {
        await removeIfWaiting(queue, jobId);
        throw new JobError(499, `${what} was given up by its requests.`);
      }
      if (msg.includes(JOB_TIMEOUT_MESSAGE)) {
        const removed = await removeIfWaiting(queue, jobId);
        const fate = removed ? 'it had not started and was removed from the queue' : 'it had started and will finish; its result is kept for a while, so try again';
        throw new JobError(504, `${what} did not finish within ${config.timeoutMs} ms: ${fate}.`);
      }
      throw new JobError(500, `${what} failed: ${msg}`);
    }
  }

  /** Wait for a flight as one request; the last request to leave before it settles abandons the job. */
  function waitFor(jobId: string, flight: Flight, signal: AbortSignal | undefined): Promise<JobResult> {
    flight.waiters++;
    return new Promise<JobResult>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        signal?.removeEventListener('abort', onAbort);
        flight.waiters--;
        if (flight.waiters === 0 && !flight.settled) {
          if (inflight.get(jobId) === flight) inflight.delete(jobId);
          flight.abandon.abort();
        }
      };
      const onAbort = () => {
        leave();
        reject(new JobError(499, 'The client gave up before the job finished.'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      flight.result.then(
        (r) => {
          leave();
          resolve(r);
        },
        (e: unknown) => {
          leave();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  async function apply(req: IncomingRequest, status?: number): Promise<JobAnswer | null> {
    if (closed) return null;
    const path = pathOf(req.url);
    const matched = matchRules(rules, req.method, path, status);
    if (matched.length === 0) return null;
    if (req.ip !== undefined) {
      const d = limiter.hit(clientKey(req.ip));
      if (!d.allowed) {
        return jsonError(429, `Too many image, clip or job requests from your address: at most ${config.ratePerMinute ?? 120} a minute. Try again in ${d.retryAfterS} s.`, { 'retry-after': String(d.retryAfterS) });
      }
    }
    const headers = jobHeaders(req.headers);
    const incoming = parseChain(headers[CHAIN_HEADER]);
    const rawQuery = queryOf(req.url);
    for (const c of matched) {
      try {
        const chain = extendChain(incoming, c.link);
        const identity = (normalizers[c.link] ?? defaultIdentity)(path, rawQuery);
        const url = canonicalUrl(path, identity.query);
        const data: JobRequest = { rule: c.rule, path, url, method: req.method, headers, query: identity.query, chain, ...(status === undefined ? {} : { statusCode: status }) };
        const jobId = jobIdOf(c.rule.name, req.method, identity.key, status);
        let flight = inflight.get(jobId);
        if (!flight) {
          const abandon = new AbortController();
          const f: Flight = { result: Promise.resolve({}), waiters: 0, settled: false, abandon };
          f.result = runJob(c, data, jobId, abandon.signal).finally(() => {
            f.settled = true;
            if (inflight.get(jobId) === f) inflight.delete(jobId);
          });
          f.result.catch(() => undefined);
          inflight.set(jobId, f);
          flight = f;
        }
        const result = await waitFor(jobId, flight, req.signal);
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
    pending: () => ({ requests: [...inflight.values()].reduce((n, f) => n + f.waiters, 0), jobs: inflight.size }),
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
