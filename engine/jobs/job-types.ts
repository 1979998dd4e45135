/**
 * The data a rules job carries and the result it gives back: the contract between the engine's rules
 * hooks (producer) and workers (consumers), as the original engine's README describes it. A job's data is
 * the matched rule, the request (path, method, headers) and the chain of jobs that led to it; the result
 * says whether the job answered the request and with what (status, body, type).
 */

import type { JobRule } from '../../core/config/config';

/** A rule as a job sees it: the configured rule plus its name in `jobs`. */
export interface NamedRule extends JobRule {
  name: string;
}

/**
 * What a worker receives as `job.data`. As in the original engine, a worker may set the result fields
 * (respond, status, body, type) on it and return it.
 */
export interface JobRequest extends JobResult {
  rule: NamedRule;
  /** The request path without its query string, e.g. `/beams/main/video/latest.jpg`. */
  path: string;
  /** The path with its query string as the client sent it. */
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Query parameters (the last value wins when one is repeated). */
  query: Record<string, string>;
  /** Post-route jobs: the status of the response the route produced. */
  statusCode?: number;
  /** `queue/function` of every job that led to this one, this one last: circular chains are refused. */
  chain: string[];
}

/**
 * What a job returns. `respond` (or the original engine's `response`) true means the job answered the
 * request: `status` (default 200), `body` and `type` become the response. A body of type
 * `application/octet-stream` given as a string is a Redis key holding the bytes; `bodyKey` names such a key
 * for any type (an image, a clip). Without `respond`, the request goes on to the route and later rules.
 */
export interface JobResult {
  respond?: boolean;
  response?: boolean;
  status?: number;
  body?: unknown;
  type?: string;
  bodyKey?: string;
  headers?: Record<string, string>;
}

/** An HTTP answer decided by a job (or by the dispatcher for a timeout or a loop). */
export interface JobAnswer {
  status: number;
  type: string;
  body: Buffer | string;
  headers: Record<string, string>;
}

/** The header a worker puts on HTTP requests it makes back to the engine, so loops are seen there too. */
export const CHAIN_HEADER = 'beam-job-chain';

/** Longest chain of jobs leading to one another before the next is refused. */
export const MAX_CHAIN = 8;

/** An error with an HTTP status: a worker throws one (or a Boom error) to answer with that status. */
export class JobError extends Error {
  readonly statusCode: number;
  /** Headers for the answer, e.g. Retry-After on a 429 or 503. */
  readonly headers: Record<string, string>;
  constructor(statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'JobError';
    this.statusCode = statusCode;
    this.headers = headers;
  }
}
