/**
 * The headers of archived segment objects, per process, bounded by bytes (least recently used first out).
 * Objects are immutable, so a header read once serves every later read of its segment: a miss is one ranged read
 * of the object's first bytes (most headers fit) and, for a longer header, a second one for the rest. Concurrent
 * reads of one header share one fetch. A header that cannot be decoded, or is not the object the cold entry names
 * (see cold-index.ts viewMatches: read again once, in case an older copy was cached), makes its segment read as
 * missing: logged, never thrown. A failing archive (I/O errors) is thrown, as for any read.
 */

import type { ArchiveBackend } from '../archive/archive-backend';
import { decodeSegmentHeader, SegmentObjectError, type SegmentObjectHeader } from '../archive/segment-object';
import { segmentView, viewMatches, type ColdEntry, type SegmentView } from './cold-index';

export interface HeaderCacheLog {
  warn(obj: object, msg: string): void;
}

export interface HeaderCacheConfig {
  /** Bytes of decoded headers kept (default 32 MiB). */
  maxBytes?: number;
  /** Bytes read first (default 32 KiB: a segment of a few hundred packets). */
  firstReadBytes?: number;
}

export interface HeaderCache {
  /** The view of `object`, which the cold entry `entry` names; null when it is gone or unreadable. */
  get(object: string, entry: ColdEntry): Promise<SegmentView | null>;
  /** Bytes held now. */
  bytes(): number;
}

export const DEFAULT_HEADER_CACHE_BYTES = 32 * 1024 * 1024;

interface Cached {
  view: SegmentView;
  tag: string | undefined;
}

/**
 * An archived segment object's header, read with one ranged GET of `firstRead` bytes (and a second one when the
 * header is longer); null when there is no such object. Throws SegmentObjectError when it is not one.
 */
export async function readSegmentHeader(archive: Pick<ArchiveBackend, 'get'>, object: string, firstRead = 32 * 1024): Promise<{ header: SegmentObjectHeader; payloadStart: number } | null> {
  const head = await archive.get(object, [0, firstRead]);
  if (!head) return null;
  let decoded = decodeSegmentHeader(head);
  if ('need' in decoded) {
    const rest = await archive.get(object, [head.length, decoded.need]);
    if (!rest) return null;
    decoded = decodeSegmentHeader(Buffer.concat([head, rest]));
    if ('need' in decoded) throw new SegmentObjectError(`archive object ends inside its header (${decoded.need} bytes)`);
  }
  return decoded;
}

export function createHeaderCache(deps: { archive: Pick<ArchiveBackend, 'get'>; log?: HeaderCacheLog }, config: HeaderCacheConfig = {}): HeaderCache {
  const maxBytes = config.maxBytes ?? DEFAULT_HEADER_CACHE_BYTES;
  const firstRead = config.firstReadBytes ?? 32 * 1024;
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<Cached | null>>();
  let held = 0;

  function remember(object: string, c: Cached): void {
    const old = cache.get(object);
    if (old) {
      held -= old.view.bytes;
      cache.delete(object);
    }
    if (c.view.bytes > maxBytes) return;
    cache.set(object, c);
    held += c.view.bytes;
    for (const [k, v] of cache) {
      if (held <= maxBytes) break;
      cache.delete(k);
      held -= v.view.bytes;
    }
  }

  async function fetch(object: string): Promise<Cached | null> {
    try {
      const decoded = await readSegmentHeader(deps.archive, object, firstRead);
      return decoded ? { view: segmentView(decoded.header, decoded.payloadStart), tag: decoded.header.tag } : null;
    } catch (e) {
      if (!(e instanceof SegmentObjectError)) throw e;
      deps.log?.warn({ object, err: e.message }, 'archive: a segment object cannot be read; its elements read as missing');
      return null;
    }
  }

  function load(object: string): Promise<Cached | null> {
    let p = inflight.get(object);
    if (!p) {
      p = fetch(object).finally(() => inflight.delete(object));
      inflight.set(object, p);
    }
    return p;
  }

  return {
    async get(object, entry) {
      const hit = cache.get(object);
      if (hit && viewMatches(hit.view, entry, hit.tag)) {
        cache.delete(object);
        cache.set(object, hit);
        return hit.view;
      }
      const got = await load(object);
      if (!got) return null;
      if (!viewMatches(got.view, entry, got.tag)) {
        deps.log?.warn({ object, entry: entry.member }, 'archive: a segment object is not the one its cold index entry names; its elements read as missing');
        return null;
      }
      remember(object, got);
      return got.view;
    },
    bytes: () => held,
  };
}
