/**
 * Pure validation of content names, formats and media element metadata as they arrive over the
 * Content Beam API. Everything here throws BeamError with a message naming the bad field.
 */

import { BeamError } from './errors';
import { CODEC_TYPES, type CodecType, type ElementMeta, type Format, type Rational, type Stream } from './media';
import type { ElementType } from './media-ref';
import { isObject } from './json';
import { TIMELINE_HZ } from './live';

/**
 * Content names: 1–200 characters of letters, digits and `_ . ~ : @ ! $ ' ( ) * + , ; = -`,
 * starting with a letter or digit, not ending in `.json` (that extension is the API's).
 * Braces are excluded because they are the Redis Cluster hash-tag delimiters of our keys.
 */
const RE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.~:@!$'()*+,;=-]{0,199}$/;

export function validateContentName(name: unknown): string {
  if (typeof name !== 'string' || !RE_NAME.test(name) || name.endsWith('.json')) {
    const shown = typeof name === 'string' ? `'${name.slice(0, 64)}'` : String(typeof name);
    throw new BeamError(
      'BEAM_ERR_BAD_NAME',
      `Invalid content name ${shown}: use 1-200 characters of letters, digits and _ . ~ : @ ! $ ' ( ) * + , ; = -, ` +
        'starting with a letter or digit and not ending in .json.',
    );
  }
  return name;
}

function badFormat(field: string, expected: string): BeamError {
  return new BeamError('BEAM_ERR_BAD_FORMAT', `Invalid format: '${field}' must be ${expected}.`);
}

function validRational(v: unknown): v is Rational {
  return (
    Array.isArray(v) && v.length === 2 && v.every((x) => Number.isSafeInteger(x)) && (v[0] as number) > 0 && (v[1] as number) > 0
  );
}

/** A pair of integers as FFmpeg writes rationals that may be unknown (`[0, 1]`, `[0, 0]`). */
function validLooseRational(v: unknown): boolean {
  return Array.isArray(v) && v.length === 2 && v.every((x) => Number.isSafeInteger(x));
}

type FieldCheck = [expected: string, ok: (v: unknown) => boolean];
const NUMBER: FieldCheck = ['a number or null', (v) => typeof v === 'number' && Number.isFinite(v)];
const COUNT: FieldCheck = ['a whole number ≥ 0 or null', (v) => Number.isSafeInteger(v) && (v as number) >= 0];
const INTEGER: FieldCheck = ['a whole number or null', (v) => Number.isSafeInteger(v)];
const STRING: FieldCheck = ['a string or null', (v) => typeof v === 'string'];
const OBJECT: FieldCheck = ['an object or null', (v) => isObject(v)];
const RATIONAL: FieldCheck = ['a pair of integers such as [25, 1], or null', validLooseRational];
const NAME_OR_OBJECT: FieldCheck = ['a format name, an object or null', (v) => typeof v === 'string' || isObject(v)];
const NUMBER_OR_STRING: FieldCheck = ['a number, a string or null', (v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))];

/** The documented fields of a format, a stream and codec parameters, with their JSON types (null always allowed). */
const FORMAT_FIELDS: Record<string, FieldCheck> = {
  duration: NUMBER, bit_rate: NUMBER, start_time: NUMBER, packet_size: COUNT, max_delay: INTEGER, probesize: COUNT,
  iformat: NAME_OR_OBJECT, oformat: NAME_OR_OBJECT, priv_data: OBJECT, flags: OBJECT,
};
const STREAM_FIELDS: Record<string, FieldCheck> = {
  id: INTEGER, start_time: NUMBER, duration: NUMBER, nb_frames: COUNT, r_frame_rate: RATIONAL, avg_frame_rate: RATIONAL,
  sample_aspect_ratio: RATIONAL, disposition: OBJECT, metadata: OBJECT, side_data: OBJECT,
};
const CODECPAR_FIELDS: Record<string, FieldCheck> = {
  name: STRING, codec_id: COUNT, codec_tag: NUMBER_OR_STRING, format: NUMBER_OR_STRING, bit_rate: NUMBER, width: COUNT, height: COUNT,
  sample_rate: COUNT, channels: COUNT, channel_layout: NUMBER_OR_STRING, frame_size: COUNT, block_align: COUNT,
  bits_per_coded_sample: COUNT, bits_per_raw_sample: COUNT, profile: NUMBER_OR_STRING, level: INTEGER,
  extradata: STRING, sample_aspect_ratio: RATIONAL, color_range: STRING, color_space: STRING, video_delay: COUNT,
};

function checkFields(raw: Record<string, unknown>, fields: Record<string, FieldCheck>, prefix: string): void {
  for (const [name, [expected, ok]] of Object.entries(fields)) {
    const v = raw[name];
    if (v !== undefined && v !== null && !ok(v)) throw badFormat(`${prefix}${name}`, `${expected}, not ${describe(v)}`);
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string '${v.slice(0, 32)}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v).slice(0, 32)}`;
}

function validateStream(raw: unknown, position: number): Stream {
  const field = `streams[${position}]`;
  if (!isObject(raw)) throw badFormat(field, 'an object');
  if (raw.type !== undefined && raw.type !== 'Stream') throw badFormat(`${field}.type`, "'Stream' when given");
  const index = raw.index ?? position;
  if (index !== position) throw badFormat(`${field}.index`, `${position} (streams are listed in index order)`);
  const timeBase = raw.time_base ?? [1, TIMELINE_HZ];
  if (!validRational(timeBase)) throw badFormat(`${field}.time_base`, 'a pair of positive integers such as [1, 90000]');
  const codecpar = raw.codecpar;
  if (!isObject(codecpar)) throw badFormat(`${field}.codecpar`, 'an object with codec_type');
  if (!CODEC_TYPES.includes(codecpar.codec_type as CodecType)) {
    throw badFormat(`${field}.codecpar.codec_type`, `one of ${CODEC_TYPES.join(', ')}`);
  }
  checkFields(raw, STREAM_FIELDS, `${field}.`);
  checkFields(codecpar, CODECPAR_FIELDS, `${field}.codecpar.`);
  return { ...raw, type: 'Stream', index, time_base: timeBase, codecpar: { ...codecpar, codec_type: codecpar.codec_type as CodecType } };
}

/**
 * Validate a format body for create (name from `url` or given) or update (name fixed by the path).
 * `ttl` is the per-content time-to-live of media elements in seconds (0 = configured default).
 */
export function validateFormat(raw: unknown, name: string): Format {
  if (!isObject(raw)) throw badFormat('body', 'a JSON object describing the format');
  if (raw.type !== undefined && !['format', 'demuxer', 'muxer'].includes(raw.type as string)) {
    throw badFormat('type', `'format', 'demuxer' or 'muxer' when given, not ${describe(raw.type)}`);
  }
  if (raw.url !== undefined && raw.url !== name) throw badFormat('url', `'${name}', the content name in the path`);
  const streams = raw.streams ?? [];
  if (!Array.isArray(streams)) throw badFormat('streams', 'an array');
  checkFields(raw, FORMAT_FIELDS, '');
  if (streams.length > 1024) throw badFormat('streams', 'at most 1024 streams');
  const type = raw.iformat ? 'demuxer' : raw.oformat ? 'muxer' : 'format';
  const ttl = raw.ttl ?? 0;
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) throw badFormat('ttl', 'a whole number of seconds ≥ 0');
  if (raw.metadata !== undefined && raw.metadata !== null) {
    if (!isObject(raw.metadata)) throw badFormat('metadata', `an object of strings, not ${describe(raw.metadata)}`);
    for (const [k, v] of Object.entries(raw.metadata)) {
      if (typeof v !== 'string') throw badFormat(`metadata.${k.slice(0, 64)}`, `a string, not ${describe(v)}`);
    }
  }
  return { ...raw, type, url: name, ttl, streams: streams.map(validateStream) };
}

/**
 * The element type a metadata body declares, for `PUT …/<pts>` (a bare pts names no type):
 * its `type` must be Packet or Frame (any case).
 */
export function elementTypeOf(raw: unknown, pts: number): ElementType {
  const bad = (why: string) => new BeamError('BEAM_ERR_BAD_ELEMENT', `Invalid media element for '${pts}': ${why}.`);
  if (!isObject(raw)) throw bad('the body must be a JSON object with type Packet or Frame');
  const type = typeof raw.type === 'string' ? raw.type.toLowerCase() : undefined;
  if (type === 'packet' || type === 'frame') return type;
  throw bad(
    raw.type === undefined
      ? "'type' is missing: a bare pts stores what the body's type says, Packet or Frame"
      : `'type' is '${String(raw.type).slice(0, 32)}', not Packet or Frame`,
  );
}

/**
 * Validate media element metadata for `PUT …/packet_<pts>`, `…/frame_<pts>` or `…/<pts>`:
 * the type must match the element, and the body's pts and stream_index (if any) the path's.
 * A frame's `buf_sizes` (plane sizes) are kept.
 */
export function validateElement(raw: unknown, element: ElementType, pts: number, streamIndex: number): ElementMeta {
  const bad = (why: string) => new BeamError('BEAM_ERR_BAD_ELEMENT', `Invalid ${element} metadata: ${why}.`);
  if (!isObject(raw)) throw bad('the body must be a JSON object');
  const expected = element === 'packet' ? 'Packet' : 'Frame';
  if (raw.type !== undefined && String(raw.type).toLowerCase() !== element) {
    throw bad(`'type' is '${String(raw.type).slice(0, 32)}' but the path names a ${element} (type ${expected})`);
  }
  if (raw.pts !== undefined && raw.pts !== pts) throw bad(`'pts' is ${String(raw.pts).slice(0, 32)} but the path says ${pts}`);
  for (const f of ['dts', 'size', 'duration', 'pos'] as const) {
    if (raw[f] !== undefined && raw[f] !== null && !Number.isSafeInteger(raw[f])) throw bad(`'${f}' must be an integer`);
  }
  if (raw.stream_index !== undefined && raw.stream_index !== streamIndex) {
    throw bad(`'stream_index' is ${String(raw.stream_index).slice(0, 32)} but the path names stream ${streamIndex}`);
  }
  const bufSizes = raw.buf_sizes;
  if (bufSizes !== undefined && bufSizes !== null) {
    if (!Array.isArray(bufSizes) || bufSizes.length > 64 || !bufSizes.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
      throw bad("'buf_sizes' must be an array of plane sizes in bytes (at most 64)");
    }
  }
  if (raw.flags !== undefined && !isObject(raw.flags)) throw bad("'flags' must be an object such as {\"KEY\": true}");
  if (element === 'packet') {
    const { buf_sizes: _planes, ...rest } = raw;
    const flags = { KEY: false, CORRUPT: false, DISCARD: false, TRUSTED: false, DISPOSABLE: false, ...(raw.flags as object | undefined) };
    return {
      dts: pts,
      size: 0,
      duration: 0,
      pos: -1,
      ...rest,
      flags,
      type: 'Packet',
      pts,
      stream_index: streamIndex,
    } as ElementMeta;
  }
  return { ...raw, type: 'Frame', pts, stream_index: streamIndex } as ElementMeta;
}

/** A rendition relationship: target content is a rendition of source content. */
export interface StreamMapping {
  /** Target stream index. */
  target: number;
  /** Source stream indexes used to make it (e.g. two mono tracks → one stereo). */
  source: number[];
}

export interface Rendition {
  source: string;
  target: string;
  streamMap: StreamMapping[];
}

export function validateRenditionBody(raw: unknown, target: string): Rendition {
  const bad = (why: string) => new BeamError('BEAM_ERR_BAD_REQUEST', `Invalid rendition relationship: ${why}.`);
  if (!isObject(raw)) throw bad('the body must be a JSON object {source, streamMap?}');
  const source = validateContentName(raw.source);
  if (source === target) throw bad('a content item cannot be a rendition of itself');
  const map = raw.streamMap ?? [];
  if (!Array.isArray(map)) throw bad("'streamMap' must be an array of {target, source: [indexes]}");
  const streamMap = map.map((m, i): StreamMapping => {
    if (!isObject(m) || !Number.isSafeInteger(m.target) || (m.target as number) < 0) {
      throw bad(`streamMap[${i}].target must be a stream index`);
    }
    const src = Array.isArray(m.source) ? m.source : [m.source];
    if (src.length === 0 || !src.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
      throw bad(`streamMap[${i}].source must be a stream index or an array of them`);
    }
    return { target: m.target as number, source: src as number[] };
  });
  return { source, target, streamMap };
}
