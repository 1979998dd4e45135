/**
 * The archive on S3-compatible object storage (`BEAM_ARCHIVE_URL=s3://bucket/prefix`): one object per key
 * under the prefix, path-style addressing (what MinIO, Ceph, Garage and most non-AWS servers need), the
 * endpoint from BEAM_S3_ENDPOINT (none: AWS itself) and the region from BEAM_S3_REGION; credentials come
 * from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles).
 * Checksums are computed and validated only when the operation requires them (`WHEN_REQUIRED`): recent
 * SDKs otherwise send CRC32 trailers that many non-AWS servers refuse.
 */

import type { ArchiveBackend } from './archive-backend';
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

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

export interface S3ArchiveConfig extends S3Location {
  /** BEAM_S3_ENDPOINT, e.g. http://127.0.0.1:9000; null = AWS. */
  endpoint: string | null;
  /** BEAM_S3_REGION (default us-east-1). */
  region: string;
  /** Per-request time limit, ms (a slow or unreachable server fails the call; the caller retries later). */
  requestTimeoutMs?: number;
}

/** An ArchiveBackend (see archive-backend.ts) on S3, with its HTTP client to close. */
export interface S3Archive extends ArchiveBackend {
  close(): void;
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

export function createS3Archive(config: S3ArchiveConfig, deps: { client?: S3Client } = {}): S3Archive {
  const client = deps.client ?? new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { requestTimeout: config.requestTimeoutMs ?? 15_000, connectionTimeout: 5_000 },
  });
  const Bucket = config.bucket;
  const full = (key: string) => `${config.prefix}${key}`;

  return {
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket, Key: full(key), Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }));
    },

    async get(key, range) {
      if (range && !(range[0] >= 0 && range[1] > range[0])) throw new Error(`archive get: bad range ${range[0]}-${range[1]}`);
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key: full(key), ...(range ? { Range: `bytes=${range[0]}-${range[1] - 1}` } : {}) }));
        if (!res.Body) return Buffer.alloc(0);
        return Buffer.from(await res.Body.transformToByteArray());
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    async delete(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }));
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
      await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }));
      return true;
    },

    async deletePrefix(prefix) {
      let removed = 0;
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: full(prefix), ContinuationToken: token, MaxKeys: 1000 }));
        const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => typeof k === 'string');
        if (keys.length > 0) {
          const res = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
          const failed = res.Errors?.length ?? 0;
          if (failed > 0) throw new Error(`archive delete: ${failed} of ${keys.length} objects under '${full(prefix)}' could not be deleted (${res.Errors?.[0]?.Code ?? 'unknown'})`);
          removed += keys.length;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return removed;
    },

    close() {
      client.destroy();
    },
  };
}
