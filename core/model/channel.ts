/**
 * Pure channel model: validation of create/patch bodies, stream keys, and the paste-ready ingest and
 * playback settings an operator gets back.
 */

import { randomBytes } from 'node:crypto';
import { validateCaptions, type CaptionService } from './captions';
import { BeamError } from './errors';
import { isObject } from './json';
import { newPlaybackSecret } from './playback-token';
import { webhookSecretProblem, webhookUrlProblem, type ChannelWebhook } from './webhook';

export type ChannelState = 'idle' | 'live' | 'reconnecting';

/** One rung of an ABR ladder (validated by the transcoders' ladder module, injected into the API). */
export interface Rung {
  name: string;
  width: number;
  height: number;
  videoBitrate: number;
  maxBitrate?: number;
  profile?: string;
  fps?: number;
}

export interface Channel {
  name: string;
  streamKey: string;
  passphrase: string | null;
  dvrWindowSeconds: number;
  reconnectWindowSeconds: number;
  lowLatency: boolean;
  /** LL-HLS part target in seconds (0.1-1); null or absent: the server's default (BEAM_PART_TARGET). */
  partTargetSeconds?: number | null;
  ladder: Rung[];
  /**
   * The channel's own webhook (admission and notifications about this channel, beside the server's
   * BEAM_WEBHOOK_URL); null or absent: none. Its secret is write-only: no API answer or log line carries it.
   */
  webhook?: ChannelWebhook | null;
  /**
   * A private channel's playlists, segments, images and clips open only with a playback token signed with
   * `playbackSecret` (core/model/playback-token.ts); absent: false (channels made before private ones existed).
   */
  private?: boolean;
  /** The key playback tokens are signed with (made at creation, or when a channel first becomes private). */
  playbackSecret?: string;
  /**
   * Closed-caption services the playlists declare (core/model/captions.ts); null or absent: automatic (CC1 while
   * the source video is seen to carry CEA-608 captions).
   */
  captions?: CaptionService[] | null;
  createdAt: string;
  updatedAt: string;
}

export interface ChannelStatus {
  state: ChannelState;
  since: string;
  lastConnectedAt: string | null;
  lastDisconnectedAt: string | null;
  /** Why the last publisher went away (e.g. a refusal naming the codec), for the operator. */
  lastDisconnectReason: string | null;
  /** The pipeline error code of that disconnect (`INGEST_ENDED`, `STORE_UNAVAILABLE`…, see core/model/pipeline-errors.ts). */
  lastDisconnectCode: string | null;
  reconnects: number;
  /** Ingest diagnostics, written by the publish session every few seconds. */
  ingest: Record<string, unknown> | null;
  /**
   * Redundant publishers (primary/backup), once a backup connected: `onAir`, `inputs.primary`/`inputs.backup`
   * (protocol, peer, connectedAt, health, onAir), `switches` (the newest, each with at/from/to/reason), `switchCount`.
   */
  redundancy: Record<string, unknown> | null;
}

export const CHANNEL_DEFAULTS = { dvrWindowSeconds: 3600, reconnectWindowSeconds: 30, lowLatency: true } as const;

/**
 * The channel-name rule, the one source of truth: 1-64 lowercase letters, digits, `_` or `-`, starting with a
 * letter or digit. `player/util.js` (browser code) keeps a copy that a unit test holds equal to this one.
 */
export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** The same rule without anchors, to embed in a larger pattern (a URL path). */
export const CHANNEL_NAME_BODY = CHANNEL_NAME.source.slice(1, -1);

/** Rung `<rung>` of channel `<channel>` is the content item `<channel>.<rung>` (a channel name holds no `.`). */
export function renditionContent(channel: string, rung: string): string {
  return `${channel}.${rung}`;
}

/** Pure: the rung of a rendition content item of `channel`, or null when `content` is not one. */
export function rungOfContent(channel: string, content: string): string | null {
  const prefix = `${channel}.`;
  return content.startsWith(prefix) && content.length > prefix.length ? content.slice(prefix.length) : null;
}

function bad(message: string): BeamError {
  return new BeamError('BEAM_ERR_BAD_REQUEST', message);
}

export function validateChannelName(name: unknown): string {
  if (typeof name !== 'string' || !CHANNEL_NAME.test(name)) {
    throw bad(`Invalid channel name ${typeof name === 'string' ? `'${name.slice(0, 64)}'` : String(name)}: use 1-64 lowercase letters, digits, _ or -, starting with a letter or digit.`);
  }
  return name;
}

/** A random stream key of 192 bits, URL- and streamid-safe. */
export function newStreamKey(): string {
  return randomBytes(24).toString('base64url');
}

function intIn(v: unknown, field: string, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw bad(`'${field}' must be a whole number from ${min} to ${max}.`);
  return v as number;
}

function passphraseOf(v: unknown): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'string' || !/^[A-Za-z0-9._~-]{10,79}$/.test(v)) {
    throw bad(
      "'passphrase' must be 10 to 79 characters (SRT's limits) of letters, digits, '.', '_', '~' or '-' " +
        '(encoders carry it inside an srt:// URL and do not decode it), or null for none.',
    );
  }
  return v;
}

/**
 * LL-HLS part target (seconds) when neither the channel nor BEAM_PART_TARGET sets one. PART-HOLD-BACK is three
 * of them, so it sets how far behind the newest part a standard player stays (see the README's Latency section).
 */
export const DEFAULT_PART_TARGET_SECONDS = 0.2;

/** LL-HLS part targets a channel may ask for, seconds (a publisher's next session uses it). */
export const PART_TARGET_RANGE = { min: 0.1, max: 1 } as const;

function partTargetOf(v: unknown): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < PART_TARGET_RANGE.min || v > PART_TARGET_RANGE.max) {
    throw bad(`'partTargetSeconds' must be a number of seconds from ${PART_TARGET_RANGE.min} to ${PART_TARGET_RANGE.max}, or null for the server's default.`);
  }
  return Math.round(v * 1000) / 1000;
}

export type LadderValidator = (ladder: unknown) => Rung[];

/**
 * A `webhook` patch: null removes it; `{url, secret}` sets it; `{url}` alone keeps the current secret (so the URL
 * can change without sending the secret again), and is refused when there is none yet.
 */
function webhookOf(v: unknown, current: ChannelWebhook | null | undefined): ChannelWebhook | null {
  if (v === null) return null;
  if (!isObject(v)) throw bad("'webhook' must be an object {url, secret} or null for none.");
  const unknown = Object.keys(v).filter((k) => k !== 'url' && k !== 'secret');
  if (unknown.length) throw bad(`Unknown webhook field(s): ${unknown.join(', ')}; a webhook is {url, secret}.`);
  const urlProblem = webhookUrlProblem(v.url);
  if (urlProblem) throw bad(`'webhook.url' ${urlProblem}.`);
  const secret = v.secret === undefined ? current?.secret : v.secret;
  if (secret === undefined) throw bad("'webhook.secret' is required: the shared secret every delivery is signed with (16-256 printable characters).");
  const secretProblem = webhookSecretProblem(secret);
  if (secretProblem) throw bad(`'webhook.secret' ${secretProblem}.`);
  return { url: v.url as string, secret: secret as string };
}

const EDITABLE = ['passphrase', 'dvrWindowSeconds', 'reconnectWindowSeconds', 'lowLatency', 'partTargetSeconds', 'ladder', 'webhook', 'private', 'captions'] as const;

/** Pure: whether a channel's media needs a playback token. */
export function isPrivate(ch: Pick<Channel, 'private'>): boolean {
  return ch.private === true;
}

/** Validate a POST /api/channels body into a new channel. */
export function createChannel(body: unknown, validateLadder: LadderValidator, defaultLadder: Rung[], now = new Date()): Channel {
  if (!isObject(body)) throw bad('The body must be a JSON object {name, ladder?, passphrase?, dvrWindowSeconds?, reconnectWindowSeconds?, lowLatency?, partTargetSeconds?, webhook?, private?, captions?}.');
  const unknown = Object.keys(body).filter((k) => k !== 'name' && !(EDITABLE as readonly string[]).includes(k));
  if (unknown.length) throw bad(`Unknown channel field(s): ${unknown.join(', ')}.`);
  const at = now.toISOString();
  return applyPatch(
    {
      name: validateChannelName(body.name),
      streamKey: newStreamKey(),
      passphrase: null,
      ...CHANNEL_DEFAULTS,
      ladder: defaultLadder,
      private: false,
      playbackSecret: newPlaybackSecret(),
      createdAt: at,
      updatedAt: at,
    },
    Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'name')),
    validateLadder,
    now,
  );
}

/** Validate a PATCH body against an existing channel; name and key are not patchable. */
export function applyPatch(ch: Channel, body: unknown, validateLadder: LadderValidator, now = new Date()): Channel {
  if (!isObject(body)) throw bad('The body must be a JSON object of the fields to change.');
  const out: Channel = { ...ch, updatedAt: now.toISOString() };
  for (const [k, v] of Object.entries(body)) {
    switch (k) {
      case 'passphrase':
        out.passphrase = passphraseOf(v);
        break;
      case 'dvrWindowSeconds':
        out.dvrWindowSeconds = intIn(v, k, 10, 7 * 24 * 3600);
        break;
      case 'reconnectWindowSeconds':
        out.reconnectWindowSeconds = intIn(v, k, 0, 3600);
        break;
      case 'lowLatency':
        if (typeof v !== 'boolean') throw bad("'lowLatency' must be true or false.");
        out.lowLatency = v;
        break;
      case 'partTargetSeconds':
        out.partTargetSeconds = partTargetOf(v);
        break;
      case 'ladder':
        out.ladder = validateLadder(v);
        break;
      case 'webhook':
        out.webhook = webhookOf(v, ch.webhook);
        break;
      case 'private':
        if (typeof v !== 'boolean') throw bad("'private' must be true (media only with a playback token) or false.");
        out.private = v;
        if (v && !out.playbackSecret) out.playbackSecret = newPlaybackSecret();
        break;
      case 'captions':
        out.captions = validateCaptions(v);
        break;
      case 'name':
      case 'streamKey':
        throw bad(`'${k}' cannot be changed: ${k === 'name' ? 'create a new channel' : 'rotate it with POST /api/channels/<name>/key'}.`);
      case 'playbackSecret':
        throw bad("'playbackSecret' cannot be set: rotate it with POST /api/channels/<name>/playback-secret.");
      default:
        throw bad(`Unknown channel field '${k}'.`);
    }
  }
  return out;
}

/**
 * SRT receive latency (ms) when none is configured: enough for a few retransmissions on a path with up to
 * ~50 ms round trip; raise it (BEAM_SRT_LATENCY) for mobile or long-haul encoders, at the cost of as much delay.
 */
export const DEFAULT_SRT_LATENCY_MS = 200;

export interface Endpoints {
  /** Base URL of the HTTP server as viewers reach it, e.g. http://203.0.113.7:8080. */
  httpBase: string;
  /** Host name or address publishers reach. */
  ingestHost: string;
  srtPort: number;
  rtmpPort: number;
  /** SRT latency suggested to callers, ms. */
  srtLatencyMs?: number;
}

export interface IngestSettings {
  srt: string;
  rtmp: string;
  obs: {
    server: string;
    streamKey: string;
    srt: { server: string; streamKey: string };
    rtmp: { server: string; streamKey: string };
    keyframeIntervalSeconds: number;
  };
  larix: { url: string; streamid: string; passphrase: string | null; latencyMs: number; srtMode: 'caller' };
  /**
   * WHIP (WebRTC ingest, OBS Studio 30+: Service WHIP): the server URL, the stream key as bearer token. The
   * primary's only: WHIP has no backup role.
   */
  whip?: { url: string; bearerToken: string };
}

/** The primary encoder's settings, and `backup`: the same for a second (redundant) encoder, role=backup. */
export type ChannelIngestSettings = IngestSettings & { backup: IngestSettings };

export interface PlaybackUrls {
  hls: string;
  dash: string;
  player: string;
}

/** Pure: the paste-ready settings for an encoder, and for a backup encoder (`backup`, the role=backup forms). */
export function ingestSettings(ch: Channel, ep: Endpoints): ChannelIngestSettings {
  return { ...roleSettings(ch, ep, 'primary'), backup: roleSettings(ch, ep, 'backup') };
}

function roleSettings(ch: Channel, ep: Endpoints, role: 'primary' | 'backup'): IngestSettings {
  const latencyMs = ep.srtLatencyMs ?? DEFAULT_SRT_LATENCY_MS;
  const srtBase = `srt://${ep.ingestHost}:${ep.srtPort}`;
  const pass = ch.passphrase ? `&passphrase=${encodeURIComponent(ch.passphrase)}` : '';
  const rtmpServer = `rtmp://${ep.ingestHost}:${ep.rtmpPort}/live`;
  const obsSrtServer = ch.passphrase ? `${srtBase}?passphrase=${encodeURIComponent(ch.passphrase)}&latency=${latencyMs * 1000}` : `${srtBase}?latency=${latencyMs * 1000}`;
  // A backup names its role: in the SRT access-control streamid, and as a query on the RTMP stream name.
  const backup = role === 'backup';
  const streamid = `#!::r=${ch.name},m=publish,s=${ch.streamKey}${backup ? ',role=backup' : ''}`;
  const srtKey = backup ? streamid : ch.streamKey;
  const rtmpKey = backup ? `${ch.streamKey}?role=backup` : ch.streamKey;
  return {
    srt: `${srtBase}?streamid=${encodeURIComponent(srtKey)}${pass}&latency=${latencyMs * 1000}`,
    rtmp: `${rtmpServer}/${rtmpKey}`,
    obs: {
      server: obsSrtServer,
      streamKey: srtKey,
      srt: { server: obsSrtServer, streamKey: srtKey },
      rtmp: { server: rtmpServer, streamKey: rtmpKey },
      keyframeIntervalSeconds: 2,
    },
    larix: { url: srtBase, streamid, passphrase: ch.passphrase, latencyMs, srtMode: 'caller' },
    // WHIP has no backup role: a second WHIP publisher replaces the first (newer publisher wins).
    ...(backup ? {} : { whip: { url: `${ep.httpBase}/whip/${ch.name}`, bearerToken: ch.streamKey } }),
  };
}

/** Pure: a channel's playback URLs; with a playback token (private channels), each carries it. */
export function playbackUrls(name: string, httpBase: string, token?: string): PlaybackUrls {
  const t = token === undefined ? '' : `token=${encodeURIComponent(token)}`;
  return {
    hls: `${httpBase}/live/${name}/master.m3u8${t && `?${t}`}`,
    dash: `${httpBase}/live/${name}/manifest.mpd${t && `?${t}`}`,
    player: `${httpBase}/player/?channel=${encodeURIComponent(name)}${t && `&${t}`}`,
  };
}
