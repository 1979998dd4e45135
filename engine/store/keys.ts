/**
 * The one key schema. Every key of a content item carries the content's Redis Cluster hash tag,
 * `<prefix>:{<content>}:…`, so all of a content item's keys live in one slot and multi-key Lua
 * scripts work on a cluster. Only the global content list lives outside any content's slot.
 *
 *   <p>:contents                       sorted set: content names, score = creation time (ms)
 *   <p>:{c}:format                     string: format JSON (streams included)
 *   <p>:{c}:s<i>:index                 sorted set: element members (`packet_<pts>`), score = pts
 *   <p>:{c}:s<i>:expiry                sorted set: the same members, score = expiry time (ms)
 *   <p>:{c}:s<i>:<member>              hash: {json: metadata JSON, sizes: plane sizes JSON}
 *   <p>:{c}:s<i>:<member>:data         string: payload (frame planes concatenated)
 *   <p>:{c}:rendition_of               string: JSON {source, streamMap} when c is a rendition
 *   <p>:{c}:renditions                 hash: target name → streamMap JSON
 *   <p>:{c}:events                     stream: typed events (segment:opened, part:ready, …)
 *   <p>:{c}:segments                   sorted set: segment records (JSON), score = segment index
 *   <p>:{c}:segtime                    sorted set: segment indexes, score = wall-clock start (ms), for catch-up
 *   <p>:{c}:parts                      sorted set: LL-HLS part records (JSON), score = segment × 1000 + part
 *   <p>:{c}:timeline                   string: the timestamp normaliser's state between publisher sessions
 *   <p>:{c}:gaps:<rung>                sorted set: segment indexes rung <rung> of channel c will never have
 *                                      (member and score = index; the packager emits EXT-X-GAP for them)
 *   <p>:{c}:made:<rung>                sorted set: segment indexes rung <rung> of channel c finished (score = index)
 *   <p>:chan:{c}                       string: channel settings JSON (outside <p>:{c}:* so deleting the
 *                                      content item of a channel does not delete the channel)
 *   <p>:chan:{c}:status                hash: channel state, timestamps, ingest diagnostics
 *   <p>:{channels}:names               set: channel names
 *   <p>:{channels}:keys                hash: stream key → channel name
 *                                      (one hash tag, so the two are changed together on a cluster)
 *   <p>:channels:changed               pub/sub channel: a channel's settings changed (message = name)
 *   <p>:{c}:jit:<hash>                 string: a JIT result (frame image, clip) with the ephemeral TTL
 *   <p>:jobs:{q}                       BullMQ prefix of the rules job queues (one slot on a cluster)
 *   <p>:jobres:{<id>}                  string: a binary job result (a response body) with the ephemeral TTL
 *   <p>:{c}:*                          everything a content item owns (used by delete)
 */

export interface Keys {
  readonly prefix: string;
  contents: string;
  format(content: string): string;
  index(content: string, stream: number): string;
  expiry(content: string, stream: number): string;
  element(content: string, stream: number, member: string): string;
  data(content: string, stream: number, member: string): string;
  renditionOf(content: string): string;
  renditions(content: string): string;
  events(content: string): string;
  segments(content: string): string;
  segtime(content: string): string;
  parts(content: string): string;
  timeline(content: string): string;
  gaps(content: string, rung: string): string;
  made(content: string, rung: string): string;
  channel(name: string): string;
  status(name: string): string;
  channels: string;
  channelKeys: string;
  channelsChanged: string;
  jit(content: string, id: string): string;
  /** BullMQ `prefix` option for the rules job queues. */
  jobQueuePrefix: string;
  jobResult(id: string): string;
  /** A SCAN MATCH pattern for every key the content owns (glob characters escaped). */
  ownedPattern(content: string): string;
}

export function elementMember(element: 'packet' | 'frame', pts: number): string {
  return `${element}_${pts}`;
}

const GLOB_SPECIAL = /[*?[\]\\]/g;

export function createKeys(prefix: string): Keys {
  const base = (c: string) => `${prefix}:{${c}}`;
  return {
    prefix,
    contents: `${prefix}:contents`,
    format: (c) => `${base(c)}:format`,
    index: (c, s) => `${base(c)}:s${s}:index`,
    expiry: (c, s) => `${base(c)}:s${s}:expiry`,
    element: (c, s, m) => `${base(c)}:s${s}:${m}`,
    data: (c, s, m) => `${base(c)}:s${s}:${m}:data`,
    renditionOf: (c) => `${base(c)}:rendition_of`,
    renditions: (c) => `${base(c)}:renditions`,
    events: (c) => `${base(c)}:events`,
    segments: (c) => `${base(c)}:segments`,
    segtime: (c) => `${base(c)}:segtime`,
    parts: (c) => `${base(c)}:parts`,
    timeline: (c) => `${base(c)}:timeline`,
    gaps: (c, r) => `${base(c)}:gaps:${r}`,
    made: (c, r) => `${base(c)}:made:${r}`,
    channel: (c) => `${prefix}:chan:{${c}}`,
    status: (c) => `${prefix}:chan:{${c}}:status`,
    channels: `${prefix}:{channels}:names`,
    channelKeys: `${prefix}:{channels}:keys`,
    channelsChanged: `${prefix}:channels:changed`,
    jit: (c, id) => `${base(c)}:jit:${id}`,
    jobQueuePrefix: `${prefix}:jobs:{q}`,
    jobResult: (id) => `${prefix}:jobres:{${id}}`,
    ownedPattern: (c) => `${prefix.replace(GLOB_SPECIAL, '\\$&')}:{${c.replace(GLOB_SPECIAL, '\\$&')}}:*`,
  };
}
