/**
 * Pure: the archive's object keys, built only from validated parts, and the `arch` reference a packet's
 * element hash keeps once its payload moved to the archive.
 *
 *   <content>/s<stream>/<segment>.seg     one object per (content, stream, segment)
 *
 * `<content>` is the content name with every character outside [A-Za-z0-9_.~=+,@-] percent-encoded (so `:`,
 * `!`, `$`, `'`, `(`, `)`, `*`, `;` never reach a path) and a leading `.` encoded too: a key is a relative path
 * of safe segments, never `.`, `..`, absolute, or holding `/` from the input.
 */

import { validateContentName } from '../model/content';

const SAFE_CHAR = /[A-Za-z0-9_.~=+,@-]/;
/** One path segment of a key: safe characters and percent escapes, not `.` or `..`. */
const SAFE_SEGMENT = /^(?:[A-Za-z0-9_.~=+,@-]|%[0-9A-F]{2})+$/;

/** A content name as one path segment (percent-encoded; identity for names of letters, digits, `_.~=+,@-`). */
export function encodeContentSegment(content: string): string {
  const name = validateContentName(content);
  let out = '';
  for (const ch of name) {
    out += SAFE_CHAR.test(ch) ? ch : [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  if (out.startsWith('.')) out = `%2E${out.slice(1)}`;
  return out;
}

/** Every object of a content item lives under this prefix. */
export function contentPrefix(content: string): string {
  return `${encodeContentSegment(content)}/`;
}

function index(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`archive key: ${what} must be an integer ≥ 0, got ${String(v)}`);
  return v;
}

/** The object holding one segment of one stream of a content item. */
export function segmentObjectKey(content: string, stream: number, segment: number): string {
  return `${contentPrefix(content)}s${index(stream, 'stream')}/${index(segment, 'segment')}.seg`;
}

/** Whether `key` is a relative path of safe segments (what a backend accepts; a prefix may end with `/`). */
export function isSafeKey(key: string, allowTrailingSlash = false): boolean {
  if (key.length === 0 || key.length > 1024) return false;
  const parts = (allowTrailingSlash && key.endsWith('/') ? key.slice(0, -1) : key).split('/');
  return parts.every((p) => SAFE_SEGMENT.test(p) && p !== '.' && p !== '..');
}

/** Where one packet's payload is in the archive: the `arch` field of its element hash. */
export interface ArchRef {
  object: string;
  /** Byte offset in the object (from its first byte, header included). */
  offset: number;
  size: number;
}

export function formatArchRef(r: ArchRef): string {
  return `${r.object}|${r.offset}|${r.size}`;
}

/** Parse an `arch` field; null for anything malformed (treated as no archived copy). */
export function parseArchRef(s: string | null | undefined): ArchRef | null {
  if (!s) return null;
  const m = /^([^|]+)\|(\d{1,15})\|(\d{1,15})$/.exec(s);
  if (!m || !isSafeKey(m[1] as string)) return null;
  return { object: m[1] as string, offset: Number(m[2]), size: Number(m[3]) };
}
