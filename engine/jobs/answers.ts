/**
 * Pure-ish conversions between job results, errors and HTTP answers. Every error answer is the API's
 * JSON `{statusCode, error, message}`.
 */

import { reasonPhrase } from '../../core/model/errors';
import type { RedisClient } from '../../core/store/redis-connection';
import { JobError, type JobAnswer, type JobResult } from './job-types';

const REASONS: Record<number, string> = { 429: 'Too Many Requests', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 508: 'Loop Detected' };

export function jsonError(status: number, message: string, headers: Record<string, string> = {}): JobAnswer {
  const body = { statusCode: status, error: REASONS[status] ?? reasonPhrase(status), message };
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(body), headers };
}

/** The HTTP status carried by an error (ours, a BeamError, or a Boom error), or null. */
export function statusOfError(e: unknown): number | null {
  const err = e as { statusCode?: unknown; output?: { statusCode?: unknown }; isBoom?: boolean };
  const s = typeof err?.statusCode === 'number' ? err.statusCode : typeof err?.output?.statusCode === 'number' ? err.output.statusCode : null;
  return s !== null && Number.isInteger(s) && s >= 400 && s <= 599 ? s : null;
}

export function errorAnswer(e: unknown): JobAnswer {
  const status = statusOfError(e) ?? 500;
  const message = e instanceof JobError || statusOfError(e) !== null ? (e as Error).message : `Job failed: ${(e as Error)?.message ?? String(e)}`;
  return jsonError(status, message, e instanceof JobError ? e.headers : {});
}

function validStatus(s: unknown): number {
  return typeof s === 'number' && Number.isInteger(s) && s >= 100 && s <= 599 ? s : 200;
}

/**
 * A job result as an answer, or null when the job passed the request on. Bodies named by a Redis key are
 * read here; a key that has expired answers 502 (the result was lost before it could be sent).
 */
export async function resultToAnswer(result: JobResult, redis: RedisClient): Promise<JobAnswer | null> {
  if (!result || typeof result !== 'object' || !(result.respond === true || result.response === true)) return null;
  const status = validStatus(result.status);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) if (typeof v === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(k)) headers[k.toLowerCase()] = v;
  let type = typeof result.type === 'string' && result.type ? result.type : '';
  const key = typeof result.bodyKey === 'string' ? result.bodyKey : type === 'application/octet-stream' && typeof result.body === 'string' ? result.body : null;
  if (key !== null) {
    const bytes = await redis.getBuffer(key);
    if (!bytes) return jsonError(502, `The job's result (Redis key ${key}) expired before it could be sent: try again.`);
    return { status, type: type || 'application/octet-stream', body: bytes, headers };
  }
  const body = result.body;
  if (Buffer.isBuffer(body)) return { status, type: type || 'application/octet-stream', body, headers };
  if (typeof body === 'string') return { status, type: type || 'text/plain; charset=utf-8', body, headers };
  if (body === undefined || body === null) return { status, type: type || 'text/plain; charset=utf-8', body: '', headers };
  // JSON round trip (BullMQ stores results as JSON): a Buffer arrives as {type:'Buffer', data:[…]}.
  const maybeBuf = body as { type?: unknown; data?: unknown };
  if (maybeBuf.type === 'Buffer' && Array.isArray(maybeBuf.data)) return { status, type: type || 'application/octet-stream', body: Buffer.from(maybeBuf.data as number[]), headers };
  type ||= 'application/json; charset=utf-8';
  return { status, type, body: JSON.stringify(body), headers };
}
