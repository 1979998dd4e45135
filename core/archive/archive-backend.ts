/**
 * Where closed segments' payloads go once they leave the hot window (see docs/architecture.md, "Catch-up
 * storage"). A backend stores opaque objects under relative keys built by `object-keys.ts`; the local-directory
 * backend is `file-archive.ts`, the S3 one `s3-archive.ts`. An object that is not there is null (get) or false
 * (delete); an archive that cannot be used now (down, unreachable, too slow, full, its folder gone) throws
 * `archiveUnavailable`, within a bounded time: the archiver counts it and retries at its next pass, a reader's
 * request answers 503 with its message.
 */

import type { Readable } from 'node:stream';
import { BeamError } from '../model/errors';

export interface ArchiveBackend {
  /** Store `body` under `key`, replacing any object there, atomically: a reader sees the old object or the new one, never a part. Idempotent. */
  put(key: string, body: Buffer): Promise<void>;
  /** The object's bytes, or the bytes [start, endExclusive) of it; null when there is no such object. */
  get(key: string, range?: readonly [number, number]): Promise<Buffer | null>;
  /**
   * The bytes [start, endExclusive) of the object as a stream, never held whole in memory; null when there is no
   * such object. Resolves once the object is open (a fault opening it throws `archiveUnavailable`); a fault while
   * reading (I/O error, the S3 server stalling, the read deadline) makes the stream fail with `archiveUnavailable`.
   * A range past the object's end gives only the bytes there (the caller checks the count).
   */
  getStream(key: string, range: readonly [number, number]): Promise<Readable | null>;
  /** Remove one object; whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Remove every object whose key starts with `prefix`; how many were removed. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Keys of the objects under `prefix` (a key ending in '/' or empty), in no particular order; with `folders`,
   * instead the distinct folders right under it (`<prefix><name>/`). Paged: holds one page in memory at a time.
   */
  list(prefix: string, opts?: { folders?: boolean }): AsyncIterable<string>;
}

/**
 * The archive cannot be used now: a 503 (BEAM_ERR_UNAVAILABLE) whose message says why in words a client may
 * read (no bucket, host or path in it); the original error is its `cause`.
 */
export function archiveUnavailable(reason: string, cause?: unknown): BeamError {
  const err = new BeamError('BEAM_ERR_UNAVAILABLE', `The archive is unavailable: ${reason}. Retry shortly.`);
  if (cause !== undefined) err.cause = cause;
  return err;
}
