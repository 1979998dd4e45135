/**
 * The store: typed operations over the key schema and Lua scripts. Importable by every role
 * (ingest, transcoders, packager) without the HTTP server. All I/O to Redis for media goes through here.
 */

import { randomUUID } from 'node:crypto';
import { BeamError, conflict, notFound } from '../model/errors';
import type { ElementMeta, ElementKind, Format, PacketMeta } from '../model/media';
import type { Rendition, StreamMapping } from '../model/content';
import type { IndexQuery } from '../model/query-plan';
import { createKeys, elementMember, type Keys } from './keys';
import type { RedisClient } from './redis-connection';
import { defineScripts, type ScriptCommands } from './scripts';
import { TIMELINE_HZ } from '../model/live';
import type { ArchiveBackend } from '../archive/archive-backend';
import { contentPrefix, parseArchRef, segmentObjectKey, type ArchRef } from '../archive/object-keys';
import { encodeSegmentObject } from '../archive/segment-object';

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
}

export interface StoreDeps {
  redis: RedisClient;
  /** Called with each operation's name and duration, for metrics. */
  observe?: (op: string, seconds: number) => void;
  /**
   * Where payloads of archived segments are (catch-up storage). Reads fall back to it when a payload key is
   * gone and its element hash names an archived copy (`arch`); without it such payloads read as expired.
   */
  archive?: ArchiveBackend;
}

/** The outcome of archiving one (content, stream, segment). */
export interface SegmentArchiveResult {
  /** Packets whose payload moved from Redis to the archive now. */
  moved: number;
  /** Packets found in the window already archived (a pass repeated after a crash). */
  already: number;
  /** Packets left in Redis (their payload changed or vanished while the object was written, or the window mixes both). */
  left: number;
  /** Bytes written to the archive (0 when nothing was written). */
  bytes: number;
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
   * Move the payloads of one closed segment's packets (fromDts <= dts < toDts, stream `streamIndex`) to the
   * archive: write the object `<content>/s<stream>/<segment>.seg`, then in one script record each packet's
   * `arch` reference in its element hash and unlink its payload key. Needs the `archive` dep. Idempotent: a
   * window already archived writes nothing; one holding archived and hot packets leaves the hot ones in Redis.
   */
  archiveSegment(name: string, streamIndex: number, segment: number, fromDts: number, toDts: number): Promise<SegmentArchiveResult>;
  /** Remove one archived segment object (a segment that left the DVR window); whether it existed. */
  deleteArchivedSegment(name: string, streamIndex: number, segment: number): Promise<boolean>;
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

export function createStore(deps: StoreDeps, config: StoreConfig): OwnedStore {
  const { redis } = deps;
  const keys = createKeys(config.prefix);
  defineScripts(redis);
  const cmd = redis as unknown as ScriptCommands & RedisClient;

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
   * unlinked in batches of DELETE_BATCH), and the per-rung keys of the rungs its renditions and its
   * channel's ladder name. JIT results (keys.jit) are named by no other key: they are left to expire within
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
      await unlink([keys.index(name, s), keys.expiry(name, s)]);
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
      ...[...rungs].flatMap((r) => [keys.gaps(name, r), keys.made(name, r), keys.rungParts(name, r)]),
    ]);
    return removed;
  }

  /**
   * Payloads of archived packets, read from the archive: one ranged read per object spanning its asked
   * packets. A reference whose object is gone (it left the DVR window) gives null.
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
        cmd.putElement(...elementKeys(name, s, member), member, meta.pts, JSON.stringify(meta), ttlMs, '0', '', ''),
      );
      return created === 1;
    },

    async getElement(name, s, kind, pts) {
      const [json, sizes] = await timed('getElement', () => redis.hmget(keys.element(name, s, elementMember(kind, pts)), 'json', 'sizes'));
      return json ? parseMeta(json, sizes) : null;
    },

    async deleteElement(name, s, kind, pts) {
      const member = elementMember(kind, pts);
      return (await timed('deleteElement', () => cmd.deleteElement(...elementKeys(name, s, member), member))) === 1;
    },

    async putPayload(name, s, kind, pts, data, plane, bufSizes) {
      const member = elementMember(kind, pts);
      let sizes = '';
      if (plane === 'all' && bufSizes && bufSizes.length > 1) sizes = JSON.stringify(bufSizes);
      else if (plane === 'all' && kind === 'frame') sizes = JSON.stringify(bufSizes ?? [data.length]);
      const r = await timed('putPayload', () =>
        cmd.putPayload(keys.element(name, s, member), keys.data(name, s, member), data, plane === 'all' ? -1 : plane, sizes),
      );
      if (r === -1) throw notFound(`Metadata for ${member} must exist before its payload is written: PUT the metadata first.`);
      if (r === -2) throw new BeamError('BEAM_ERR_BAD_REQUEST', `Plane ${String(plane)} of ${member} does not exist: write the whole payload (with Beam-Buf-Sizes) first.`);
      if (!Array.isArray(r)) throw new Error(`putPayload: unexpected reply ${String(r)}`);
      return { size: r[0], created: r[1] === 1 };
    },

    async getPayload(name, s, kind, pts) {
      const member = elementMember(kind, pts);
      const [data, sizes] = await timed('getPayload', async () => {
        const el = keys.element(name, s, member);
        const res = await redis.multi().getBuffer(keys.data(name, s, member)).hget(el, 'sizes').hget(el, 'arch').exec();
        const hot = res?.[0]?.[1] as Buffer | null;
        const arch = parseArchRef(res?.[2]?.[1] as string | null);
        const bytes = hot ?? (arch ? (await readArchived([arch]))[0] ?? null : null);
        return [bytes, res?.[1]?.[1] as string | null];
      });
      if (!data) return null;
      return { data, bufSizes: sizes ? (JSON.parse(sizes) as number[]) : null };
    },

    async query(name, s, q) {
      const args: (string | number)[] = [keys.index(name, s), keys.expiry(name, s), keys.element(name, s, ''), q.mode];
      switch (q.mode) {
        case 'score':
          args.push(q.min, q.max, q.offset, q.limit);
          break;
        case 'rank':
          args.push(q.from, q.to, q.offset, q.limit);
          break;
        case 'nearFrom':
          args.push(q.pts, q.max, q.offset, q.limit);
          break;
        case 'near':
        case 'atOrBefore':
        case 'covering':
          args.push(q.pts);
          break;
        case 'after':
        case 'before':
          args.push(q.pts, q.n);
          break;
      }
      const flat = await timed('query', () => cmd.queryIndex(...args));
      const out: StoredElement[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        out.push({ member: flat[i] as string, meta: parseMeta(flat[i + 1] as string, flat[i + 2]) });
      }
      return out;
    },

    async writePackets(name, packets, ttlMs) {
      if (packets.length === 0) return { written: 0, refused: 0, duplicates: 0 };
      if (!(ttlMs > 0)) throw new Error('writePackets needs a time-to-live > 0: live packets must expire with the DVR window');
      return timed('writePackets', async () => {
        const byStream = new Map<number, (string | number)[]>();
        const tx = redis.multi();
        for (const w of packets) {
          const member = elementMember('packet', w.meta.pts);
          tx.set(keys.data(name, w.streamIndex, member), w.data, 'PX', ttlMs, 'NX');
          let triples = byStream.get(w.streamIndex);
          if (!triples) byStream.set(w.streamIndex, (triples = []));
          triples.push(member, w.meta.pts, w.meta.dts, JSON.stringify(w.meta));
        }
        const txc = tx as unknown as ScriptCommands;
        for (const [s, triples] of byStream) {
          void txc.addPackets(keys.index(name, s), keys.expiry(name, s), keys.sealed(name), keys.element(name, s, ''), ttlMs, ...triples);
        }
        const res = await tx.exec();
        const failed = res?.find(([err]) => err);
        if (failed?.[0]) throw failed[0];
        const out = { written: 0, refused: 0, duplicates: 0 };
        for (const [, r] of res?.slice(packets.length) ?? []) {
          const [w, ref, dup] = r as [number, number, number];
          out.written += w;
          out.refused += ref;
          out.duplicates += dup;
        }
        return out;
      });
    },

    async readPackets(name, s, fromDts, toDts, maxReorderPts = TIMELINE_HZ) {
      return timed('readPackets', async () => {
        const found = await cmd.queryIndex(keys.index(name, s), keys.expiry(name, s), keys.element(name, s, ''), 'score', fromDts, toDts + maxReorderPts, 0, 1_000_000);
        const metas: PacketMeta[] = [];
        for (let i = 0; i + 2 < found.length; i += 3) {
          if (!(found[i] as string).startsWith('packet_')) continue;
          const meta = JSON.parse(found[i + 1] as string) as PacketMeta;
          if (meta.dts >= fromDts && meta.dts < toDts) metas.push(meta);
        }
        if (metas.length === 0) return [];
        const datas: (Buffer | null)[] = await redis.mgetBuffer(...metas.map((m) => keys.data(name, s, elementMember('packet', m.pts))));
        const missing = datas.flatMap((d, i) => (d ? [] : [i]));
        if (missing.length > 0 && deps.archive) {
          // Payloads of archived segments: their element hashes say where (read after the MGET, so a payload
          // archived in between is found by its reference).
          const p = redis.pipeline();
          for (const i of missing) p.hget(keys.element(name, s, elementMember('packet', (metas[i] as PacketMeta).pts)), 'arch');
          const refs = ((await p.exec()) ?? []).map(([, v]) => parseArchRef(v as string | null));
          const archived = await readArchived(refs);
          missing.forEach((i, j) => {
            datas[i] = archived[j] ?? null;
          });
        }
        const out: PacketRead[] = [];
        metas.forEach((meta, i) => {
          const data = datas[i];
          if (data) out.push({ meta, data });
        });
        return out.sort((a, b) => a.meta.dts - b.meta.dts);
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

    async archiveSegment(name, s, segment, fromDts, toDts) {
      const archive = deps.archive;
      if (!archive) throw new Error('archiveSegment needs the store\'s archive dep');
      return timed('archiveSegment', async () => {
        const found = await cmd.queryIndex(keys.index(name, s), keys.expiry(name, s), keys.element(name, s, ''), 'score', fromDts, toDts + TIMELINE_HZ, 0, 1_000_000);
        const metas: { member: string; meta: PacketMeta }[] = [];
        for (let i = 0; i + 2 < found.length; i += 3) {
          const member = found[i] as string;
          if (!member.startsWith('packet_')) continue;
          const meta = JSON.parse(found[i + 1] as string) as PacketMeta;
          if (meta.dts >= fromDts && meta.dts < toDts) metas.push({ member, meta });
        }
        const result: SegmentArchiveResult = { moved: 0, already: 0, left: 0, bytes: 0 };
        if (metas.length === 0) return result;
        metas.sort((a, b) => a.meta.dts - b.meta.dts || a.meta.pts - b.meta.pts);
        const p = redis.pipeline();
        for (const m of metas) p.getBuffer(keys.data(name, s, m.member)).hget(keys.element(name, s, m.member), 'arch');
        const res = (await p.exec()) ?? [];
        const hot: { member: string; meta: PacketMeta; data: Buffer }[] = [];
        metas.forEach((m, i) => {
          const data = res[2 * i]?.[1] as Buffer | null;
          const arch = res[2 * i + 1]?.[1] as string | null;
          if (data) hot.push({ ...m, data });
          else if (arch) result.already++;
        });
        if (hot.length === 0) return result;
        if (result.already > 0) {
          // Rewriting the object would move bytes other packets' references point at: keep these in Redis.
          result.left = hot.length;
          return result;
        }
        const object = segmentObjectKey(name, s, segment);
        const encoded = encodeSegmentObject({ content: name, stream: s, segment, startDts: fromDts, endDts: toDts, packets: hot });
        await archive.put(object, encoded.body);
        result.bytes = encoded.body.length;
        const args: (string | number)[] = [];
        // The script writes each reference as formatArchRef does: `<object>|<offset in the object>|<size>`.
        for (const e of encoded.header.packets) args.push(e.member, encoded.payloadStart + e.offset, e.size);
        result.moved = await cmd.archivePayloads(keys.index(name, s), keys.element(name, s, ''), object, ...args);
        result.left = hot.length - result.moved;
        return result;
      });
    },

    async deleteArchivedSegment(name, s, segment) {
      if (!deps.archive) return false;
      return deps.archive.delete(segmentObjectKey(name, s, segment));
    },
  };
}
