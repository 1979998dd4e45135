/**
 * AMF0 (Action Message Format 0) encoding and decoding, as used by RTMP commands and FLV script data.
 *
 * Value mapping: number ↔ Number, boolean ↔ Boolean, string ↔ String/Long String (chosen by byte
 * length on encode), plain object ↔ Object, `null` ↔ Null, `undefined` ↔ Undefined, `Map` ↔ ECMA array,
 * array ↔ Strict array, `Date` ↔ Date. Object end is the terminator of objects and ECMA arrays.
 * Pure functions; every malformed input raises an {@link Amf0Error} naming the offset.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0Value[]
  | Map<string, Amf0Value>
  | Amf0Object;

export interface Amf0Object {
  [key: string]: Amf0Value;
}

export const AMF0_MARKER = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  movieclip: 0x04,
  null: 0x05,
  undefined: 0x06,
  reference: 0x07,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  date: 0x0b,
  longString: 0x0c,
  unsupported: 0x0d,
  recordset: 0x0e,
  xmlDocument: 0x0f,
  typedObject: 0x10,
  avmplusObject: 0x11,
} as const;

/** Nesting deeper than this is refused (a hostile peer could otherwise exhaust the stack). */
export const AMF0_MAX_DEPTH = 64;

export class Amf0Error extends Error {
  constructor(message: string, readonly offset: number) {
    super(`AMF0: ${message} at offset ${offset}`);
    this.name = 'Amf0Error';
  }
}

export interface Amf0Decoded {
  value: Amf0Value;
  /** Offset just past the decoded value. */
  next: number;
}

function need(buf: Buffer, offset: number, n: number, what: string): void {
  if (offset + n > buf.length) {
    throw new Amf0Error(`truncated ${what} (need ${n} bytes, have ${Math.max(0, buf.length - offset)})`, offset);
  }
}

function readShortString(buf: Buffer, offset: number, what: string): { value: string; next: number } {
  need(buf, offset, 2, `${what} length`);
  const len = buf.readUInt16BE(offset);
  need(buf, offset + 2, len, what);
  return { value: buf.toString('utf8', offset + 2, offset + 2 + len), next: offset + 2 + len };
}

function isObjectEnd(buf: Buffer, offset: number): boolean {
  return offset + 3 <= buf.length && buf.readUInt16BE(offset) === 0 && buf[offset + 2] === AMF0_MARKER.objectEnd;
}

/** Reads key/value pairs up to and including the object end marker. */
function readProperties(
  buf: Buffer,
  offset: number,
  depth: number,
  set: (key: string, value: Amf0Value) => void,
): number {
  let at = offset;
  for (;;) {
    if (isObjectEnd(buf, at)) return at + 3;
    const key = readShortString(buf, at, 'property name');
    if (key.value === '') {
      need(buf, key.next, 1, 'object end marker');
      throw new Amf0Error(`empty property name not followed by object end (marker 0x${(buf[key.next] ?? 0).toString(16)})`, key.next);
    }
    const item = decodeAt(buf, key.next, depth + 1);
    set(key.value, item.value);
    at = item.next;
  }
}

/** Sets an own property even for the key `__proto__` (never touches the prototype). */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function decodeAt(buf: Buffer, offset: number, depth: number): Amf0Decoded {
  if (depth > AMF0_MAX_DEPTH) throw new Amf0Error(`nesting deeper than ${AMF0_MAX_DEPTH}`, offset);
  need(buf, offset, 1, 'type marker');
  const marker = buf[offset] as number;
  const at = offset + 1;
  switch (marker) {
    case AMF0_MARKER.number:
      need(buf, at, 8, 'number');
      return { value: buf.readDoubleBE(at), next: at + 8 };
    case AMF0_MARKER.boolean:
      need(buf, at, 1, 'boolean');
      return { value: buf[at] !== 0, next: at + 1 };
    case AMF0_MARKER.string:
      return readShortString(buf, at, 'string');
    case AMF0_MARKER.longString: {
      need(buf, at, 4, 'long string length');
      const len = buf.readUInt32BE(at);
      need(buf, at + 4, len, 'long string');
      return { value: buf.toString('utf8', at + 4, at + 4 + len), next: at + 4 + len };
    }
    case AMF0_MARKER.null:
      return { value: null, next: at };
    case AMF0_MARKER.undefined:
      return { value: undefined, next: at };
    case AMF0_MARKER.object: {
      const obj: Amf0Object = {};
      const next = readProperties(buf, at, depth, (k, v) => { setOwn(obj, k, v); });
      return { value: obj, next };
    }
    case AMF0_MARKER.ecmaArray: {
      need(buf, at, 4, 'ECMA array count');
      // The count is only a hint (encoders get it wrong); the object end marker terminates.
      const map = new Map<string, Amf0Value>();
      const next = readProperties(buf, at + 4, depth, (k, v) => { map.set(k, v); });
      return { value: map, next };
    }
    case AMF0_MARKER.strictArray: {
      need(buf, at, 4, 'strict array count');
      const count = buf.readUInt32BE(at);
      // Each element takes at least one byte: refuse counts the remaining input cannot hold.
      if (count > buf.length - at - 4) {
        throw new Amf0Error(`strict array count ${count} exceeds remaining ${buf.length - at - 4} bytes`, at);
      }
      const items: Amf0Value[] = [];
      let cursor = at + 4;
      for (let i = 0; i < count; i++) {
        const item = decodeAt(buf, cursor, depth + 1);
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    case AMF0_MARKER.date: {
      need(buf, at, 10, 'date');
      return { value: new Date(buf.readDoubleBE(at)), next: at + 10 };
    }
    case AMF0_MARKER.objectEnd:
      throw new Amf0Error('object end marker outside an object', offset);
    default:
      throw new Amf0Error(`unsupported type marker 0x${marker.toString(16).padStart(2, '0')}`, offset);
  }
}

/** Decodes one value at `offset`. */
export function decodeAmf0Value(buf: Buffer, offset = 0): Amf0Decoded {
  return decodeAt(buf, offset, 0);
}

/** Decodes every value in `buf` (an RTMP command or data message body). */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const values: Amf0Value[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const item = decodeAt(buf, offset, 0);
    values.push(item.value);
    offset = item.next;
  }
  return values;
}

function encodeShortString(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  if (body.length > 0xffff) throw new Amf0Error(`property name longer than 65535 bytes`, 0);
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

const OBJECT_END = Buffer.from([0, 0, AMF0_MARKER.objectEnd]);

function encodeProperties(entries: Iterable<[string, Amf0Value]>, parts: Buffer[], depth: number): void {
  for (const [k, v] of entries) {
    if (k === '') throw new Amf0Error('empty property name cannot be encoded', 0);
    parts.push(encodeShortString(k));
    encodeInto(v, parts, depth + 1);
  }
  parts.push(OBJECT_END);
}

function encodeInto(value: Amf0Value, parts: Buffer[], depth: number): void {
  if (depth > AMF0_MAX_DEPTH) throw new Amf0Error(`nesting deeper than ${AMF0_MAX_DEPTH}`, 0);
  if (value === null) { parts.push(Buffer.from([AMF0_MARKER.null])); return; }
  if (value === undefined) { parts.push(Buffer.from([AMF0_MARKER.undefined])); return; }
  switch (typeof value) {
    case 'number': {
      const out = Buffer.allocUnsafe(9);
      out[0] = AMF0_MARKER.number;
      out.writeDoubleBE(value, 1);
      parts.push(out);
      return;
    }
    case 'boolean':
      parts.push(Buffer.from([AMF0_MARKER.boolean, value ? 1 : 0]));
      return;
    case 'string': {
      const body = Buffer.from(value, 'utf8');
      if (body.length <= 0xffff) {
        const head = Buffer.allocUnsafe(3);
        head[0] = AMF0_MARKER.string;
        head.writeUInt16BE(body.length, 1);
        parts.push(head, body);
      } else {
        const head = Buffer.allocUnsafe(5);
        head[0] = AMF0_MARKER.longString;
        head.writeUInt32BE(body.length, 1);
        parts.push(head, body);
      }
      return;
    }
    default:
      break;
  }
  if (value instanceof Date) {
    const out = Buffer.alloc(11);
    out[0] = AMF0_MARKER.date;
    out.writeDoubleBE(value.getTime(), 1);
    parts.push(out);
    return;
  }
  if (Array.isArray(value)) {
    const head = Buffer.allocUnsafe(5);
    head[0] = AMF0_MARKER.strictArray;
    head.writeUInt32BE(value.length, 1);
    parts.push(head);
    for (const item of value) encodeInto(item, parts, depth + 1);
    return;
  }
  if (value instanceof Map) {
    const head = Buffer.allocUnsafe(5);
    head[0] = AMF0_MARKER.ecmaArray;
    head.writeUInt32BE(value.size, 1);
    parts.push(head);
    encodeProperties(value.entries(), parts, depth);
    return;
  }
  if (typeof value === 'object') {
    parts.push(Buffer.from([AMF0_MARKER.object]));
    encodeProperties(Object.entries(value), parts, depth);
    return;
  }
  throw new Amf0Error(`cannot encode a ${typeof value}`, 0);
}

/** Encodes the values one after another (an RTMP command body). */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) encodeInto(v, parts, 0);
  return Buffer.concat(parts);
}

/** Turns a decoded value into plain JSON-friendly data (Maps become objects, Dates ISO strings). */
export function amf0ToPlain(value: Amf0Value): unknown {
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) setOwn(out, k, amf0ToPlain(v));
    return out;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(amf0ToPlain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, amf0ToPlain(v));
    return out;
  }
  return value;
}
