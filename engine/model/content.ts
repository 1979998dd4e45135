/**
 * Pure validation of content names, formats and media element metadata as they arrive over the
 * Content Beam API. Everything here throws BeamError with a message naming the bad field.
 */

import { BeamError } from './errors';
import { CODEC_TYPES, type CodecType, type ElementMeta, type Format, type Rational, type Stream } from './media';
import type { ElementType } from './media-ref';
import { isObject } from './json';

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

function validateStream(raw: unknown, position: number): Stream {
  const field = `streams[${position}]`;
  if (!isObject(raw)) throw badFormat(field, 'an object');
  const index = raw.index ?? position;
  if (index !== position) throw badFormat(`${field}.index`, `${position} (streams are listed in index order)`);
  const timeBase = raw.time_base ?? [1, 90000];
  if (!validRational(timeBase)) throw badFormat(`${field}.time_base`, 'a pair of positive integers such as [1, 90000]');
  const codecpar = raw.codecpar;
  if (!isObject(codecpar)) throw badFormat(`${field}.codecpar`, 'an object with codec_type');
  if (!CODEC_TYPES.includes(codecpar.codec_type as CodecType)) {
    throw badFormat(`${field}.codecpar.codec_type`, `one of ${CODEC_TYPES.join(', ')}`);
  }
  return { ...raw, type: 'Stream', index, time_base: timeBase, codecpar: { ...codecpar, codec_type: codecpar.codec_type as CodecType } };
}

/**
 * Validate a format body for create (name from `url` or given) or update (name fixed by the path).
 * `ttl` is the per-content time-to-live of media elements in seconds (0 = configured default).
 */
export function validateFormat(raw: unknown, name: string): Format {
  if (!isObject(raw)) throw badFormat('body', 'a JSON object describing the format');
  if (raw.url !== undefined && raw.url !== name) throw badFormat('url', `'${name}', the content name in the path`);
  const streams = raw.streams ?? [];
  if (!Array.isArray(streams)) throw badFormat('streams', 'an array');
  if (streams.length > 1024) throw badFormat('streams', 'at most 1024 streams');
  const type = raw.iformat ? 'demuxer' : raw.oformat ? 'muxer' : 'format';
  const ttl = raw.ttl ?? 0;
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) throw badFormat('ttl', 'a whole number of seconds ≥ 0');
  if (raw.metadata !== undefined && !isObject(raw.metadata)) throw badFormat('metadata', 'an object of strings');
  return { ...raw, type, url: name, ttl, streams: streams.map(validateStream) };
}

/**
 * Validate media element metadata for `PUT …/packet_<pts>` or `…/frame_<pts>`:
 * the type must match the element, and the body's pts (if any) the path's.
 */
export function validateElement(raw: unknown, element: ElementType, pts: number, streamIndex: number): ElementMeta {
  const bad = (why: string) => new BeamError('BEAM_ERR_BAD_ELEMENT', `Invalid ${element} metadata: ${why}.`);
  if (!isObject(raw)) throw bad('the body must be a JSON object');
  const expected = element === 'packet' ? 'Packet' : 'Frame';
  if (raw.type !== undefined && String(raw.type).toLowerCase() !== element) {
    throw bad(`'type' is '${String(raw.type)}' but the path names a ${element} (type ${expected})`);
  }
  if (raw.pts !== undefined && raw.pts !== pts) throw bad(`'pts' is ${String(raw.pts)} but the path says ${pts}`);
  for (const f of ['dts', 'size', 'duration', 'pos'] as const) {
    if (raw[f] !== undefined && raw[f] !== null && !Number.isSafeInteger(raw[f])) throw bad(`'${f}' must be an integer`);
  }
  if (raw.stream_index !== undefined && raw.stream_index !== streamIndex) {
    throw bad(`'stream_index' is ${String(raw.stream_index)} but the path names stream ${streamIndex}`);
  }
  const { buf_sizes: _ignored, ...rest } = raw;
  if (raw.flags !== undefined && !isObject(raw.flags)) throw bad("'flags' must be an object such as {\"KEY\": true}");
  if (element === 'packet') {
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
  return { ...rest, type: 'Frame', pts, stream_index: streamIndex } as ElementMeta;
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
