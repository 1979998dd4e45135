/** Narrow typings for the independent parsers the packager's tests read our output with. */

export interface M3u8Part {
  duration: number;
  uri: string;
  independent?: boolean;
}

export interface M3u8Segment {
  duration: number;
  uri: string;
  timeline: number;
  discontinuity?: boolean;
  dateTimeString?: string;
  parts?: M3u8Part[];
  map?: { uri: string };
}

export interface M3u8Manifest {
  version?: number;
  targetDuration?: number;
  mediaSequence?: number;
  discontinuitySequence?: number;
  endList?: boolean;
  playlistType?: string;
  independentSegments?: boolean;
  segments: M3u8Segment[];
  partInf?: { partTarget: number };
  serverControl?: { canBlockReload?: boolean; canSkipUntil?: number; holdBack?: number; partHoldBack?: number };
  skip?: { skippedSegments: number };
  preloadSegment?: { parts?: M3u8Part[]; preloadHints?: Array<{ type: string; uri: string }> };
  renditionReports?: Array<{ uri: string; lastMsn: number; lastPart?: number }>;
  playlists?: Array<{ uri: string; attributes: Record<string, unknown> }>;
  mediaGroups?: { AUDIO?: Record<string, Record<string, { uri: string; default: boolean; language?: string }>> };
  /** EXT-X-DATERANGE tags (tags sharing an ID merged into one). */
  dateRanges?: Array<{ id: string; startDate: Date; endDate?: Date; duration?: number; plannedDuration?: number; scte35Out?: string; scte35In?: string; scte35Cmd?: string }>;
}

interface M3u8ParserModule {
  Parser: new () => {
    push(text: string): void;
    end(): void;
    on(event: 'warn', cb: (w: { message: string }) => void): void;
    manifest: M3u8Manifest;
  };
}

export interface ParsedM3u8 {
  manifest: M3u8Manifest;
  warnings: string[];
}

export function parseM3u8(text: string): ParsedM3u8 {
  const { Parser } = require('m3u8-parser') as M3u8ParserModule;
  const parser = new Parser();
  const warnings: string[] = [];
  parser.on('warn', (w) => warnings.push(w.message));
  parser.push(text);
  parser.end();
  return { manifest: parser.manifest, warnings };
}

export interface MpdSegment {
  duration: number;
  number: number;
  uri: string;
  resolvedUri: string;
  presentationTime: number;
  map?: { uri: string };
}

export interface MpdPlaylist {
  attributes: { NAME: string; BANDWIDTH: number; CODECS: string; RESOLUTION?: { width: number; height: number } };
  segments: MpdSegment[];
  targetDuration: number;
  endList: boolean;
}

export interface MpdManifest {
  playlists: MpdPlaylist[];
  mediaGroups: { AUDIO: Record<string, Record<string, { playlists: MpdPlaylist[] }>> };
  minimumUpdatePeriod?: number;
  suggestedPresentationDelay?: number;
  /** Events of the Periods' EventStreams; start/end in seconds from the Period start (presentationTimeOffset not applied). */
  eventStream?: Array<{ schemeIdUri: string; id: string | number; start: number; end: number; messageData?: string; presentationTimeOffset: number }>;
}

interface MpdParserModule {
  parse(manifest: string, options: { manifestUri: string }): MpdManifest;
  parseUTCTiming(manifest: string): { method: string; schemeIdUri: string; value: string };
}

export function parseMpd(text: string, manifestUri: string): MpdManifest {
  return (require('mpd-parser') as MpdParserModule).parse(text, { manifestUri });
}

export function parseMpdUtcTiming(text: string): { method: string; schemeIdUri: string; value: string } {
  return (require('mpd-parser') as MpdParserModule).parseUTCTiming(text);
}
