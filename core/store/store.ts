/**
 * The store: typed operations over the key schema and Lua scripts. Importable by every role
 * (ingest, transcoders, packager) without the HTTP server. All I/O to Redis for media goes through here.
 */

import type { Readable } from 'node:stream';
import { createHash, randomUUID } from 'node:crypto';
import { BeamError, conflict, notFound } from '../model/errors';
import type { ElementMeta, ElementKind, Format, PacketMeta } from '../model/media';
import type { Rendition, StreamMapping } from '../model/content';
import type { IndexQuery } from '../model/query-plan';
import { createKeys, elementMember, type Keys } from './keys';
import { Redis } from 'ioredis';
import type { RedisClient } from './redis-connection';
import { defineScripts, type ScriptCommands } from './scripts';
import { PayloadCommand } from './payload-command';
import { TIMELINE_HZ, type SegmentRecord } from '../model/live';
import type { ArchiveBackend } from '../archive/archive-backend';
import { contentPrefix, parseArchRef, segmentObjectKey, type ArchRef } from '../archive/object-keys';
import { encodeSegmentObject, type SegmentObjectHeader } from '../archive/segment-object';
import { coldEntryAlive, coldEntryOfHeader, formatColdEntry, parseColdEntry, type ColdElement, type ColdEntry } from './cold-index';
import { answerTiers, memberPts, parseTierReply, planTiers, tierArgs, type TierElement } from './tier-query';
import { createHeaderCache, readSegmentHeader, type HeaderCacheLog } from './header-cache';

export type { IndexQuery };

/** Keys read or unlinked per command when a content item is deleted. */
const DELETE_BATCH = 500;

export interface StoredElement {
  member: string;
  meta: ElementMeta;
}

export interface Payload {
  data: Buffer;
  /** Sizes of each plane when the payload has several (frames). */
  bufSizes: number[] | null;
}

/** The outcome of a payload write: its stored size, and whether it was created (else replaced). */
export interface PayloadWrite {
  size: number;
  created: boolean;
}

/** One packet of an ingest batch: metadata and payload written atomically together. */
export interface PacketWrite {
  streamIndex: number;
  meta: PacketMeta;
  data: Buffer;
}

/** A packet read back with its payload. */
export interface PacketRead {
  meta: PacketMeta;
  data: Buffer;
}

/**
 * Packets of one stream that are one contiguous run of bytes in one archived object (an archived segment's
 * window, normally): their metadata and payload sizes in decode order, and where their payloads lie in the
 * object, [start, end) — what the packager needs to stream them without reading them here.
 */
export interface ArchivedSpan {
  /** The archive key of the object. */
  object: string;
  start: number;
  end: number;
  packets: { meta: PacketMeta; size: number }[];
  /** The object's bytes [from, to) as a stream (ArchiveBackend.getStream); null once the object is gone. */
  open(from: number, to: number): Promise<Readable | null>;
}

export interface Relations {
  renditionOf: { source: string; streamMap: StreamMapping[] } | null;
  renditions: { target: string; streamMap: StreamMapping[] }[];
}

export interface StoreConfig {
  /** Key prefix (the original engine's redis.prepend). */
  prefix: string;
  /** Default time-to-live of packets and frames in ms when a content item sets no ttl (0 = never). */
  packetTtlMs: number;
  frameTtlMs: number;
  /** Bytes of archived segments' headers kept in this process (default 32 MiB; see header-cache.ts). */
  headerCacheBytes?: number;
}

export interface StoreDeps {
  redis: RedisClient;
  /** Called with each operation's name and duration, for metrics. */
  observe?: (op: string, seconds: number) => void;
  /**
   * Where archived segments are (catch-up storage): the elements of the stream's cold index (read through their
   * objects' headers), and payloads an earlier release archived (an element hash's `arch`). Without it, such
   * elements read as expired.
   */
  archive?: ArchiveBackend;
  /** Where an unreadable archive object is reported (its elements then read as missing). */
  log?: HeaderCacheLog;
}

/** The outcome of archiving one (content, stream, segment). */
export interface SegmentArchiveResult {
  /** Elements whose payload moved from Redis to the archive now (their index entries went with them). */
  moved: number;
  /** Elements found already archived (a pass repeated after a crash, or archived by an earlier release). */
  already: number;
  /** Elements left in Redis (changed while the object was written, or lying in archived time); retried or kept. */
  left: number;
  /** Bytes written to the archive (0 when nothing was written). */
  bytes: number;
  /** Packets archived without their payload: it was gone from Redis (expired, evicted) before the archiver came. */
  missing: number;
  /** The window held no packet at all, in Redis or archived. */
  empty: boolean;
  /** Why elements were left: 'changed' (retry), 'order' (they lie in archived time), 'interleaved' (another element in their range: retry). */
  refused?: 'changed' | 'order' | 'interleaved';
}

export interface PacketWriteResult {
  written: number;
  refused: number;
  duplicates: number;
}

export interface Store {
  /** The key of a job result cached for a content item (frame images, clips), expiring with the ephemeral TTL. */
  jitResultKey(content: string, id: string): string;
  ping(): Promise<number>;
  listContents(offset: number, limit: number): Promise<string[]>;
  createContent(format: Format): Promise<void>;
  getFormat(name: string): Promise<Format | null>;
  updateFormat(format: Format): Promise<void>;
  deleteContent(name: string): Promise<number>;
  elementTtlMs(format: Format, kind: ElementKind): number;
  putElement(name: string, streamIndex: number, kind: ElementKind, meta: ElementMeta, ttlMs: number): Promise<boolean>;
  getElement(name: string, streamIndex: number, kind: ElementKind, pts: number): Promise<ElementMeta | null>;
  deleteElement(name: string, streamIndex: number, kind: ElementKind, pts: number): Promise<boolean>;
  /**
   * Write a payload (or one plane of it); the metadata must exist. Frames always record their plane sizes
   * (one plane when none are given), so metadata reads carry `buf_sizes`.
   */
  putPayload(name: string, streamIndex: number, kind: ElementKind, pts: number, data: Buffer, plane: number | 'all', bufSizes?: number[]): Promise<PayloadWrite>;
  getPayload(name: string, streamIndex: number, kind: ElementKind, pts: number): Promise<Payload | null>;
  query(name: string, streamIndex: number, q: IndexQuery): Promise<StoredElement[]>;
  /**
   * One atomic batch of packets. Published media is immutable: a packet already stored keeps its bytes
   * (counted in `duplicates`), and one whose dts lies before the content's sealed point (the end of what
   * was announced, see LiveStore.writeBoundaries) is refused (counted in `refused`), never written.
   */
  writePackets(name: string, packets: readonly PacketWrite[], ttlMs: number): Promise<PacketWriteResult>;
  /**
   * Packets of one stream with fromDts <= dts < toDts, in decode order, with payloads (two round trips).
   * `maxReorderPts` bounds pts − dts (B-frame reordering) so the pts index can be used: default 1 s at 90 kHz.
   * Packets whose payload has expired are left out.
   */
  readPackets(name: string, streamIndex: number, fromDts: number, toDts: number, maxReorderPts?: number): Promise<PacketRead[]>;
  /**
   * The packets readPackets would return for the same window, without their payloads, when every one of them is
   * archived (none hot, none archived without payload) and their payloads are one contiguous run of one object
   * in decode order: where that run lies (see ArchivedSpan). Null otherwise (nothing there, partly hot, spread over
   * objects, no archive): read them with readPackets. One query; an object's header is read through the header cache.
   */
  readArchivedSpan(name: string, streamIndex: number, fromDts: number, toDts: number, maxReorderPts?: number): Promise<ArchivedSpan | null>;
  setRendition(r: Rendition): Promise<void>;
  deleteRendition(target: string): Promise<boolean>;
  getRelations(name: string): Promise<Relations>;
  /**
   * Keep a job's binary result (a response body) for `ttlMs`; returns its key: `key` when given (a JIT
   * result's, from keys.jit), else a fresh keys.jobResult.
   */
  putJobResult(data: Buffer, ttlMs: number, key?: string): Promise<string>;
  /** Whether a job result written by putJobResult is still kept. */
  hasJobResult(key: string): Promise<boolean>;
  /**
   * Archive one closed segment of one stream (its packets fromDts <= dts < toDts) and take it out of the hot
   * index: write the object `<content>/s<stream>/<segment>.seg` holding every element of the stream from above
   * the cold index (or the window's first) up to the window's highest pts, then compact (compactSegment-4.lua): in
   * one step their index and expiry entries, element hashes and payload keys go and one cold index entry names
   * the object; reads find them there (cold-index.ts). `record` is kept in the object's header. Needs the
   * `archive` dep. Idempotent: a segment already compacted writes nothing; when anything changed while the object
   * was written, nothing is compacted (`left`, `refused`) and the next call writes it again.
   */
  archiveSegment(name: string, streamIndex: number, segment: number, fromDts: number, toDts: number, record?: SegmentRecord): Promise<SegmentArchiveResult>;
  /**
   * Remove one archived segment (it left the DVR window): its cold index entry (with those of any earlier segment:
   * the window leaves from the front), then its object; whether the object existed.
   */
  deleteArchivedSegment(name: string, streamIndex: number, segment: number): Promise<boolean>;
  /** An archived segment object's header (null: no such object, or no archive); throws when it is not one. */
  readArchivedHeader(name: string, streamIndex: number, segment: number): Promise<SegmentObjectHeader | null>;
  /**
   * Rebuilding after Redis was lost: put an archived object back in the stream's cold index, after every entry
   * there (objects are restored in segment order), its elements expiring at `expMs`. False when it holds no
   * element or lies below the index's end (already there).
   */
  restoreArchivedSegment(name: string, streamIndex: number, header: SegmentObjectHeader, expMs: number): Promise<boolean>;
}

function parseMeta(json: string, sizes: string | null | undefined): ElementMeta {
  const meta = JSON.parse(json) as ElementMeta;
  if (sizes) (meta as Record<string, unknown>).buf_sizes = JSON.parse(sizes) as number[];
  return meta;
}

/**
 * The store as its owner holds it: the operations every role sees, plus the key schema, which only the
 * composition root (to build the channel and live stores beside it) and tests read. Roles get `Store`.
 */
export interface OwnedStore extends Store {
  readonly keys: Keys;
}

/**
 * Sends one ingest batch in one write, in order: `SET <key> <bytes> PX <ttl> NX` per payload, then the one
 * `addPackets` call indexing them all (`script`: its arguments); resolves with the script's reply or rejects with the
 * first failure (as a pipeline's exec reports it). On one Redis the commands go out on its connection with the
 * socket corked, so they leave in one writev: the same bytes, order and round trip as a pipeline, without a
 * pipeline's copy of the whole batch and its per-batch bookkeeping, and without ioredis's copy of each payload into
 * its command (`PayloadCommand` writes the payload to the socket as it is); profiled, those copies made most of the
 * Buffer bytes an ingest allocates, and Buffer bytes pace V8's full collections (see docs/architecture.md). On a
 * cluster (and while the connection is not ready, when commands would wait in the offline queue anyway) it is a
 * pipeline, routed to the batch's slot.
 */
async function sendBatch(redis: RedisClient, sets: readonly [string, Buffer][], ttlMs: number, script: readonly (string | number)[]): Promise<[number, number, number]> {
  const stream = redis instanceof Redis && redis.status === 'ready' ? redis.stream : null;
  if (!stream) {
    const tx = redis.pipeline();
    for (const [key, data] of sets) tx.set(key, data, 'PX', ttlMs, 'NX');
    void (tx as unknown as ScriptCommands).addPackets(...script);
    const res = await tx.exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    return res?.[sets.length]?.[1] as [number, number, number];
  }
  const client = redis as Redis & ScriptCommands;
  const pending: Promise<unknown>[] = [];
  stream.cork();
  try {
    const keyPrefix = client.options.keyPrefix;
    for (const [key, data] of sets) pending.push(client.sendCommand(new PayloadCommand('set', [key, data, 'PX', ttlMs, 'NX'], { keyPrefix })) as Promise<unknown>);
    pending.push(client.addPackets(...script));
  } finally {
    stream.uncork();
  }
  // Every command settles (none is left unobserved), then the first failure in order is the batch's, as with a pipeline.
  const settled = await Promise.allSettled(pending);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return (settled[sets.length] as PromiseFulfilledResult<[number, number, number]>).value;
}

export function createStore(deps: StoreDeps, config: StoreConfig): OwnedStore {
  const { redis } = deps;
  const keys = createKeys(config.prefix);
  defineScripts(redis);
  const cmd = redis as unknown as ScriptCommands & RedisClient;
  const headers = deps.archive ? createHeaderCache({ archive: deps.archive, ...(deps.log ? { log: deps.log } : {}) }, config.headerCacheBytes ? { maxBytes: config.headerCacheBytes } : {}) : null;

  async function timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (!deps.observe) return fn();
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      deps.observe(op, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  function elementKeys(name: string, s: number, member: string): string[] {
    return [keys.element(name, s, member), keys.data(name, s, member), keys.index(name, s), keys.expiry(name, s)];
  }

  /** A write into archived time (the range of the stream's cold index). */
  function archivedTime(name: string, s: number, member: string): BeamError {
    return conflict(`${member} lies in the archived part of stream ${s} of '${name}': archived media is immutable.`);
  }

  async function getFormat(name: string): Promise<Format | null> {
    const json = await timed('getFormat', () => redis.get(keys.format(name)));
    return json === null ? null : (JSON.parse(json) as Format);
  }

  async function requireFormat(name: string): Promise<Format> {
    const f = await getFormat(name);
    if (!f) throw notFound(`Content item '${name}' was not found.`);
    return f;
  }

  /**
   * Delete every key a content item owns, found from what its own keys name (never a keyspace scan): the
   * fixed keys, each stream's index and expiry members with their element and payload keys (read and
   * unlinked in batches of DELETE_BATCH), its cold index, and the per-rung keys of the rungs its renditions and
   * its channel's ladder name. JIT results (keys.jit) are named by no other key: they are left to expire within
   * the ephemeral TTL they were written with. All keys share the item's hash tag: one slot, so each UNLINK is cluster-safe.
   * Returns the number of keys removed.
   */
  async function unlinkOwned(name: string, format: Format | null, relations: Relations): Promise<number> {
    let removed = 0;
    const unlink = async (list: string[]) => {
      for (let i = 0; i < list.length; i += DELETE_BATCH) removed += await redis.unlink(...list.slice(i, i + DELETE_BATCH));
    };
    const streams = format?.streams.length ?? 0;
    for (let s = 0; s < streams; s++) {
      for (const set of [keys.index(name, s), keys.expiry(name, s)]) {
        for (let start = 0; ; start += DELETE_BATCH) {
          const members = await redis.zrange(set, start, start + DELETE_BATCH - 1);
          if (members.length === 0) break;
          await unlink(members.flatMap((m) => [keys.element(name, s, m), keys.data(name, s, m)]));
          if (members.length < DELETE_BATCH) break;
        }
      }
      await unlink([keys.index(name, s), keys.expiry(name, s), keys.cold(name, s), keys.coldRank(name, s)]);
    }
    const rungs = new Set<string>();
    for (const r of relations.renditions) if (r.target.startsWith(`${name}.`)) rungs.add(r.target.slice(name.length + 1));
    const channelJson = await redis.get(keys.channel(name));
    if (channelJson) {
      try {
        for (const rung of (JSON.parse(channelJson) as { ladder?: { name?: unknown }[] }).ladder ?? []) if (typeof rung.name === 'string') rungs.add(rung.name);
      } catch {
        // settings that do not parse name no rungs
      }
    }
    await unlink([
      keys.format(name), keys.renditionOf(name), keys.renditions(name), keys.events(name), keys.segments(name),
      keys.segtime(name), keys.parts(name), keys.timeline(name), keys.sealed(name), keys.archived(name), keys.archiveLock(name),
      keys.archiveGaps(name), keys.markers(name),
      ...[...rungs].flatMap((r) => [keys.gaps(name, r), keys.made(name, r), keys.rungParts(name, r)]),
    ]);
    return removed;
  }

  /**
   * Payloads an earlier release archived (an element hash's `arch` reference), read from the archive: one ranged
   * read per object spanning its asked packets. A reference whose object is gone (it left the DVR window) gives null.
   */
  async function readArchived(refs: readonly (ArchRef | null)[]): Promise<(Buffer | null)[]> {
    const out: (Buffer | null)[] = refs.map(() => null);
    const archive = deps.archive;
    if (!archive) return out;
    const byObject = new Map<string, number[]>();
    refs.forEach((r, i) => {
      if (!r) return;
      const list = byObject.get(r.object);
      if (list) list.push(i);
      else byObject.set(r.object, [i]);
    });
    await Promise.all([...byObject].map(async ([object, list]) => {
      const start = Math.min(...list.map((i) => (refs[i] as ArchRef).offset));
      const end = Math.max(...list.map((i) => (refs[i] as ArchRef).offset + (refs[i] as ArchRef).size));
      const bytes = await archive.get(object, [start, end]);
      if (!bytes || bytes.length < end - start) return;
      for (const i of list) {
        const r = refs[i] as ArchRef;
        out[i] = bytes.subarray(r.offset - start, r.offset - start + r.size);
      }
    }));
    return out;
  }

  /** Payloads of cold elements: one ranged read per object spanning the asked elements; null for those without. */
  async function readCold(name: string, s: number, elems: readonly ({ entry: ColdEntry; element: ColdElement } | null)[]): Promise<(Buffer | null)[]> {
    const refs = elems.map((c) => (c && !c.element.nodata ? { object: segmentObjectKey(name, s, c.entry.segment), offset: c.element.offset, size: c.element.size } : null));
    return readArchived(refs);
  }

  /** The header of a cold entry's object (null without an archive, or when it cannot be read). */
  function viewLoader(name: string, s: number) {
    return (entry: ColdEntry) => (headers ? headers.get(segmentObjectKey(name, s, entry.segment), entry) : Promise.resolve(null));
  }

  /** Redis TIME (as MULTI returns it) in ms. */
  function timeMs(t: unknown): number {
    const [sec, us] = (t as [string, string] | null) ?? [String(Math.floor(Date.now() / 1000)), '0'];
    return Number(sec) * 1000 + Math.floor(Number(us) / 1000);
  }

  /**
   * The cold element `member` (pts `pts`) given the cold entry at or before pts (a ZREVRANGEBYSCORE reply) read
   * atomically with the hot lookup that missed it; null when it is in no live entry.
   */
  async function coldElementOf(name: string, s: number, member: string, pts: number, entryReply: unknown, nowMs: number): Promise<{ entry: ColdEntry; element: ColdElement } | null> {
    const entry = parseColdEntry((entryReply as string[] | null)?.[0]);
    if (!entry || pts > entry.maxPts || !coldEntryAlive(entry, nowMs)) return null;
    const view = await viewLoader(name, s)(entry);
    const element = view?.byMember.get(member);
    return element ? { entry, element } : null;
  }

  /** A query over both tiers: one script, then the headers the answer needs. */
  async function queryTiers(name: string, s: number, q: IndexQuery): Promise<TierElement[]> {
    const plan = planTiers(q);
    const raw = await cmd.queryIndex(keys.index(name, s), keys.expiry(name, s), keys.cold(name, s), keys.coldRank(name, s), keys.element(name, s, ''), ...tierArgs(plan));
    return answerTiers(q, parseTierReply(plan, raw), viewLoader(name, s));
  }

  async function getRelations(name: string): Promise<Relations> {
    return timed('getRelations', async () => {
      const [of, targets] = await Promise.all([redis.get(keys.renditionOf(name)), redis.hgetall(keys.renditions(name))]);
      return {
        renditionOf: of ? (JSON.parse(of) as Relations['renditionOf']) : null,
        renditions: Object.entries(targets)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([target, map]) => ({ target, streamMap: JSON.parse(map) as StreamMapping[] })),
      };
    });
  }

  return {
    keys,
    jitResultKey: (content, id) => keys.jit(content, id),

    async ping() {
      const t0 = process.hrtime.bigint();
      await redis.ping();
      return Number(process.hrtime.bigint() - t0) / 1e9;
    },

    async listContents(offset, limit) {
      return timed('listContents', async () => {
        let start = offset;
        if (start < 0) start = Math.max(0, (await redis.zcard(keys.contents)) + start);
        if (limit <= 0) return [];
        return redis.zrange(keys.contents, start, start + limit - 1);
      });
    },

    async createContent(format) {
      await timed('createContent', async () => {
        const ok = await redis.set(keys.format(format.url), JSON.stringify(format), 'NX');
        if (ok !== 'OK') throw conflict(`Content item '${format.url}' already exists.`);
        await redis.zadd(keys.contents, 'NX', Date.now(), format.url);
      });
    },

    getFormat,

    async updateFormat(format) {
      await timed('updateFormat', async () => {
        const ok = await redis.set(keys.format(format.url), JSON.stringify(format), 'XX');
        if (ok !== 'OK') throw notFound(`Content item '${format.url}' was not found.`);
        await redis.zadd(keys.contents, 'NX', Date.now(), format.url);
      });
    },

    async deleteContent(name) {
      return timed('deleteContent', async () => {
        const relations = await getRelations(name);
        const format = await getFormat(name);
        await redis.zrem(keys.contents, name);
        const removed = await unlinkOwned(name, format, relations);
        if (deps.archive) await deps.archive.deletePrefix(contentPrefix(name));
        if (relations.renditionOf) await redis.hdel(keys.renditions(relations.renditionOf.source), name);
        for (const r of relations.renditions) await redis.del(keys.renditionOf(r.target));
        return removed;
      });
    },

    elementTtlMs(format, kind) {
      if (format.ttl && format.ttl > 0) return format.ttl * 1000;
      return kind === 'packet' ? config.packetTtlMs : config.frameTtlMs;
    },

    async putElement(name, s, kind, meta, ttlMs) {
      const member = elementMember(kind, meta.pts);
      const created = await timed('putElement', () =>
        cmd.putElement(...elementKeys(name, s, member), keys.cold(name, s), member, meta.pts, JSON.stringify(meta), ttlMs, '0', '', ''),
      );
      if (created === -3) throw archivedTime(name, s, member);
      return created === 1;
    },

    async getElement(name, s, kind, pts) {
      return timed('getElement', async () => {
        const member = elementMember(kind, pts);
        const res = await redis.multi().hmget(keys.element(name, s, member), 'json', 'sizes').zrevrangebyscore(keys.cold(name, s), pts, '-inf', 'LIMIT', 0, 1).time().exec();
        const [json, sizes] = (res?.[0]?.[1] as (string | null)[] | undefined) ?? [];
        if (json) return parseMeta(json, sizes);
        const c = await coldElementOf(name, s, member, pts, res?.[1]?.[1], timeMs(res?.[2]?.[1]));
        return c ? parseMeta(c.element.json, c.element.sizes) : null;
      });
    },

    async deleteElement(name, s, kind, pts) {
      const member = elementMember(kind, pts);
      const r = await timed('deleteElement', () => cmd.deleteElement(...elementKeys(name, s, member), keys.cold(name, s), member, pts));
      if (r === -3) throw archivedTime(name, s, member);
      return r === 1;
    },

    async putPayload(name, s, kind, pts, data, plane, bufSizes) {
      const member = elementMember(kind, pts);
      let sizes = '';
      if (plane === 'all' && bufSizes && bufSizes.length > 1) sizes = JSON.stringify(bufSizes);
      else if (plane === 'all' && kind === 'frame') sizes = JSON.stringify(bufSizes ?? [data.length]);
      const r = await timed('putPayload', () =>
        cmd.putPayload(keys.element(name, s, member), keys.data(name, s, member), keys.cold(name, s), data, plane === 'all' ? -1 : plane, sizes, pts),
      );
      if (r === -3) throw archivedTime(name, s, member);
      if (r === -1) throw notFound(`Metadata for ${member} must exist before its payload is written: PUT the metadata first.`);
      if (r === -2) throw new BeamError('BEAM_ERR_BAD_REQUEST', `Plane ${String(plane)} of ${member} does not exist: write the whole payload (with Beam-Buf-Sizes) first.`);
      if (!Array.isArray(r)) throw new Error(`putPayload: unexpected reply ${String(r)}`);
      return { size: r[0], created: r[1] === 1 };
    },

    async getPayload(name, s, kind, pts) {
      const member = elementMember(kind, pts);
      return timed('getPayload', async (): Promise<Payload | null> => {
        const el = keys.element(name, s, member);
        const res = await redis.multi().getBuffer(keys.data(name, s, member)).hget(el, 'sizes').hget(el, 'arch')
          .zrevrangebyscore(keys.cold(name, s), pts, '-inf', 'LIMIT', 0, 1).time().exec();
        const hot = res?.[0]?.[1] as Buffer | null;
        const sizes = res?.[1]?.[1] as string | null;
        if (hot) return { data: hot, bufSizes: sizes ? (JSON.parse(sizes) as number[]) : null };
        const arch = parseArchRef(res?.[2]?.[1] as string | null);
        if (arch) {
          const bytes = (await readArchived([arch]))[0];
          return bytes ? { data: bytes, bufSizes: sizes ? (JSON.parse(sizes) as number[]) : null } : null;
        }
        const c = await coldElementOf(name, s, member, pts, res?.[3]?.[1], timeMs(res?.[4]?.[1]));
        if (!c) return null;
        const bytes = (await readCold(name, s, [c]))[0];
        return bytes ? { data: bytes, bufSizes: c.element.sizes ? (JSON.parse(c.element.sizes) as number[]) : null } : null;
      });
    },

    async query(name, s, q) {
      return timed('query', async () => (await queryTiers(name, s, q)).map((e) => ({ member: e.member, meta: parseMeta(e.json as string, e.sizes) })));
    },

    async writePackets(name, packets, ttlMs) {
      if (packets.length === 0) return { written: 0, refused: 0, duplicates: 0 };
      if (!(ttlMs > 0)) throw new Error('writePackets needs a time-to-live > 0: live packets must expire with the DVR window');
      return timed('writePackets', async () => {
        const byStream = new Map<number, (string | number)[]>();
        const sets: [string, Buffer][] = [];
        for (const w of packets) {
          const member = elementMember('packet', w.meta.pts);
          sets.push([keys.data(name, w.streamIndex, member), w.data]);
          let quads = byStream.get(w.streamIndex);
          if (!quads) byStream.set(w.streamIndex, (quads = []));
          quads.push(member, w.meta.pts, w.meta.dts, JSON.stringify(w.meta));
        }
        // One addPackets call for every stream of the batch (addPackets-N.lua): the key count, the sealed hash and
        // each stream's three keys; the TTL, then per stream its element prefix, its packet count and its packets.
        const streamKeys: string[] = [];
        const args: (string | number)[] = [ttlMs];
        for (const [s, quads] of byStream) {
          streamKeys.push(keys.index(name, s), keys.expiry(name, s), keys.cold(name, s));
          args.push(keys.element(name, s, ''), quads.length / 4);
          for (const q of quads) args.push(q);
        }
        const [written, refused, duplicates] = await sendBatch(redis, sets, ttlMs, [1 + streamKeys.length, keys.sealed(name), ...streamKeys, ...args]);
        return { written, refused, duplicates };
      });
    },

    async readPackets(name, s, fromDts, toDts, maxReorderPts = TIMELINE_HZ) {
      return timed('readPackets', async () => {
        const found = await queryTiers(name, s, { mode: 'score', min: fromDts, max: toDts + maxReorderPts, offset: 0, limit: 1_000_000 });
        const picked: { meta: PacketMeta; e: TierElement }[] = [];
        for (const e of found) {
          if (!e.member.startsWith('packet_')) continue;
          const meta = JSON.parse(e.json as string) as PacketMeta;
          if (meta.dts >= fromDts && meta.dts < toDts) picked.push({ meta, e });
        }
        if (picked.length === 0) return [];
        const datas: (Buffer | null)[] = picked.map(() => null);
        const hot = picked.flatMap((p, i) => (p.e.cold ? [] : [i]));
        if (hot.length > 0) {
          const got: (Buffer | null)[] = await redis.mgetBuffer(...hot.map((i) => keys.data(name, s, (picked[i] as { e: TierElement }).e.member)));
          hot.forEach((i, j) => {
            datas[i] = got[j] ?? null;
          });
        }
        const missing = hot.filter((i) => !datas[i]);
        if (missing.length > 0 && deps.archive) {
          // Payloads gone from Redis since the index was read: archived by an earlier release (`arch`), or
          // compacted into the cold index in between (read after the MGET, so one moved meanwhile is found).
          const p = redis.multi();
          for (const i of missing) {
            const { e } = picked[i] as { e: TierElement };
            p.hget(keys.element(name, s, e.member), 'arch').zrevrangebyscore(keys.cold(name, s), e.pts, '-inf', 'LIMIT', 0, 1);
          }
          p.time();
          const res = (await p.exec()) ?? [];
          const nowMs = timeMs(res[res.length - 1]?.[1]);
          const refs = missing.map((_, j) => parseArchRef(res[2 * j]?.[1] as string | null));
          const archived = await readArchived(refs);
          const moved = await Promise.all(missing.map((i, j) => (refs[j] ? Promise.resolve(null) : coldElementOf(name, s, (picked[i] as { e: TierElement }).e.member, (picked[i] as { e: TierElement }).e.pts, res[2 * j + 1]?.[1], nowMs))));
          const movedBytes = await readCold(name, s, moved);
          missing.forEach((i, j) => {
            datas[i] = archived[j] ?? movedBytes[j] ?? null;
          });
        }
        const cold = picked.flatMap((p, i) => (p.e.cold ? [i] : []));
        if (cold.length > 0) {
          const bytes = await readCold(name, s, cold.map((i) => (picked[i] as { e: TierElement }).e.cold));
          cold.forEach((i, j) => {
            datas[i] = bytes[j] ?? null;
          });
        }
        const out: PacketRead[] = [];
        picked.forEach(({ meta }, i) => {
          const data = datas[i];
          if (data) out.push({ meta, data });
        });
        return out.sort((a, b) => a.meta.dts - b.meta.dts);
      });
    },

    async readArchivedSpan(name, s, fromDts, toDts, maxReorderPts = TIMELINE_HZ) {
      return timed('readArchivedSpan', async () => {
        if (!deps.archive) return null;
        const found = await queryTiers(name, s, { mode: 'score', min: fromDts, max: toDts + maxReorderPts, offset: 0, limit: 1_000_000 });
        const picked: { meta: PacketMeta; el: ColdElement; segment: number }[] = [];
        for (const e of found) {
          if (!e.member.startsWith('packet_')) continue;
          const meta = JSON.parse(e.json as string) as PacketMeta;
          if (meta.dts < fromDts || meta.dts >= toDts) continue;
          if (!e.cold || e.cold.element.nodata) return null;
          picked.push({ meta, el: e.cold.element, segment: e.cold.entry.segment });
        }
        const first = picked.sort((a, b) => a.meta.dts - b.meta.dts)[0];
        if (!first) return null;
        let end = first.el.offset;
        for (const p of picked) {
          if (p.segment !== first.segment || p.el.offset !== end) return null;
          end += p.el.size;
        }
        const archive = deps.archive;
        const object = segmentObjectKey(name, s, first.segment);
        return { object, start: first.el.offset, end, packets: picked.map((p) => ({ meta: p.meta, size: p.el.size })), open: (from, to) => archive.getStream(object, [from, to]) };
      });
    },

    async setRendition(r) {
      await timed('setRendition', async () => {
        await requireFormat(r.target);
        await requireFormat(r.source);
        const previous = (await getRelations(r.target)).renditionOf;
        if (previous && previous.source !== r.source) await redis.hdel(keys.renditions(previous.source), r.target);
        await redis.hset(keys.renditions(r.source), r.target, JSON.stringify(r.streamMap));
        await redis.set(keys.renditionOf(r.target), JSON.stringify({ source: r.source, streamMap: r.streamMap }));
      });
    },

    async deleteRendition(target) {
      return timed('deleteRendition', async () => {
        const current = (await getRelations(target)).renditionOf;
        if (!current) return false;
        await redis.hdel(keys.renditions(current.source), target);
        await redis.del(keys.renditionOf(target));
        return true;
      });
    },

    getRelations,

    async putJobResult(data, ttlMs, key) {
      const k = key ?? keys.jobResult(randomUUID());
      await timed('putJobResult', () => redis.set(k, data, 'PX', ttlMs));
      return k;
    },

    async hasJobResult(key) {
      return (await redis.exists(key)) === 1;
    },

    async archiveSegment(name, s, segment, fromDts, toDts, record) {
      const archive = deps.archive;
      if (!archive) throw new Error('archiveSegment needs the store\'s archive dep');
      return timed('archiveSegment', () => archiveOne(archive, name, s, segment, fromDts, toDts, record));
    },

    async deleteArchivedSegment(name, s, segment) {
      if (!deps.archive) return false;
      await cmd.dropColdSegment(keys.cold(name, s), keys.coldRank(name, s), segment);
      return deps.archive.delete(segmentObjectKey(name, s, segment));
    },

    async readArchivedHeader(name, s, segment) {
      if (!deps.archive) return null;
      return (await readSegmentHeader(deps.archive, segmentObjectKey(name, s, segment)))?.header ?? null;
    },

    async restoreArchivedSegment(name, s, header, expMs) {
      return timed('restoreArchivedSegment', async () => {
        const cold = keys.cold(name, s);
        const last = parseColdEntry((await redis.zrange(cold, -1, -1))[0]);
        const entry = coldEntryOfHeader(header, last ? last.cum + last.count : 0, expMs);
        if (!entry || (last && entry.minPts <= last.maxPts)) return false;
        const member = formatColdEntry(entry);
        const ttl = Math.max(1000, entry.expMs - Date.now());
        const tx = redis.multi().zadd(cold, entry.minPts, member).zadd(keys.coldRank(name, s), entry.cum, member);
        if (entry.expMs === 0) tx.persist(cold).persist(keys.coldRank(name, s));
        else tx.pexpire(cold, ttl).pexpire(keys.coldRank(name, s), ttl); // restored in segment order: the newest expires last
        await tx.exec();
        return true;
      });
    },
  };

  /** One element read for an object: its metadata (null: gone), plane sizes, payload, and an earlier release's `arch`. */
  interface Found {
    member: string;
    pts: number;
    json: string | null;
    sizes: string | null;
    arch: string | null;
    data: Buffer | null;
  }

  async function archiveOne(archive: ArchiveBackend, name: string, s: number, segment: number, fromDts: number, toDts: number, record: SegmentRecord | undefined): Promise<SegmentArchiveResult> {
    const result: SegmentArchiveResult = { moved: 0, already: 0, left: 0, bytes: 0, missing: 0, empty: false };
    const index = keys.index(name, s);
    const cold = keys.cold(name, s);
    // The window's packets still in the hot index (by pts, B-frames reorder up to 1 s), and the cold index's end.
    const scan = await redis.multi().zrangebyscore(index, fromDts, toDts + TIMELINE_HZ).zrange(cold, -1, -1).exec();
    const candidates = ((scan?.[0]?.[1] as string[] | undefined) ?? []).filter((m) => m.startsWith('packet_'));
    const lastCold = parseColdEntry((scan?.[1]?.[1] as string[] | undefined)?.[0]);
    const p = redis.pipeline();
    for (const m of candidates) p.hget(keys.element(name, s, m), 'json');
    const metas = ((await p.exec()) ?? []).map(([, v]) => (v ? (JSON.parse(v as string) as PacketMeta) : null));
    const inWindow = metas.filter((m): m is PacketMeta => m !== null && m.dts >= fromDts && m.dts < toDts);
    if (inWindow.length === 0) {
      // Compacted already (a pass repeated after a crash)? Its entry is among the last ones at or below the window.
      const near = await redis.zrevrangebyscore(cold, toDts + TIMELINE_HZ, '-inf', 'LIMIT', 0, 8);
      const done = near.map(parseColdEntry).find((e) => e?.segment === segment);
      if (done) result.already = done.count;
      else result.empty = true;
      return result;
    }
    const low = Math.min(...inWindow.map((m) => m.pts));
    const high = Math.max(...inWindow.map((m) => m.pts));
    if (lastCold && high <= lastCold.maxPts) {
      result.left = inWindow.length;
      result.refused = 'order';
      return result;
    }
    // Every element from just above the cold index (or the window's lowest pts) to the window's highest pts.
    const members = await redis.zrangebyscore(index, lastCold ? `(${lastCold.maxPts}` : low, high);
    const r = redis.pipeline();
    for (const m of members) r.hmget(keys.element(name, s, m), 'json', 'sizes', 'arch').getBuffer(keys.data(name, s, m));
    const res = (await r.exec()) ?? [];
    const found: Found[] = members.map((member, i) => {
      const [json, sizes, arch] = (res[2 * i]?.[1] as (string | null)[] | undefined) ?? [null, null, null];
      return { member, pts: memberPts(member), json: json ?? null, sizes: sizes ?? null, arch: arch ?? null, data: (res[2 * i + 1]?.[1] as Buffer | null) ?? null };
    });
    const alive = found.filter((f) => f.json !== null);
    const earlier = alive.filter((f) => f.arch !== null && f.data === null);
    if (earlier.length > 0) {
      // Archived by an earlier release (payloads only, element hashes keep `arch`): those stay as they are until
      // they expire; rewriting the object would move bytes their references point at.
      if (earlier.length === alive.length) result.already = earlier.length;
      else {
        result.left = alive.length;
        result.refused = 'order';
      }
      return result;
    }
    const decodeTime = (f: Found) => {
      const m = JSON.parse(f.json as string) as { dts?: unknown };
      return typeof m.dts === 'number' ? m.dts : f.pts;
    };
    const ordered = alive.map((f) => ({ f, dts: decodeTime(f) })).sort((a, b) => a.dts - b.dts || a.f.pts - b.f.pts || (a.f.member < b.f.member ? -1 : 1));
    // Where the segment's packets end (a publisher continuing the channel continues after it: resumePoint).
    let endDts = -Infinity;
    for (const { f, dts } of ordered) {
      if (!f.member.startsWith('packet_')) continue;
      const d = (JSON.parse(f.json as string) as { duration?: unknown }).duration;
      endDts = Math.max(endDts, dts + (typeof d === 'number' && d > 0 ? d : 0));
    }
    if (!Number.isFinite(endDts)) endDts = toDts;
    if (alive.length > 0) {
      const input = {
        content: name, stream: s, segment, startDts: fromDts, endDts: toDts, ...(record ? { record } : {}),
        packets: ordered.map(({ f }) => ({ member: f.member, meta: JSON.parse(f.json as string) as ElementMeta, data: f.data, ...(f.sizes ? { sizes: JSON.parse(f.sizes) as number[] } : {}) })),
      };
      // The tag comes from the object's bytes: two writers of one segment from the same state write the same
      // object, and an object rewritten under the key with other contents is never taken for this one.
      const tag = createHash('sha256').update(encodeSegmentObject(input).body).digest('hex').slice(0, 8);
      const encoded = encodeSegmentObject({ ...input, tag });
      await archive.put(segmentObjectKey(name, s, segment), encoded.body);
      result.bytes = encoded.body.length;
      const args: (string | number)[] = [];
      for (const { f } of ordered) args.push(f.member, f.pts, f.data ? f.data.length : -1);
      for (const f of found) if (f.json === null) args.push(f.member, f.pts, -2);
      const n = await cmd.compactSegment(index, keys.expiry(name, s), cold, keys.coldRank(name, s), keys.element(name, s, ''), segment, endDts, tag, ...args);
      if (n < 0) {
        result.left = alive.length;
        result.refused = n === -2 ? 'order' : n === -3 ? 'interleaved' : 'changed';
        return result;
      }
      result.moved = alive.filter((f) => f.data !== null).length;
      result.missing = alive.filter((f) => f.data === null && f.member.startsWith('packet_')).length;
    }
    return result;
  }
}
