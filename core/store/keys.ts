/**
 * The one key schema. Every key of a content item carries the content's Redis Cluster hash tag,
 * `<prefix>:{<content>}:…`, so all of a content item's keys live in one slot and multi-key Lua
 * scripts work on a cluster. Only the global content list lives outside any content's slot.
 *
 * Separation of kinds: the `<prefix>:{…}:` space belongs to content items and nothing else. Every other
 * kind starts with a fixed word after the prefix (`contents`, `chan:`, `reg:`, `jobs:`, `jobres:`), which
 * no content key does, and a content name's `{`, `}` and `%` are percent-encoded inside the hash tag, so the
 * tag always ends where the name ends (validated names never hold them: this is defence in depth). So no
 * content name, `channels` included, can reach a key of another kind or of another content item
 * (test/unit/engine/keys.test.ts tries them).
 *
 *   <p>:contents                       sorted set: content names, score = creation time (ms)
 *   <p>:{c}:format                     string: format JSON (streams included)
 *   <p>:{c}:s<i>:index                 sorted set: element members (`packet_<pts>`), score = pts
 *   <p>:{c}:s<i>:expiry                sorted set: the same members, score = expiry time (ms)
 *   <p>:{c}:s<i>:<member>              hash: {json: metadata JSON, sizes: plane sizes JSON}
 *   <p>:{c}:s<i>:<member>:data         string: payload (frame planes concatenated)
 *   <p>:{c}:s<i>:cold                  sorted set: the cold index, one entry per archived segment object whose
 *                                      elements left the index (cold-index.ts), score = its lowest pts
 *   <p>:{c}:s<i>:coldrank              sorted set: the same entries, score = elements archived before it (cum),
 *                                      for rank lookups
 *   <p>:{c}:rendition_of               string: JSON {source, streamMap} when c is a rendition
 *   <p>:{c}:renditions                 hash: target name → streamMap JSON
 *   <p>:{c}:events                     stream: typed events (segment:opened, part:ready, …)
 *   <p>:{c}:segments                   sorted set: segment records (JSON), score = segment index
 *   <p>:{c}:segtime                    sorted set: segment indexes, score = wall-clock start (ms), for catch-up
 *   <p>:{c}:parts                      sorted set: LL-HLS part records (JSON), score = segment × 1000 + part
 *   <p>:{c}:timeline                   string: the timestamp normaliser's state, saved with every announced
 *                                      boundary (atomically with it), so any process continuing the channel
 *                                      continues after what was announced
 *   <p>:{c}:sealed                     hash: `index` (highest closed segment), `lastEnd` (its end),
 *                                      `endDts` (the end of the closed segment before it): packet writes below
 *                                      endDts and segment or part records at or below index are refused
 *                                      (published media is immutable; see writeBoundaries-7.lua)
 *   <p>:{c}:lease                      string: `<holder>` of the channel's ingest lease (SET NX PX, renewed by
 *                                      its holder; one publisher per channel across all processes)
 *   <p>:{c}:lease:want                 string: a newcomer's request to take the lease over (read by the holder
 *                                      at its next renewal, which then ends its session and releases)
 *   <p>:{c}:gaps:<rung>                sorted set: segment indexes rung <rung> of channel c will never have
 *                                      (member and score = index; the packager emits EXT-X-GAP for them)
 *   <p>:{c}:made:<rung>                sorted set: segment indexes rung <rung> of channel c finished (score = index)
 *   <p>:{c}:rparts:<rung>              sorted set: parts rung <rung> of channel c published (score = segment × 1000
 *                                      + part; only the newest segments are kept)
 *   <p>:{c}:archived                   hash: archive progress of channel c: field <content> → the last segment index
 *                                      archived for that content (the channel's or a rendition's),
 *                                      <content>#deleted → the last segment index whose objects left the DVR window
 *   <p>:{c}:archive:lock               string: the archiver holding channel c (SET NX PX, one process at a time)
 *   <p>:{c}:archgaps                   sorted set: archive gaps of channel c and its renditions: member
 *                                      `<segment>|<content>`, score = segment (payloads gone before they could be
 *                                      archived; the packager lists such segments as EXT-X-GAP)
 *   <p>:{c}:markers                    sorted set: ad markers (SCTE-35) of channel c, member = marker JSON, score =
 *                                      wall-clock start (ms); bounded in count, kept for the DVR window
 *   <p>:chan:{c}                       string: channel settings JSON (outside <p>:{c}:* so deleting the
 *                                      content item of a channel does not delete the channel)
 *   <p>:chan:{c}:status                hash: channel state, timestamps, ingest diagnostics
 *   <p>:reg:{channels}:names           set: channel names
 *   <p>:reg:{channels}:keys            hash: stream key → channel name
 *                                      (one hash tag, so the two are changed together on a cluster;
 *                                      before 0.x they were <p>:{channels}:names|keys, inside the content
 *                                      space: migrate-keys.ts moves them once at start)
 *   <p>:reg:channels:changed           pub/sub channel: a channel's settings changed (message = name)
 *   <p>:reg:{auth}:token               string: the generated API token shared by every process of a
 *                                      deployment on one Redis (set NX by the first; see api-token.ts)
 *   <p>:{c}:jit:<hash>                 string: a JIT result (frame image, clip) with the ephemeral TTL
 *   <p>:jobs:{q}                       BullMQ prefix of the rules job queues (one slot on a cluster); the
 *                                      built-in JIT functions run on queue JIT_QUEUE (`media_workers`)
 *   {<p>-bull}                         BullMQ prefix of the ABR transcode queue (one slot on a cluster)
 *   <p>:jobres:{<id>}                  string: a binary job result (a response body) with the ephemeral TTL
 *
 * Delete (store.deleteContent) walks what the item's own keys name (format streams, index/expiry members,
 * rendition relations, the channel ladder's rungs) rather than scanning the keyspace.
 */

export interface Keys {
  readonly prefix: string;
  contents: string;
  format(content: string): string;
  index(content: string, stream: number): string;
  expiry(content: string, stream: number): string;
  element(content: string, stream: number, member: string): string;
  data(content: string, stream: number, member: string): string;
  /** The cold index of a stream: archived segments whose elements left the index (see cold-index.ts). */
  cold(content: string, stream: number): string;
  /** The same entries scored by the count of elements archived before each. */
  coldRank(content: string, stream: number): string;
  renditionOf(content: string): string;
  renditions(content: string): string;
  events(content: string): string;
  segments(content: string): string;
  segtime(content: string): string;
  parts(content: string): string;
  timeline(content: string): string;
  sealed(content: string): string;
  lease(content: string): string;
  leaseWant(content: string): string;
  gaps(content: string, rung: string): string;
  made(content: string, rung: string): string;
  rungParts(content: string, rung: string): string;
  archived(content: string): string;
  archiveLock(content: string): string;
  archiveGaps(content: string): string;
  /** Ad markers of channel c (SCTE-35): sorted set, member = marker JSON, score = wall-clock start (ms). */
  markers(content: string): string;
  channel(name: string): string;
  status(name: string): string;
  channels: string;
  channelKeys: string;
  channelsChanged: string;
  /** The generated API token of the deployment. */
  apiToken: string;
  /** Registry keys of releases before the `reg:` space (for the one-time migration only). */
  legacyChannels: string;
  legacyChannelKeys: string;
  jit(content: string, id: string): string;
  /** BullMQ `prefix` option for the rules job queues. */
  jobQueuePrefix: string;
  /** BullMQ `prefix` option for the ABR transcode queue (ingest enqueues, transcoder workers take). */
  transcodeQueuePrefix: string;
  jobResult(id: string): string;
}

/** The rules job queue the built-in JIT functions (frame images, clips: transcoders/jit) run on. */
export const JIT_QUEUE = 'media_workers';

export function elementMember(element: 'packet' | 'frame', pts: number): string {
  return `${element}_${pts}`;
}

/** A content name inside its hash tag: `{`, `}` and `%` percent-encoded (identity for every valid name). */
export function hashTag(name: string): string {
  return /[{}%]/.test(name) ? name.replace(/[{}%]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`) : name;
}

export function createKeys(prefix: string): Keys {
  const base = (c: string) => `${prefix}:{${hashTag(c)}}`;
  return {
    prefix,
    contents: `${prefix}:contents`,
    format: (c) => `${base(c)}:format`,
    index: (c, s) => `${base(c)}:s${s}:index`,
    expiry: (c, s) => `${base(c)}:s${s}:expiry`,
    element: (c, s, m) => `${base(c)}:s${s}:${m}`,
    data: (c, s, m) => `${base(c)}:s${s}:${m}:data`,
    cold: (c, s) => `${base(c)}:s${s}:cold`,
    coldRank: (c, s) => `${base(c)}:s${s}:coldrank`,
    renditionOf: (c) => `${base(c)}:rendition_of`,
    renditions: (c) => `${base(c)}:renditions`,
    events: (c) => `${base(c)}:events`,
    segments: (c) => `${base(c)}:segments`,
    segtime: (c) => `${base(c)}:segtime`,
    parts: (c) => `${base(c)}:parts`,
    timeline: (c) => `${base(c)}:timeline`,
    sealed: (c) => `${base(c)}:sealed`,
    lease: (c) => `${base(c)}:lease`,
    leaseWant: (c) => `${base(c)}:lease:want`,
    gaps: (c, r) => `${base(c)}:gaps:${r}`,
    made: (c, r) => `${base(c)}:made:${r}`,
    rungParts: (c, r) => `${base(c)}:rparts:${r}`,
    archived: (c) => `${base(c)}:archived`,
    archiveLock: (c) => `${base(c)}:archive:lock`,
    archiveGaps: (c) => `${base(c)}:archgaps`,
    markers: (c) => `${base(c)}:markers`,
    channel: (c) => `${prefix}:chan:{${hashTag(c)}}`,
    status: (c) => `${prefix}:chan:{${hashTag(c)}}:status`,
    channels: `${prefix}:reg:{channels}:names`,
    channelKeys: `${prefix}:reg:{channels}:keys`,
    channelsChanged: `${prefix}:reg:channels:changed`,
    apiToken: `${prefix}:reg:{auth}:token`,
    legacyChannels: `${prefix}:{channels}:names`,
    legacyChannelKeys: `${prefix}:{channels}:keys`,
    jit: (c, id) => `${base(c)}:jit:${id}`,
    jobQueuePrefix: `${prefix}:jobs:{q}`,
    transcodeQueuePrefix: `{${prefix}-bull}`,
    jobResult: (id) => `${prefix}:jobres:{${hashTag(id)}}`,
  };
}
