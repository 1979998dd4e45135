/**
 * Pure parser for the SRT streamid (and stream-key) forms a publisher may send (DESIGN §3 "Ingest"):
 *
 * - a bare stream key, what OBS sends when the key is typed into its Stream Key field;
 * - the SRT access-control syntax `#!::r=<channel>,m=publish,s=<key>`: `u=` or `secret=` may carry the
 *   key instead of `s=`, `r=<key>` alone means the resource is the key, `m` defaults to `publish`,
 *   `t=<rung>` names the rendition a reader (`m=request`) asks for (ignored for a publisher), unknown keys are ignored;
 * - `publish:<channel>:<key>`.
 *
 * A publisher's `role=primary|backup` (access-control form only; default primary) says which of a channel's two
 * redundant inputs it is (ingest/redundancy.ts). The RTMP form is the stream name `<key>?role=backup`
 * ({@link parseRtmpStreamName}).
 *
 * A percent-encoded access-control or publish: form (from a fully URL-encoded SRT URL) is decoded once.
 * It never throws: every bad input yields `{ ok: false, reason }` with a reason a person understands.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

export type StreamIdMode = 'publish' | 'request';
/** Which of a channel's redundant inputs a publisher is. */
export type PublisherRole = 'primary' | 'backup';

export type ParsedStreamId =
  | { ok: true; mode: StreamIdMode; channel?: string; key: string; rung?: string; role?: PublisherRole }
  | { ok: false; reason: string };

/** SRT itself caps a streamid at 512 bytes; longer input is refused before any parsing. */
export const MAX_STREAM_ID_LENGTH = 512;

const ACCESS_CONTROL_PREFIX = '#!::';
const PUBLISH_PREFIX = 'publish:';
/** Keys of the access-control list that may carry the stream key, in order of precedence. */
const KEY_FIELDS = ['s', 'secret', 'u'] as const;
const MODES: Record<string, StreamIdMode> = { publish: 'publish', request: 'request' };

// C0 controls and DEL (C1 controls are U+0080..U+009F).
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const WHITESPACE = /\s/;

function fail(reason: string): ParsedStreamId {
  return { ok: false, reason };
}

/** Shortens a user-supplied fragment for inclusion in a reason. */
function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

function checkKey(key: string, where: string): string | undefined {
  if (key.length === 0) return `the stream key (${where}) is empty`;
  if (WHITESPACE.test(key)) return `the stream key (${where}) contains whitespace`;
  return undefined;
}

function checkChannel(channel: string, where: string): string | undefined {
  if (channel.length === 0) return `the channel name (${where}) is empty`;
  if (WHITESPACE.test(channel)) return `the channel name (${where}) contains whitespace`;
  return undefined;
}

/** `#!::k=v,k=v,...` (the body after the prefix). */
function parseAccessControl(body: string): ParsedStreamId {
  if (body.trim().length === 0) return fail('the "#!::" access-control list is empty');
  const fields = new Map<string, string>();
  const items = body.split(',');
  for (let i = 0; i < items.length; i++) {
    const item = (items[i] ?? '').trim();
    const n = i + 1;
    if (item.length === 0) return fail(`the "#!::" list has an empty item at position ${n} (stray comma?)`);
    const eq = item.indexOf('=');
    if (eq < 0) return fail(`the "#!::" list item ${n} ${quote(item)} is not of the form key=value`);
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (name.length === 0) return fail(`the "#!::" list item ${n} ${quote(item)} has no key before "="`);
    if (fields.has(name)) return fail(`the "#!::" list gives the key "${name}" more than once`);
    fields.set(name, value);
  }

  const rawMode = fields.get('m');
  let mode: StreamIdMode = 'publish';
  if (rawMode !== undefined) {
    const m = MODES[rawMode];
    if (m === undefined) return fail(`unsupported mode m=${quote(rawMode)}: use m=publish (or m=request to play)`);
    mode = m;
  }

  // t= is the rung a reader asks for; a publisher's t= (the SRT type field, e.g. t=stream) is ignored as before.
  const rawRung = mode === 'request' ? fields.get('t') : undefined;
  if (rawRung !== undefined) {
    if (rawRung.length === 0) return fail('the rung name (t=) is empty');
    if (WHITESPACE.test(rawRung)) return fail('the rung name (t=) contains whitespace');
  }
  const rawRole = mode === 'publish' ? fields.get('role') : undefined;
  if (rawRole !== undefined && rawRole !== 'primary' && rawRole !== 'backup') {
    return fail(`unsupported role=${quote(rawRole)}: use role=primary (the default) or role=backup`);
  }
  const withRung = (p: { ok: true; mode: StreamIdMode; channel?: string; key: string }): ParsedStreamId => {
    const out: ParsedStreamId = rawRung === undefined ? p : { ...p, rung: rawRung };
    return rawRole === undefined ? out : { ...out, role: rawRole };
  };

  const resource = fields.get('r');
  const keyField = KEY_FIELDS.find((f) => fields.has(f));
  if (keyField !== undefined) {
    const key = fields.get(keyField) ?? '';
    const bad = checkKey(key, `${keyField}=`);
    if (bad) return fail(bad);
    if (resource === undefined) return withRung({ ok: true, mode, key });
    const badChannel = checkChannel(resource, 'r=');
    if (badChannel) return fail(badChannel);
    return withRung({ ok: true, mode, channel: resource, key });
  }
  if (resource !== undefined) {
    // `r=<streamKey>` alone: the resource is the key.
    const bad = checkKey(resource, 'r=');
    if (bad) return fail(bad);
    return withRung({ ok: true, mode, key: resource });
  }
  return fail('the "#!::" list carries no stream key: give s=<key> (or u=, secret=, or r=<key> alone)');
}

/** `publish:<channel>:<key>` (the body after the prefix). */
function parsePublish(body: string): ParsedStreamId {
  const parts = body.split(':');
  if (parts.length !== 2) {
    return fail(`"publish:" must be followed by exactly <channel>:<key>, got ${parts.length} part(s)`);
  }
  const [channel = '', key = ''] = parts;
  const badChannel = checkChannel(channel, 'publish:<channel>:<key>');
  if (badChannel) return fail(badChannel);
  const badKey = checkKey(key, 'publish:<channel>:<key>');
  if (badKey) return fail(badKey);
  return { ok: true, mode: 'publish', channel, key };
}

/**
 * Tools that percent-encode the whole SRT URL (ffmpeg and srt-live-transmit pass the streamid through
 * undecoded) send `%23%21%3A%3A...` or `publish%3A...`: decode those two forms once. Anything else,
 * including a bare key that happens to contain '%', is left as typed.
 */
function decodeIfEncoded(s: string): string {
  if (!/^(%23|publish%3a)/i.test(s)) return s;
  try {
    return decodeURIComponent(s).trim();
  } catch {
    return s;
  }
}

export function parseStreamId(raw: string): ParsedStreamId {
  if (typeof raw !== 'string') return fail('the stream id is not a string');
  if (raw.length > MAX_STREAM_ID_LENGTH) {
    return fail(`the stream id is too long (${raw.length} characters, at most ${MAX_STREAM_ID_LENGTH})`);
  }
  const s = decodeIfEncoded(raw.trim());
  if (s.length === 0) return fail('the stream id is empty: set the stream key');
  if (CONTROL_CHARS.test(s)) return fail('the stream id contains control characters');

  if (s.startsWith(ACCESS_CONTROL_PREFIX)) return parseAccessControl(s.slice(ACCESS_CONTROL_PREFIX.length));
  if (s.startsWith('#!:')) {
    return fail('unsupported "#!:" syntax: the SRT access-control form starts with "#!::" (two colons)');
  }
  if (s.startsWith(PUBLISH_PREFIX)) return parsePublish(s.slice(PUBLISH_PREFIX.length));

  const bad = checkKey(s, 'bare stream key');
  if (bad) return fail(bad);
  return { ok: true, mode: 'publish', key: s };
}

export type ParsedRtmpName = { ok: true; key: string; role: PublisherRole } | { ok: false; reason: string };

/**
 * Pure: an RTMP stream name (what OBS calls the stream key) → the key and the publisher's role. `<key>` is a
 * primary; `<key>?role=backup` (other query parameters are ignored; `role=primary` is the default) a backup.
 */
export function parseRtmpStreamName(name: string): ParsedRtmpName {
  const q = name.indexOf('?');
  if (q < 0) return { ok: true, key: name, role: 'primary' };
  const key = name.slice(0, q);
  let role: PublisherRole = 'primary';
  for (const item of name.slice(q + 1).split('&')) {
    const eq = item.indexOf('=');
    const k = eq < 0 ? item : item.slice(0, eq);
    if (k !== 'role') continue;
    const v = eq < 0 ? '' : item.slice(eq + 1);
    if (v !== 'primary' && v !== 'backup') return fail(`unsupported role=${quote(v)}: use role=primary (the default) or role=backup`) as ParsedRtmpName;
    role = v;
  }
  return { ok: true, key, role };
}
