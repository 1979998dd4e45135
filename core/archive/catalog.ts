/**
 * The archive's catalog: what, besides the segment objects, is needed to serve a channel's archived DVR again
 * after Redis was lost (see docs/architecture.md, "Rebuilding from the archive"). Beside a content item's
 * segment objects, under the same prefix (so deleting the content item deletes them too):
 *
 *   <channel>/channel.json    {version, channel, head}         the channel's settings, stream key and playback secret included, and
 *                                                              the newest segment number announced when saved
 *   <content>/content.json    {version, format, renditionOf}   the content item's format, and for a rung its source
 *
 * The archiver writes them whenever it archived something of the content item (idempotent PUTs). The pure
 * encoders/decoders are here with the component that reads and writes them.
 */

import type { ArchiveBackend } from './archive-backend';
import { contentPrefix } from './object-keys';
import { createChannel, validateChannelName, type Channel, type LadderValidator, type Rung } from '../model/channel';
import { PLAYBACK_SECRET } from '../model/playback-token';
import type { Format } from '../model/media';
import type { StreamMapping } from '../model/content';

export const CATALOG_VERSION = 1;

/** Catalog objects larger than this are refused when read (a channel's settings are a few KB). */
const MAX_CATALOG_BYTES = 1 << 20;

export class CatalogError extends Error {
  override name = 'CatalogError';
}

export const channelObjectKey = (channel: string): string => `${contentPrefix(channel)}channel.json`;
export const contentObjectKey = (content: string): string => `${contentPrefix(content)}content.json`;

export interface ContentEntry {
  format: Format;
  renditionOf: { source: string; streamMap: StreamMapping[] } | null;
}

/**
 * How far the channel had announced segments when its settings were saved: a rebuild continues the numbering
 * after it (segments are immutable and cached as such, so a number the lost hot window used is never reused).
 */
export interface ChannelHead {
  /** The newest segment index announced (0: none). */
  index: number;
  savedAtMs: number;
}

export interface ChannelEntry {
  channel: Channel;
  head: ChannelHead;
}

export function encodeChannelEntry(ch: Channel, head: ChannelHead = { index: 0, savedAtMs: 0 }): Buffer {
  return Buffer.from(JSON.stringify({ version: CATALOG_VERSION, channel: ch, head }), 'utf8');
}

export function encodeContentEntry(e: ContentEntry): Buffer {
  return Buffer.from(JSON.stringify({ version: CATALOG_VERSION, format: e.format, renditionOf: e.renditionOf }), 'utf8');
}

function parseVersioned(body: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new CatalogError(`${what} is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || (v as { version?: unknown }).version !== CATALOG_VERSION) {
    throw new CatalogError(`${what} has an unknown version`);
  }
  return v as Record<string, unknown>;
}

const STREAM_KEY = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Pure: a saved channel, validated as a new channel would be (name, ladder, editable settings), with its saved
 * stream key and timestamps. Throws CatalogError naming what is wrong.
 */
export function decodeChannelEntry(body: Buffer, expectedName: string, validateLadder: LadderValidator, defaultLadder: Rung[]): ChannelEntry {
  const v = parseVersioned(body, `channel.json of '${expectedName}'`);
  const saved = v.channel as Partial<Channel> | undefined;
  if (typeof saved !== 'object' || saved === null) throw new CatalogError(`channel.json of '${expectedName}' holds no channel`);
  if (saved.name !== expectedName) throw new CatalogError(`channel.json under '${expectedName}' names '${String(saved.name)}'`);
  if (typeof saved.streamKey !== 'string' || !STREAM_KEY.test(saved.streamKey)) throw new CatalogError(`channel.json of '${expectedName}' has no valid stream key`);
  const { name, streamKey, createdAt, updatedAt, playbackSecret, ...editable } = saved;
  let ch: Channel;
  try {
    ch = createChannel({ name: validateChannelName(name), ...editable }, validateLadder, defaultLadder);
  } catch (e) {
    throw new CatalogError(`channel.json of '${expectedName}': ${(e as Error).message}`);
  }
  const h = v.head as Partial<ChannelHead> | undefined;
  const head = {
    index: Number.isSafeInteger(h?.index) && (h?.index as number) >= 0 ? (h?.index as number) : 0,
    savedAtMs: Number.isFinite(h?.savedAtMs) ? (h?.savedAtMs as number) : 0,
  };
  return {
    channel: {
      ...ch,
      streamKey,
      // The saved secret, so playback tokens minted before the rebuild keep working (a new one if it was not valid).
      ...(typeof playbackSecret === 'string' && PLAYBACK_SECRET.test(playbackSecret) ? { playbackSecret } : {}),
      createdAt: typeof createdAt === 'string' ? createdAt : ch.createdAt,
      updatedAt: typeof updatedAt === 'string' ? updatedAt : ch.updatedAt,
    },
    head,
  };
}

/** Pure: a saved content item. Throws CatalogError when it is not one or names another content item. */
export function decodeContentEntry(body: Buffer, expectedName: string): ContentEntry {
  const v = parseVersioned(body, `content.json of '${expectedName}'`);
  const format = v.format as Format | undefined;
  if (typeof format !== 'object' || format === null || format.url !== expectedName || !Array.isArray(format.streams)) {
    throw new CatalogError(`content.json of '${expectedName}' holds no format of that content item`);
  }
  const of = v.renditionOf as ContentEntry['renditionOf'] | undefined;
  if (of !== null && of !== undefined && (typeof of.source !== 'string' || !Array.isArray(of.streamMap))) {
    throw new CatalogError(`content.json of '${expectedName}' has a malformed renditionOf`);
  }
  return { format, renditionOf: of ?? null };
}

/** Pure: the segment number of an object key `<content>/s<stream>/<segment>.seg`, or null for any other key. */
export function segmentOfKey(key: string, content: string, stream: number): number | null {
  const prefix = `${contentPrefix(content)}s${stream}/`;
  if (!key.startsWith(prefix)) return null;
  const m = /^(\d{1,15})\.seg$/.exec(key.slice(prefix.length));
  return m ? Number(m[1]) : null;
}

export interface ArchiveCatalog {
  saveChannel(ch: Channel, head: ChannelHead): Promise<void>;
  saveContent(content: string, entry: ContentEntry): Promise<void>;
  /** Remove a channel's settings (it was deleted), so a rebuild does not restore it. */
  forgetChannel(name: string): Promise<void>;
  /** Names of the channels the archive holds settings of (their folders' channel.json), in no particular order. */
  channelNames(): AsyncIterable<string>;
  /** A saved channel; null when there is none. Throws CatalogError when it does not validate. */
  channel(name: string, validateLadder: LadderValidator, defaultLadder: Rung[]): Promise<ChannelEntry | null>;
  content(content: string): Promise<ContentEntry | null>;
  /** The segment numbers of one stream's objects, ascending. */
  segments(content: string, stream: number): Promise<number[]>;
}

/** Pure: a folder name (`<encoded content>/`) back to the content name; null when it is not one. */
export function contentOfFolder(folder: string): string | null {
  const seg = folder.endsWith('/') ? folder.slice(0, -1) : folder;
  if (seg.includes('/')) return null;
  try {
    const name = decodeURIComponent(seg);
    return contentPrefix(name) === `${seg}/` ? name : null;
  } catch {
    return null;
  }
}

export function createArchiveCatalog(deps: { archive: ArchiveBackend }): ArchiveCatalog {
  const { archive } = deps;

  async function read(key: string): Promise<Buffer | null> {
    const body = await archive.get(key, [0, MAX_CATALOG_BYTES + 1]);
    if (body && body.length > MAX_CATALOG_BYTES) throw new CatalogError(`${key} is larger than ${MAX_CATALOG_BYTES} bytes`);
    return body;
  }

  return {
    saveChannel: (ch, head) => archive.put(channelObjectKey(ch.name), encodeChannelEntry(ch, head)),
    saveContent: (content, entry) => archive.put(contentObjectKey(content), encodeContentEntry(entry)),
    async forgetChannel(name) {
      await archive.delete(channelObjectKey(name));
    },

    async *channelNames() {
      for await (const folder of archive.list('', { folders: true })) {
        const name = contentOfFolder(folder);
        if (name === null) continue;
        try {
          validateChannelName(name);
        } catch {
          continue; // a content item that cannot be a channel (a rung's `<channel>.<rung>`, an API item)
        }
        if (await archive.get(channelObjectKey(name), [0, 1])) yield name;
      }
    },

    async channel(name, validateLadder, defaultLadder) {
      const body = await read(channelObjectKey(name));
      return body ? decodeChannelEntry(body, name, validateLadder, defaultLadder) : null;
    },

    async content(content) {
      const body = await read(contentObjectKey(content));
      return body ? decodeContentEntry(body, content) : null;
    },

    async segments(content, stream) {
      const out: number[] = [];
      for await (const key of archive.list(`${contentPrefix(content)}s${stream}/`)) {
        const n = segmentOfKey(key, content, stream);
        if (n !== null) out.push(n);
      }
      return out.sort((a, b) => a - b);
    },
  };
}
