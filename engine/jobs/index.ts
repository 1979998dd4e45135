/**
 * What a user needs to write a worker for Beamline's rules in TypeScript (re-exported by the package's
 * index.ts): `queue(name)`, the job and result types, `retrieveStream`, `JobError`, and the engine-side
 * pieces (dispatcher, hooks, worker) for composing them in-process.
 */

export { queue, workerRedisUrl, type JobConsumer, type QueueOptions } from './consumer';
export { retrieveStream } from './retrieve-stream';
export { createJobWorker, type JobFunction, type JobHandler, type JobWorker, type JobWorkerConfig, type JobWorkerDeps, type WorkerJob } from './worker';
export { createJobDispatcher, jobIdOf, type JobDispatcher, type DispatcherConfig, type DispatcherDeps } from './dispatcher';
export { installRulesHooks } from './rules-hooks';
export { canonicalUrl, defaultIdentity, jobHeaders, JOB_HEADERS, type RequestIdentity, type RequestNormalizer } from './job-identity';
export { clientKey, createRateLimiter, type RateLimiter } from './rate-limiter';
export { compileRules, matchRules, extendChain, parseChain } from './rules';
export { JobError, CHAIN_HEADER, MAX_CHAIN, type JobRequest, type JobResult, type JobAnswer, type NamedRule } from './job-types';
