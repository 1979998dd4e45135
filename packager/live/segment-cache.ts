/**
 * An LRU of built media objects bounded in bytes, with request coalescing: while one build of a key
 * runs, every other request for it awaits the same promise, so a thousand viewers asking for a new
 * segment at once cause one build. Objects a builder marks not cacheable (incomplete media) are
 * shared with the requests already waiting but never stored.
 */
import { createHash } from 'node:crypto';

export interface BuiltObject {
  body: Buffer;
  /** Strong ETag (quoted). */
  etag: string;
  contentType: string;
  /** False when the media may still grow (it is served, not kept). */
  cacheable: boolean;
}

export interface SegmentCacheDeps {
  onHit?: () => void;
  onMiss?: () => void;
}

export interface SegmentCache {
  /** The cached object for `key`, or the result of one shared call of `build`. */
  get(key: string, build: () => Promise<BuiltObject>): Promise<BuiltObject>;
  /** The cached object for `key`, if any (a hit, counted), without building it. */
  peek(key: string): BuiltObject | undefined;
  /** Drop every key that starts with `prefix` (a format change). */
  dropPrefix(prefix: string): void;
  readonly bytes: number;
  readonly entries: number;
  /** The bound the cache was made with. */
  readonly maxBytes: number;
}

export function etagOf(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`;
}

export function createSegmentCache(deps: SegmentCacheDeps, config: { maxBytes: number }): SegmentCache {
  const lru = new Map<string, BuiltObject>();
  const inflight = new Map<string, Promise<BuiltObject>>();
  let bytes = 0;

  function store(key: string, obj: BuiltObject): void {
    if (!obj.cacheable || obj.body.length > config.maxBytes) return;
    const old = lru.get(key);
    if (old) {
      bytes -= old.body.length;
      lru.delete(key);
    }
    lru.set(key, obj);
    bytes += obj.body.length;
    for (const [k, v] of lru) {
      if (bytes <= config.maxBytes) break;
      lru.delete(k);
      bytes -= v.body.length;
    }
  }

  return {
    get(key, build) {
      const hit = lru.get(key);
      if (hit) {
        lru.delete(key);
        lru.set(key, hit);
        deps.onHit?.();
        return Promise.resolve(hit);
      }
      const pending = inflight.get(key);
      if (pending) {
        deps.onHit?.();
        return pending;
      }
      deps.onMiss?.();
      const p = build()
        .then((obj) => {
          store(key, obj);
          return obj;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
    maxBytes: config.maxBytes,
    peek(key) {
      const hit = lru.get(key);
      if (!hit) return undefined;
      lru.delete(key);
      lru.set(key, hit);
      deps.onHit?.();
      return hit;
    },
    dropPrefix(prefix) {
      for (const [k, v] of lru) {
        if (!k.startsWith(prefix)) continue;
        lru.delete(k);
        bytes -= v.body.length;
      }
    },
    get bytes() {
      return bytes;
    },
    get entries() {
      return lru.size;
    },
  };
}
