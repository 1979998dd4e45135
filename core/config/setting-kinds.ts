/**
 * The forms a setting may take (core/config/config.ts FIELDS gives each setting one): how an environment
 * string becomes a value, the check, and the expected form quoted in the error that names a bad field.
 */

import { PART_TARGET_RANGE } from '../model/channel';
import { isMaxmemory, parseByteSize } from './memory-size';
import { WEBHOOK_SECRET_MAX, WEBHOOK_SECRET_MIN, WEBHOOK_URL_MAX, webhookSecretProblem, webhookUrlProblem } from '../model/webhook';

export type Kind =
  | 'port' | 'int' | 'posInt' | 'srtLatency' | 'rtmpMessageBytes' | 'timeoutMs' | 'string' | 'nullableString' | 'bool' | 'logLevel' | 'url' | 'prefix'
  | 'ms' | 'seconds' | 'segmentSeconds' | 'partTarget' | 'x264Preset' | 'threads' | 'liveWindow' | 'overhead' | 'eventsMaxLen' | 'maxmemory' | 'archiveUrl' | 'hotWindow'
  | 'webhookUrl' | 'webhookSecret' | 'webhookTimeout' | 'admissionDefault' | 'webhookRetries' | 'webhookQueue' | 'webhookLog';

/** The fewest seconds a closed segment's payloads stay in Redis before they may move to the archive. */
export const MIN_HOT_WINDOW_SECONDS = 10;

/** `s3://bucket[/prefix]` (the bucket as S3 names them: 3-63 lowercase letters, digits, dots, hyphens). */
const S3_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[^\0]*)?$/;

/** x264's presets (transcoders/encoder-settings.ts X264_PRESETS; a unit test keeps the two in step). */
export const X264_PRESET_NAMES = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'];

export const EXPECTED: Record<Kind, string> = {
  port: 'an integer port from 0 to 65535',
  int: 'an integer ≥ 0',
  posInt: 'an integer ≥ 1',
  srtLatency: 'a latency in milliseconds from 20 to 8000',
  rtmpMessageBytes: 'a size in bytes from 65536 to 16777215',
  timeoutMs: 'a duration in milliseconds from 100 to 3600000',
  string: 'a non-empty string',
  nullableString: 'a string, or null for none',
  bool: 'true or false',
  logLevel: 'one of fatal, error, warn, info, debug, trace, silent',
  url: 'an http:// or https:// URL, or null',
  prefix: 'a key prefix of letters, digits, _ - . : (1-64 characters)',
  ms: 'a duration in milliseconds from 1 to 3600000',
  seconds: 'a duration in seconds, above 0 and at most 3600',
  segmentSeconds: 'a segment duration in seconds from 0.5 to 30',
  partTarget: `an LL-HLS part target in seconds from ${PART_TARGET_RANGE.min} to ${PART_TARGET_RANGE.max}, below the segment duration`,
  x264Preset: `an x264 preset: ${X264_PRESET_NAMES.join(', ')}`,
  threads: 'an integer from 0 (automatic) to 256',
  liveWindow: 'a number of segments from 3 to 10000',
  overhead: 'a factor from 1 to 2',
  eventsMaxLen: 'an integer from 100 to 10000000',
  maxmemory: 'a size in bytes (an integer, or 1024-based with kb, mb or gb: 512mb, 4gb) of at least 1mb, 0 for no limit, or "auto" (half the memory, at least 256mb)',
  archiveUrl: 'a file:// URL of a local folder (file:///var/lib/beamline/archive, or file://relative/folder), an s3://bucket[/prefix] URL (with BEAM_S3_ENDPOINT, BEAM_S3_REGION), or null for <data dir>/archive',
  hotWindow: `a whole number of seconds from ${MIN_HOT_WINDOW_SECONDS} to 604800`,
  webhookUrl: `an http:// or https:// URL of at most ${WEBHOOK_URL_MAX} characters, without user:password@ or #fragment, or null for none`,
  webhookSecret: `a shared secret of ${WEBHOOK_SECRET_MIN} to ${WEBHOOK_SECRET_MAX} printable ASCII characters without spaces, or null`,
  webhookTimeout: 'a duration in milliseconds from 100 to 30000',
  admissionDefault: 'allow or deny',
  webhookRetries: 'an integer from 0 to 10',
  webhookQueue: 'an integer from 1 to 100000',
  webhookLog: 'an integer from 1 to 10000',
};

/**
 * A value as written (an environment string, or a string in the JSON file) turned into the field's type where
 * the kind has a textual form; anything else is returned as given, for check() to refuse.
 */
export function normalize(kind: Kind, v: unknown): unknown {
  if (kind !== 'maxmemory' || typeof v !== 'string') return v;
  if (/^\s*(auto)?\s*$/i.test(v)) return null;
  return parseByteSize(v) ?? v;
}

/** Coerce an environment string to the field's type (validation happens afterwards; kinds with a textual form are normalized then). */
export function fromEnv(kind: Kind, raw: string): unknown {
  switch (kind) {
    case 'port':
    case 'int':
    case 'posInt':
    case 'srtLatency':
    case 'rtmpMessageBytes':
    case 'timeoutMs':
    case 'ms':
    case 'threads':
    case 'liveWindow':
    case 'eventsMaxLen':
    case 'hotWindow':
    case 'webhookTimeout':
    case 'webhookRetries':
    case 'webhookQueue':
    case 'webhookLog':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'seconds':
    case 'segmentSeconds':
    case 'partTarget':
    case 'overhead':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'bool':
      return /^(true|1|yes|on)$/i.test(raw) ? true : /^(false|0|no|off)$/i.test(raw) ? false : raw;
    case 'nullableString':
    case 'url':
    case 'archiveUrl':
    case 'webhookUrl':
    case 'webhookSecret':
      return raw === '' ? null : raw;
    default:
      return raw;
  }
}

export function check(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'port':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;
    case 'int':
      return Number.isSafeInteger(v) && (v as number) >= 0;
    case 'posInt':
      return Number.isSafeInteger(v) && (v as number) >= 1;
    case 'srtLatency':
      return Number.isSafeInteger(v) && (v as number) >= 20 && (v as number) <= 8000;
    case 'rtmpMessageBytes':
      return Number.isSafeInteger(v) && (v as number) >= 65536 && (v as number) <= 0xffffff;
    case 'timeoutMs':
      return Number.isSafeInteger(v) && (v as number) >= 100 && (v as number) <= 3_600_000;
    case 'string':
      return typeof v === 'string' && v.length > 0;
    case 'nullableString':
      return v === null || typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'logLevel':
      return typeof v === 'string' && ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v);
    case 'url':
      return v === null || (typeof v === 'string' && /^https?:\/\/[^\s/]+/.test(v));
    case 'prefix':
      return typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(v);
    case 'ms':
      return inRange(v, 1, 3_600_000, true);
    case 'seconds':
      return inRange(v, 0, 3600, false) && (v as number) > 0;
    case 'segmentSeconds':
      return inRange(v, 0.5, 30, false);
    case 'partTarget':
      return inRange(v, PART_TARGET_RANGE.min, PART_TARGET_RANGE.max, false);
    case 'x264Preset':
      return typeof v === 'string' && X264_PRESET_NAMES.includes(v);
    case 'threads':
      return inRange(v, 0, 256, true);
    case 'liveWindow':
      return inRange(v, 3, 10000, true);
    case 'overhead':
      return inRange(v, 1, 2, false);
    case 'eventsMaxLen':
      return inRange(v, 100, 10_000_000, true);
    case 'maxmemory':
      return v === null || isMaxmemory(v);
    case 'archiveUrl':
      return v === null || (typeof v === 'string' && ((/^file:\/\/[^\0]+$/.test(v) && !/%00/.test(v) && isDecodable(v)) || S3_URL.test(v)));
    case 'hotWindow':
      return inRange(v, MIN_HOT_WINDOW_SECONDS, 604_800, true);
    case 'webhookUrl':
      return v === null || webhookUrlProblem(v) === null;
    case 'webhookSecret':
      return v === null || webhookSecretProblem(v) === null;
    case 'webhookTimeout':
      return inRange(v, 100, 30_000, true);
    case 'admissionDefault':
      return v === 'allow' || v === 'deny';
    case 'webhookRetries':
      return inRange(v, 0, 10, true);
    case 'webhookQueue':
      return inRange(v, 1, 100_000, true);
    case 'webhookLog':
      return inRange(v, 1, 10_000, true);
  }
}

function isDecodable(v: string): boolean {
  try {
    decodeURIComponent(v);
    return true;
  } catch {
    return false;
  }
}

function inRange(v: unknown, min: number, max: number, integer: boolean): boolean {
  return typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isSafeInteger(v)) && v >= min && v <= max;
}
