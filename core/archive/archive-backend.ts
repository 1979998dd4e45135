/**
 * Where closed segments' payloads go once they leave the hot window (see docs/architecture.md, "Catch-up
 * storage"). A backend stores opaque objects under relative keys built by `object-keys.ts`; the local-directory
 * backend is `file-archive.ts`. Every operation may throw on an I/O failure (disk full, permission): callers
 * decide whether that is fatal (the archiver retries at its next pass; readers answer as for an expired payload).
 */

export interface ArchiveBackend {
  /** Store `body` under `key`, replacing any object there, atomically: a reader sees the old object or the new one, never a part. Idempotent. */
  put(key: string, body: Buffer): Promise<void>;
  /** The object's bytes, or the bytes [start, endExclusive) of it; null when there is no such object. */
  get(key: string, range?: readonly [number, number]): Promise<Buffer | null>;
  /** Remove one object; whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Remove every object whose key starts with `prefix`; how many were removed. */
  deletePrefix(prefix: string): Promise<number>;
}
