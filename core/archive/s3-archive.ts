/**
 * The archive on S3-compatible object storage (`BEAM_ARCHIVE_URL=s3://bucket/prefix`): one object per key
 * under the prefix, path-style addressing (what MinIO, Ceph, Garage and most non-AWS servers need), the
 * endpoint from BEAM_S3_ENDPOINT (none: AWS itself) and the region from BEAM_S3_REGION; credentials come
 * from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles).
 * Checksums are computed and validated only when the operation requires them (`WHEN_REQUIRED`): recent
 * SDKs otherwise send CRC32 trailers that many non-AWS servers refuse.
 *
 * Faults: every call ends within a bounded time whatever the server does (refuses, resets, accepts and never
 * answers, stalls mid-body): a connection timeout, an idle-socket timeout, a few SDK attempts with backoff,
 * and a deadline over the whole call (its attempts and, for a get or getStream, the body) that aborts it. A timed-out or
 * aborted request destroys its socket (never returned to the pool). A missing object is null / false; any
 * other failure is `archiveUnavailable` (503 for a reader, a counted failure the archiver retries).
 */

import { archiveUnavailable, type ArchiveBackend } from './archive-backend';
import { isSafeKey } from './object-keys';
import { PassThrough, Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';

/**
 * The AWS SDK, loaded when an S3 archive is created: ~4.4 MB of V8 heap (measured) that a process archiving to
 * a folder would otherwise keep alive, and every full GC mark, for nothing.
 */
function s3Sdk(): typeof S3Sdk {
  return require('@aws-sdk/client-s3') as typeof S3Sdk;
}

export interface S3Location {
  bucket: string;
  /** Key prefix without a leading slash, ending in '/' (or empty). */
  prefix: string;
}

/** Pure: `s3://bucket[/prefix]` → bucket and prefix. Throws naming the expected form. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`archive URL '${url}' is not s3://<bucket>[/<prefix>] (bucket: 3-63 lowercase letters, digits, dots, hyphens)`);
  const raw = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (raw.split('/').some((p) => p === '..' || p === '.')) throw new Error(`archive URL '${url}': the prefix may not hold '.' or '..' parts`);
  return { bucket: m[1] as string, prefix: raw ? `${raw}/` : '' };
}

export interface S3Timeouts {
  /** Establishing a TCP connection, ms (default 3 s). */
  connectMs: number;
  /** No byte either way on an open request for this long fails the attempt, ms (default 5 s): a stalled server. */
  idleMs: number;
  /** A whole get, attempts and body included, ms (default 10 s): a reader gets an answer within it. */
  readMs: number;
  /** A whole put, delete or listing page, attempts included, ms (default 30 s). */
  writeMs: number;
  /** Attempts per request, the first included (default 3), with the SDK's backoff and retry quota. */
  maxAttempts: number;
}

export const DEFAULT_S3_TIMEOUTS: S3Timeouts = { connectMs: 3_000, idleMs: 5_000, readMs: 10_000, writeMs: 30_000, maxAttempts: 3 };

export interface S3ArchiveConfig extends S3Location {
  /** BEAM_S3_ENDPOINT, e.g. http://127.0.0.1:9000; null = AWS. */
  endpoint: string | null;
  /** BEAM_S3_REGION (default us-east-1). */
  region: string;
  /** Time limits (DEFAULT_S3_TIMEOUTS for those not given). */
  timeouts?: Partial<S3Timeouts>;
}

/** An ArchiveBackend (see archive-backend.ts) on S3, with its HTTP client to close. */
export interface S3Archive extends ArchiveBackend {
  close(): void;
}

interface S3Failure {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Pure: whether a failed call means "no such object" (a missing bucket is not that: it is a fault). */
export function isMissingObject(err: unknown): boolean {
  const e = err as S3Failure | null;
  if (e?.name === 'NoSuchKey' || e?.name === 'NotFound') return true;
  return e?.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket';
}

/** Pure: a range that starts at or past the object's end (HTTP 416): nothing to read there. */
function isRangeNotSatisfiable(err: unknown): boolean {
  const e = err as S3Failure | null;
  return e?.name === 'InvalidRange' || e?.$metadata?.httpStatusCode === 416;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'the S3 server refused the connection',
  ECONNRESET: 'the S3 server reset the connection',
  EPIPE: 'the connection to the S3 server broke',
  ETIMEDOUT: 'the S3 server did not answer in time',
  EHOSTUNREACH: 'the S3 server is unreachable',
  ENETUNREACH: 'the S3 server is unreachable',
  ENOTFOUND: "the S3 server's host name does not resolve",
  EAI_AGAIN: "the S3 server's host name does not resolve",
};

/** Pure: why a call failed, in words a client may read (no bucket, host or key), for archiveUnavailable. */
export function s3FailureReason(err: unknown, t: Pick<S3Timeouts, 'connectMs' | 'idleMs'>, deadlineMs: number | null): string {
  if (deadlineMs !== null) return `the S3 server did not answer within ${deadlineMs} ms`;
  const e = (err ?? {}) as S3Failure;
  const status = e.$metadata?.httpStatusCode;
  // The SDK names a reset or refused connection a TimeoutError too: its code says which.
  if (e.code && NETWORK_REASONS[e.code]) return NETWORK_REASONS[e.code] as string;
  if (e.name === 'TimeoutError') {
    if (/establish a connection/.test(e.message ?? '')) return `no connection to the S3 server within ${t.connectMs} ms`;
    if (/inactivity/.test(e.message ?? '')) return `the S3 server stopped answering for ${t.idleMs} ms`;
    return 'the S3 server did not answer in time';
  }
  if (typeof status === 'number' && status > 0) return `the S3 server answered ${e.name ?? 'an error'} (HTTP ${status})`;
  return `the S3 call failed (${(e.message ?? String(err)).slice(0, 120)})`;
}

export function createS3Archive(config: S3ArchiveConfig, deps: { client?: S3Client } = {}): S3Archive {
  const { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } = s3Sdk();
  const t: S3Timeouts = { ...DEFAULT_S3_TIMEOUTS, ...config.timeouts };
  const client = deps.client ?? new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: t.maxAttempts,
    requestHandler: { connectionTimeout: t.connectMs, socketTimeout: t.idleMs },
  });
  const Bucket = config.bucket;
  const full = (key: string) => `${config.prefix}${key}`;

  /**
   * Run one call under its deadline: `fn` gets the signal to hand the SDK (which then destroys the request,
   * and stops retrying, when it fires). A failure other than the ones `fn` handles is archiveUnavailable.
   */
  async function within<T>(deadlineMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), deadlineMs);
    try {
      return await fn(ctl.signal);
    } catch (err) {
      throw archiveUnavailable(s3FailureReason(err, t, ctl.signal.aborted ? deadlineMs : null), err);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async put(key, body) {
      await within(t.writeMs, (abortSignal) =>
        client.send(new PutObjectCommand({ Bucket, Key: full(key), Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }), { abortSignal }));
    },

    async get(key, range) {
      if (range && !(range[0] >= 0 && range[1] > range[0])) throw new Error(`archive get: bad range ${range[0]}-${range[1]}`);
      return within(t.readMs, async (abortSignal) => {
        let res;
        try {
          res = await client.send(new GetObjectCommand({ Bucket, Key: full(key), ...(range ? { Range: `bytes=${range[0]}-${range[1] - 1}` } : {}) }), { abortSignal });
        } catch (err) {
          if (isMissingObject(err)) return null;
          if (range && isRangeNotSatisfiable(err)) return Buffer.alloc(0);
          throw err;
        }
        const body = res.Body;
        if (!body) return Buffer.alloc(0);
        // The body is read under the same deadline: when it fires, the stream (and its socket) is destroyed.
        const stop = () => (body as { destroy?: (e?: Error) => void }).destroy?.(new Error('deadline'));
        abortSignal.addEventListener('abort', stop, { once: true });
        try {
          return Buffer.from(await body.transformToByteArray());
        } finally {
          abortSignal.removeEventListener('abort', stop);
        }
      });
    },

    async getStream(key, range) {
      if (!(range[0] >= 0 && range[1] >= range[0])) throw new Error(`archive getStream: bad range ${range[0]}-${range[1]}`);
      if (range[1] === range[0]) return Readable.from([]);
      // One deadline (readMs) over the whole read, as for get: opening the object, its attempts, and the body.
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), t.readMs);
      let res;
      try {
        res = await client.send(new GetObjectCommand({ Bucket, Key: full(key), Range: `bytes=${range[0]}-${range[1] - 1}` }), { abortSignal: ctl.signal });
      } catch (err) {
        clearTimeout(timer);
        if (isMissingObject(err)) return null;
        if (isRangeNotSatisfiable(err)) return Readable.from([]);
        throw archiveUnavailable(s3FailureReason(err, t, ctl.signal.aborted ? t.readMs : null), err);
      }
      const body = res.Body as Readable | undefined;
      if (!body) {
        clearTimeout(timer);
        return Readable.from([]);
      }
      const out = new PassThrough({ highWaterMark: 64 * 1024 });
      const fail = (err: unknown) => out.destroy(archiveUnavailable(s3FailureReason(err, t, ctl.signal.aborted ? t.readMs : null), err));
      ctl.signal.addEventListener('abort', () => {
        body.destroy();
        fail(new Error('deadline'));
      }, { once: true });
      body.on('error', fail);
      out.on('close', () => {
        clearTimeout(timer);
        body.destroy();
      });
      body.pipe(out);
      return out;
    },

    async delete(key) {
      return within(t.writeMs, async (abortSignal) => {
        try {
          await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }), { abortSignal });
        } catch (err) {
          if (isMissingObject(err)) return false;
          throw err;
        }
        await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }), { abortSignal });
        return true;
      });
    },

    async deletePrefix(prefix) {
      let removed = 0;
      let token: string | undefined;
      do {
        const page = await within(t.writeMs, (abortSignal) => client.send(new ListObjectsV2Command({ Bucket, Prefix: full(prefix), ContinuationToken: token, MaxKeys: 1000 }), { abortSignal }));
        const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => typeof k === 'string');
        if (keys.length > 0) {
          const res = await within(t.writeMs, (abortSignal) => client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }), { abortSignal }));
          const failed = res.Errors?.length ?? 0;
          if (failed > 0) throw archiveUnavailable(`${failed} of ${keys.length} objects could not be deleted (${res.Errors?.[0]?.Code ?? 'unknown'})`);
          removed += keys.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return removed;
    },

    async *list(prefix, opts) {
      if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`archive list: prefix '${prefix.slice(0, 80)}' must end with '/'`);
      if (prefix !== '' && !isSafeKey(prefix, true)) throw new Error(`archive list: refused unsafe prefix '${prefix.slice(0, 80)}'`);
      let token: string | undefined;
      do {
        const page = await within(t.writeMs, (abortSignal) => client.send(new ListObjectsV2Command({
          Bucket, Prefix: full(prefix), ContinuationToken: token, MaxKeys: 1000, ...(opts?.folders ? { Delimiter: '/' } : {}),
        }), { abortSignal }));
        const found = opts?.folders ? (page.CommonPrefixes ?? []).map((p) => p.Prefix) : (page.Contents ?? []).map((o) => o.Key);
        for (const k of found) if (typeof k === 'string' && k.startsWith(config.prefix)) yield k.slice(config.prefix.length);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    close() {
      client.destroy();
    },
  };
}
