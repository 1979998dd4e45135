/**
 * The TypeBox schemas of the channel API and the Content Beam API: one source for the handlers' types
 * (`Static<typeof X>`), the checks of path parameters and query strings (engine/api/route-schemas.ts), and
 * the OpenAPI document (engine/api/openapi.ts).
 *
 * Path parameters and query values are strings as the client sent them: their grammar (channel and content
 * names, media_refs, stream names, paging integers) is checked by the pure validators in core/model, which
 * give the precise 400 messages. JSON bodies likewise: the body schemas here describe the documents the
 * validators accept (createChannel, applyPatch, validateFormat, validateElement, validateRenditionBody).
 */

import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { WEBHOOK_EVENTS } from '../../core/model/webhook';

/** Every error, whatever its status: the original engine's body. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer({ description: 'The HTTP status, repeated.', examples: [400] }),
    error: Type.String({ description: 'The status reason phrase.', examples: ['Bad Request'] }),
    message: Type.String({ description: 'What was wrong, naming the field or parameter.' }),
  },
  { $id: 'ErrorBody', description: 'Every error answer: {statusCode, error, message}.' },
);

// ---- path parameters ----

export const ChannelParams = Type.Object({
  name: Type.String({ description: 'Channel name: 1-64 lowercase letters, digits, _ or -, starting with a letter or digit.', examples: ['main'] }),
});
export type ChannelParams = Static<typeof ChannelParams>;

const content = Type.String({ description: "Content item name (the format's url); a trailing .json is ignored.", examples: ['newswatch_live'] });
const stream = Type.String({ description: 'Stream: stream_<index>, <index>, video, audio (the first of that type) or default.', examples: ['stream_0', 'video'] });

export const ContentParams = Type.Object({ content });
export type ContentParams = Static<typeof ContentParams>;

export const StreamParams = Type.Object({ content, stream });
export type StreamParams = Static<typeof StreamParams>;

const ref = Type.String({
  description:
    'media_ref: packet_<pts>, frame_<pts> or <pts> (one element), <pts>-<pts> or <pts>.<count> (a range), ' +
    'latest, first, last (redirects), optionally with .json, .raw or .raw_<plane>.',
  examples: ['packet_3000', 'frame_42', '0-90000', 'latest'],
});

export const MediaParams = Type.Object({ content, stream, ref });
export const MediaDataParams = Type.Object({
  content,
  stream,
  ref,
  data: Type.String({ description: 'data (the whole payload) or data_<plane>.', examples: ['data', 'data_0'] }),
});
/** The handlers serve both media paths: `data` is present on the longer one. */
export type MediaParams = Static<typeof MediaParams> & { data?: string };

// ---- query strings ----

const integerText = (description: string) => Type.String({ description: `${description} An integer.`, examples: ['10'] });

export const PagingQuery = Type.Object({
  offset: Type.Optional(integerText('First item to return; negative counts from the end.')),
  start: Type.Optional(integerText('Another name for offset (the original README).')),
  limit: Type.Optional(integerText('Most items to return (default BEAM_DEFAULT_LIMIT, or BEAM_MEDIA_DEFAULT_LIMIT for media; at most BEAM_MAX_LIMIT).')),
});
export type PagingQuery = Static<typeof PagingQuery>;

// ---- channel API ----

export const Rung = Type.Object(
  {
    name: Type.String({ examples: ['720p'] }),
    width: Type.Integer(),
    height: Type.Integer(),
    videoBitrate: Type.Integer({ description: 'bits per second' }),
    maxBitrate: Type.Optional(Type.Integer()),
    profile: Type.Optional(Type.String({ examples: ['high'] })),
    fps: Type.Optional(Type.Number()),
  },
  { description: 'One rung of the ABR ladder.' },
);

export const CaptionService = Type.Object(
  {
    channel: Type.String({ pattern: '^(CC[1-4]|SERVICE([1-9]|[1-5][0-9]|6[0-3]))$', description: 'CEA-608 data channel (CC1-CC4) or CEA-708 service (SERVICE1-SERVICE63): the HLS INSTREAM-ID.', examples: ['CC1', 'SERVICE1'] }),
    name: Type.String({ minLength: 1, maxLength: 64, description: 'Shown in players\' caption menus.', examples: ['English'] }),
    language: Type.Optional(Type.String({ maxLength: 35, description: 'BCP 47 language tag.', examples: ['en'] })),
  },
  { additionalProperties: false },
);

const channelSettings = {
  passphrase: Type.Optional(Type.Union([Type.String({ minLength: 10, maxLength: 79, pattern: '^[A-Za-z0-9._~-]+$' }), Type.Null()], { description: 'SRT passphrase, or null for none.' })),
  dvrWindowSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 604800 })),
  reconnectWindowSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
  lowLatency: Type.Optional(Type.Boolean()),
  ladder: Type.Optional(Type.Array(Rung, { description: 'ABR rungs; [] for the source only.' })),
  partTargetSeconds: Type.Optional(Type.Union([Type.Number({ minimum: 0.1, maximum: 1 }), Type.Null()], { description: "LL-HLS part target, seconds; null for the server's default (BEAM_PART_TARGET)." })),
  webhook: Type.Optional(Type.Union([
    Type.Object(
      {
        url: Type.String({ maxLength: 2048, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'http:// or https:// URL, without user:password@ or #fragment.', examples: ['https://hooks.example.com/beamline'] }),
        secret: Type.Optional(Type.String({ minLength: 16, maxLength: 256, pattern: '^[\\x21-\\x7e]+$', description: 'Shared secret every delivery is signed with (HMAC-SHA256). Write-only: never answered. Required when the channel has no webhook yet; omitted, the current one is kept.' })),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ], { description: "The channel's own webhook (admission and notifications about this channel, beside the server's BEAM_WEBHOOK_URL), or null for none." })),
  private: Type.Optional(Type.Boolean({ description: 'A private channel\'s playlists, segments, images and clips open only with a playback token (?token=, see POST /api/channels/{name}/playback-tokens). Default false.' })),
  captions: Type.Optional(Type.Union([Type.Array(CaptionService, { maxItems: 16 }), Type.Null()], { description: 'Closed-caption services (CEA-608 and CEA-708 in the H.264 SEI) the master playlist and the MPD declare; null (the default): CC1 is declared while the source video is seen to carry 608 captions, and SERVICE<n> for each 708 service seen; [] declares none.' })),
};

export const CreateChannelBody = Type.Object(
  { name: ChannelParams.properties.name, ...channelSettings },
  { additionalProperties: false, description: 'A new channel: its name and optional settings.' },
);
export const PatchChannelBody = Type.Object(channelSettings, {
  additionalProperties: false,
  description: 'The settings to change (name and streamKey cannot be changed).',
});

const channelStatus = Type.Object(
  {
    state: Type.Union([Type.Literal('idle'), Type.Literal('live'), Type.Literal('reconnecting')]),
    since: Type.String(),
    lastConnectedAt: Type.Union([Type.String(), Type.Null()]),
    lastDisconnectedAt: Type.Union([Type.String(), Type.Null()]),
    reconnects: Type.Integer(),
  },
  { additionalProperties: true, description: 'Anonymous readers see these fields; with the API token also the disconnect reason and its pipeline error code (lastDisconnectCode), ingest diagnostics and publisher address, and once a backup publisher connected `redundancy` (onAir, inputs.primary/backup with protocol, peer, health and onAir, the newest switches with their reasons, switchCount).' },
);

export const ChannelView = Type.Object(
  {
    name: Type.String(),
    state: Type.String(),
    status: channelStatus,
    playback: Type.Object({ hls: Type.String(), dash: Type.String(), player: Type.String() }, { additionalProperties: true }),
    streamKey: Type.Optional(Type.String({ description: 'With the API token only.' })),
    passphrase: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'With the API token only.' })),
    dvrWindowSeconds: Type.Optional(Type.Integer()),
    reconnectWindowSeconds: Type.Optional(Type.Integer()),
    lowLatency: Type.Optional(Type.Boolean()),
    ladder: Type.Optional(Type.Array(Rung)),
    webhook: Type.Optional(Type.Union([Type.Object({ url: Type.String() }), Type.Null()], { description: "The channel's own webhook URL (its secret is never answered). With the API token only." })),
    private: Type.Optional(Type.Boolean({ description: 'Whether playback needs a token.' })),
    captions: Type.Optional(Type.Union([Type.Array(CaptionService), Type.Null()], { description: 'Declared closed-caption services; null: automatic.' })),
    playbackSecret: Type.Optional(Type.String({ description: 'The key playback tokens are signed with (HMAC-SHA256), for a backend that mints its own. With the API token only.' })),
    ingest: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Paste-ready encoder settings (SRT, RTMP, OBS, Larix, WHIP); `backup` holds the same for a backup encoder (role=backup, redundant publishers; no WHIP). With the API token only.' })),
    createdAt: Type.Optional(Type.String()),
    updatedAt: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'A channel. Anonymous reads get the public view (name, state, status, playback); the API token adds settings, stream key and ingest settings.' },
);

export const PlaybackTokenBody = Type.Object(
  {
    expiresIn: Type.Optional(Type.Integer({ minimum: 10, maximum: 2592000, description: 'Seconds the token is valid (default 3600, at most 30 days).' })),
    ip: Type.Optional(Type.Union([Type.String({ maxLength: 45 }), Type.Null()], { description: 'The only viewer address (IPv4 or IPv6, as this server sees it) the token opens for; absent or null: any.' })),
  },
  { additionalProperties: false, description: 'What a playback token allows.' },
);

export const PlaybackToken = Type.Object(
  {
    token: Type.String({ description: '<expires>.<ip or empty>.<base64url HMAC-SHA256>: pass it as ?token=' }),
    expiresAt: Type.String({ description: 'ISO-8601 end of validity.' }),
    hls: Type.String({ description: 'The signed multivariant playlist URL.' }),
    dash: Type.String({ description: 'The signed MPD URL.' }),
    player: Type.String({ description: 'The bundled player with the token.' }),
  },
  { description: 'A playback token of a private channel.' },
);

// ---- Content Beam API ----

export const StreamBody = Type.Object(
  {
    index: Type.Optional(Type.Integer({ minimum: 0 })),
    time_base: Type.Array(Type.Integer(), { minItems: 2, maxItems: 2, description: '[numerator, denominator]' }),
    codecpar: Type.Object({ codec_type: Type.String({ examples: ['video', 'audio'] }), name: Type.Optional(Type.String()) }, { additionalProperties: true }),
  },
  { additionalProperties: true, description: 'A stream of a format (beamcoder Stream fields).' },
);

export const FormatBody = Type.Object(
  {
    url: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The content name; none or empty gets a UUID (POST only; a PUT must match the path).' })),
    type: Type.Optional(Type.Union([Type.Literal('format'), Type.Literal('demuxer'), Type.Literal('muxer')])),
    streams: Type.Optional(Type.Array(StreamBody, { maxItems: 1024 })),
    duration: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    bit_rate: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
    ttl: Type.Optional(Type.Integer({ minimum: 0, description: 'Time-to-live of media elements, seconds (0 = configured default).' })),
  },
  { additionalProperties: true, description: 'A format: the "logical cable" of a content item (beamcoder Format fields).' },
);

export const ElementBody = Type.Object(
  {
    type: Type.String({ description: 'Packet or Frame; must match the path (a bare <pts> stores what it says).', examples: ['Packet'] }),
    pts: Type.Optional(Type.Integer({ description: "Must equal the path's pts when given." })),
    dts: Type.Optional(Type.Integer()),
    size: Type.Optional(Type.Integer()),
    duration: Type.Optional(Type.Integer()),
    pos: Type.Optional(Type.Integer()),
    stream_index: Type.Optional(Type.Integer({ description: "Must equal the path's stream when given." })),
    flags: Type.Optional(Type.Object({}, { additionalProperties: true })),
    buf_sizes: Type.Optional(Type.Array(Type.Integer())),
  },
  { additionalProperties: true, description: 'Media element metadata (beamcoder Packet or Frame fields).' },
);

export const PayloadBody = Type.String({ format: 'binary', description: 'The payload bytes (Content-Length required). Beam-Buf-Size keeps only that many bytes; Beam-Buf-Sizes (a JSON array) splits a frame into planes.' });

export const PayloadWritten = Type.Object({
  type: Type.Literal('payload'),
  element: Type.String({ examples: ['packet_3000'] }),
  stream_index: Type.Integer(),
  size: Type.Integer(),
});

export const StreamMapping = Type.Object({
  target: Type.Integer({ minimum: 0 }),
  source: Type.Union([Type.Integer({ minimum: 0 }), Type.Array(Type.Integer({ minimum: 0 }))]),
});

export const RenditionBody = Type.Object(
  { source: Type.String({ description: 'The content item this one is a rendition of.' }), streamMap: Type.Optional(Type.Array(StreamMapping)) },
  { additionalProperties: false, description: 'Assert "this item is a rendition of source".' },
);

export const Rendition = Type.Object({ source: Type.String(), target: Type.String(), streamMap: Type.Array(StreamMapping) });

export const Relations = Type.Object({
  renditionOf: Type.Union([Type.Object({ source: Type.String(), streamMap: Type.Array(StreamMapping) }), Type.Null()]),
  renditions: Type.Array(Type.Object({ target: Type.String(), streamMap: Type.Array(StreamMapping) })),
});

/** A JSON answer of any shape (documents `object` without constraining it). */
export const AnyObject = Type.Object({}, { additionalProperties: true });

/** Shorthand: a response map with the error body on every 4xx/5xx a route may give. */
export function responses(ok: Record<number, TSchema | null>, errors: number[]): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const [code, schema] of Object.entries(ok)) out[code] = schema ?? Type.Null({ description: 'No body.' });
  for (const code of errors) out[String(code)] = Type.Ref(ErrorBody);
  return out;
}

// ---- webhooks ----

export const DeliveriesQuery = Type.Object({
  limit: Type.Optional(Type.String({ description: 'Most deliveries to return, newest first (1 to the log size, BEAM_WEBHOOK_LOG_SIZE). An integer.', examples: ['50'] })),
});
export type DeliveriesQuery = Static<typeof DeliveriesQuery>;

const webhookEvent = Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e)));

export const Delivery = Type.Object({
  id: Type.String({ description: 'The delivery id (the body\'s `id` and the x-beamline-delivery header).' }),
  event: webhookEvent,
  channel: Type.String(),
  target: Type.Union([Type.Literal('server'), Type.Literal('channel')], { description: "server: BEAM_WEBHOOK_URL; channel: the channel's own webhook." }),
  host: Type.String({ description: "The URL's host and port (never its path or query)." }),
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('dropped')]),
  status: Type.Union([Type.Integer(), Type.Null()], { description: 'The last HTTP status, null without an answer.' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last attempt got no answer (a timeout, connection refused…).' }),
  attempts: Type.Integer(),
  durationMs: Type.Integer({ description: 'Time in HTTP exchanges, all attempts together.' }),
  at: Type.String({ description: 'When the event happened.' }),
  finishedAt: Type.String(),
  decision: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')], { description: 'Admissions: what this webhook decided (the default when it gave no answer).' })),
});

export const DeliveriesView = Type.Object({
  deliveries: Type.Array(Delivery),
  capacity: Type.Integer({ description: 'How many deliveries this process keeps (BEAM_WEBHOOK_LOG_SIZE).' }),
  queue: Type.Object({
    queued: Type.Integer({ description: 'Notifications waiting (first attempts and retries).' }),
    inFlight: Type.Integer(),
    dropped: Type.Integer({ description: 'Notifications dropped since start (a full queue, the oldest first).' }),
  }),
  scope: Type.String({ description: 'Whose deliveries these are: this process\'s (the log is kept in memory per process).' }),
});

// ---- ad markers (SCTE-35) ----

export const MarkerParams = Type.Object({
  name: ChannelParams.properties.name,
  id: Type.String({ maxLength: 32, description: 'The marker id (splice-<8 hex digits>).', examples: ['splice-6FFFFFF0'] }),
});
export type MarkerParams = Static<typeof MarkerParams>;

export const MarkerBody = Type.Object(
  {
    type: Type.Union([Type.Literal('ad-break'), Type.Literal('ad-end')], { description: 'ad-break: leave the network (SCTE35-OUT); ad-end: return to it (SCTE35-IN).' }),
    duration: Type.Optional(Type.Union([Type.Number({ minimum: 1, maximum: 3600 }), Type.Null()], { description: 'Planned break length, seconds (ad-break only).' })),
    start: Type.Optional(Type.Union([Type.Literal('now'), Type.String({ format: 'date-time' }), Type.Integer(), Type.Null()], {
      description: 'When: "now" (default), an ISO 8601 time with its zone, or epoch milliseconds; from 10 s ago to 1 h ahead.',
    })),
  },
  { additionalProperties: false, description: 'An ad marker to insert.' },
);

export const MarkerView = Type.Object({
  id: Type.String({ description: 'The EXT-X-DATERANGE ID.', examples: ['splice-6FFFFFF0'] }),
  type: Type.Union([Type.Literal('ad-break'), Type.Literal('ad-end')]),
  eventId: Type.Integer({ description: 'splice_event_id (also the DASH Event id).' }),
  startMs: Type.Integer(),
  start: Type.String({ description: 'START-DATE (ISO 8601).' }),
  durationSeconds: Type.Union([Type.Number(), Type.Null()]),
  scte35: Type.String({ description: 'The splice_info_section, hex: a splice_insert made by the API, or the section the publisher sent.' }),
  scte35In: Type.Optional(Type.String({ description: 'A break with a duration: the splice_insert returning to the network at its end, hex.' })),
  splicedMs: Type.Optional(Type.Integer({ description: "Where the publishing ingest cut for the splice (the PROGRAM-DATE-TIME of the segment it starts, ms); the tags' START-DATE." })),
  splicedInMs: Type.Optional(Type.Integer({ description: "The same for a break's end." })),
  splicedPts: Type.Optional(Type.Integer({ description: 'The pts (channel timeline, 90 kHz) of the keyframe starting that segment: where the splice is in the data stream of the Content Beam API.' })),
  splicedInPts: Type.Optional(Type.Integer({ description: "The same for a break's end." })),
  createdAt: Type.String(),
  source: Type.Union([Type.Literal('api'), Type.Literal('publisher')], { description: "'publisher': sent as SCTE-35 in the publisher's MPEG-TS." }),
});
