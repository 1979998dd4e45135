/**
 * Pure: what a rules job is made of, from a request. A job's identity (its BullMQ id) comes from the
 * request as the rule's function understands it, never from the raw URL, so junk query parameters
 * (cache-busters, random strings) cannot make new jobs; its data keeps only allow-listed headers, so no
 * credential (Authorization, Cookie, Proxy-Authorization) is ever stored in Redis with a job.
 */

import { createHash } from 'node:crypto';
import { CHAIN_HEADER } from './job-types';

/** A request as a job knows it: a canonical key and the only query parameters the job gets. */
export interface RequestIdentity {
  key: string;
  query: Record<string, string>;
}

/**
 * Parses a request for one function (throwing a 400 JobError for one it would refuse, so a bad request
 * never becomes a job) and gives its identity. Registered in the dispatcher by `queue/function`.
 */
export type RequestNormalizer = (path: string, query: Record<string, string>) => RequestIdentity;

/**
 * Rules without a normalizer (custom workers): the path and every query parameter, sorted, so at least
 * parameter order and repeats make no new job. Such workers receive the whole query.
 */
export const defaultIdentity: RequestNormalizer = (path, query) => {
  const sorted = Object.fromEntries(Object.entries(query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { key: JSON.stringify([path, sorted]), query: sorted };
};

/** The URL a job sees: the path and its canonical query. */
export function canonicalUrl(path: string, query: Record<string, string>): string {
  const q = new URLSearchParams(query).toString();
  return q ? `${path}?${q}` : path;
}

/** Pure: the deterministic job id of a rule applied to a request identity (BullMQ ids may not contain ':'). */
export function jobIdOf(ruleName: string, method: string, identity: string, status?: number): string {
  return createHash('sha256').update(`${ruleName}\n${method}\n${identity}\n${status ?? ''}`).digest('hex').slice(0, 40);
}

/**
 * Headers a job may see (lower case). Everything else is dropped before the job is stored: credentials
 * (authorization, cookie, proxy-authorization), client addresses (x-forwarded-for, x-real-ip) and
 * anything unknown. A custom worker needing another header must get it some other way.
 */
export const JOB_HEADERS: readonly string[] = [
  'host', 'accept', 'accept-language', 'user-agent', 'content-type', 'range', 'if-none-match', 'if-modified-since',
  'x-forwarded-host', 'x-forwarded-proto', CHAIN_HEADER,
];

const ALLOWED = new Set(JOB_HEADERS);
/** Longest header value kept (a job's data is bounded). */
const MAX_HEADER_LENGTH = 1024;

export function jobHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    const name = k.toLowerCase();
    if (v === undefined || !ALLOWED.has(name)) continue;
    out[name] = (Array.isArray(v) ? v.join(', ') : v).slice(0, MAX_HEADER_LENGTH);
  }
  return out;
}
