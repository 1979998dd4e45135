/** HLS playlists as typed values (RFC 8216bis); the renderers serialise them. */

export interface HlsResolution {
  width: number;
  height: number;
}

/** One EXT-X-STREAM-INF entry. `codecs` lists the video codecs; the audio group's are appended. */
export interface HlsVariant {
  uri: string;
  /** Peak bits per second, audio included. */
  bandwidth: number;
  averageBandwidth?: number;
  codecs: string[];
  resolution?: HlsResolution;
  frameRate?: number;
  /** GROUP-ID of the EXT-X-MEDIA audio renditions this variant plays with. */
  audioGroup?: string;
  /** GROUP-ID of the closed-caption renditions carried in this variant's video (CLOSED-CAPTIONS). */
  closedCaptionsGroup?: string;
}

/** One EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS rendition: CEA-608 in the video, no URI. */
export interface HlsClosedCaptionRendition {
  groupId: string;
  name: string;
  /** CC1-CC4. */
  instreamId: string;
  language?: string;
  default?: boolean;
  autoselect?: boolean;
}

/** One EXT-X-MEDIA:TYPE=AUDIO rendition. */
export interface HlsAudioRendition {
  groupId: string;
  name: string;
  uri: string;
  language?: string;
  default?: boolean;
  autoselect?: boolean;
  /** Channel count, written as CHANNELS="2". */
  channels?: number;
  /** RFC 6381 codec of the rendition (merged into the variants' CODECS). */
  codecs?: string;
}

export interface HlsMultivariantPlaylist {
  version?: number;
  /** Writes EXT-X-INDEPENDENT-SEGMENTS (default true: every segment starts with a keyframe). */
  independentSegments?: boolean;
  variants: HlsVariant[];
  audio?: HlsAudioRendition[];
  closedCaptions?: HlsClosedCaptionRendition[];
}

/** An LL-HLS partial segment (EXT-X-PART). */
export interface HlsPart {
  uri: string;
  /** Seconds. */
  duration: number;
  /** Starts with an independent frame (a keyframe). */
  independent?: boolean;
}

/** One EXT-X-DATERANGE (RFC 8216bis §4.4.5.1), e.g. an SCTE-35 splice as SCTE35-OUT / SCTE35-IN. */
export interface HlsDateRange {
  id: string;
  /** A Date or epoch milliseconds. */
  startDate: Date | number;
  class?: string;
  /** Seconds. */
  duration?: number;
  /** Seconds. */
  plannedDuration?: number;
  /** Hex digits of the splice_info_section (written 0x…). */
  scte35Out?: string;
  scte35In?: string;
  scte35Cmd?: string;
}

export interface HlsSegment {
  uri: string;
  /** Seconds. */
  duration: number;
  /** Wall-clock time of the first sample: a Date or epoch milliseconds. */
  programDateTime?: Date | number;
  /** Writes EXT-X-DISCONTINUITY before this segment. */
  discontinuity?: boolean;
  /** Init segment for this and later segments, when it differs from the playlist's `map`. */
  map?: string;
  /** The segment's parts (listed only while the segment is near the live edge). */
  parts?: HlsPart[];
  /** Writes EXT-X-GAP: the segment is missing, players skip its time instead of stalling. */
  gap?: boolean;
  /** EXT-X-DATERANGE tags of dates within this segment, written after its PROGRAM-DATE-TIME. */
  dateRanges?: HlsDateRange[];
}

export interface HlsRenditionReport {
  uri: string;
  lastMsn: number;
  lastPart?: number;
}

export interface HlsLowLatency {
  /** PART-TARGET in seconds. */
  partTarget: number;
  /** Completed parts of the segment in progress (after the last complete segment). */
  pendingParts: HlsPart[];
  /** The segment in progress starts a discontinuity: EXT-X-DISCONTINUITY precedes its parts (as it will its EXTINF). */
  pendingDiscontinuity?: boolean;
  /** URI of the next part, announced with EXT-X-PRELOAD-HINT:TYPE=PART. */
  preloadHint?: string;
  /** Defaults to 3 × PART-TARGET (raised to it when lower). */
  partHoldBack?: number;
}

/** `live`: sliding window; `event`: grows, may end; `vod`: complete. */
export type HlsPlaylistKind = 'live' | 'event' | 'vod';

export interface HlsMediaPlaylist {
  kind: HlsPlaylistKind;
  /** EXT-X-VERSION (default 6; delta updates write 9). */
  version?: number;
  /** Configured target duration in seconds; raised to what the segments need. */
  targetDuration?: number;
  mediaSequence: number;
  discontinuitySequence?: number;
  /** URI of the init segment (EXT-X-MAP). */
  map?: string;
  segments: HlsSegment[];
  /** The stream has ended (always true for `vod`). */
  ended?: boolean;
  independentSegments?: boolean;
  /** Blocking reload and delta updates are offered when set, or when `lowLatency` is set. */
  serverControl?: {
    canBlockReload?: boolean;
    /** Defaults to 6 × TARGETDURATION; raised to it when lower. */
    canSkipUntil?: number;
    /** Defaults to 3 × TARGETDURATION; raised to it when lower. */
    holdBack?: number;
  };
  lowLatency?: HlsLowLatency;
  renditionReports?: HlsRenditionReport[];
}

export interface MediaPlaylistRenderOptions {
  /** The client asked for a delta update (`_HLS_skip=YES` or `v2`). */
  skip?: boolean;
}
