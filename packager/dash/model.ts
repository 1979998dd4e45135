/** A DASH presentation as a typed value; `renderMpd` serialises it. */

/** One segment on a SegmentTimeline, in the adaptation set's timescale. */
export interface DashSegmentTime {
  t: number;
  d: number;
}

export interface DashRepresentation {
  id: string;
  bandwidth: number;
  codecs: string;
  width?: number;
  height?: number;
  /** Frames per second (25, 29.97…) or a DASH frame-rate string ("30000/1001"). */
  frameRate?: number | string;
  audioSamplingRate?: number;
  channels?: number;
}

export interface DashAdaptationSet {
  id: number;
  contentType: 'video' | 'audio';
  /** Defaults to video/mp4 or audio/mp4. */
  mimeType?: string;
  lang?: string;
  timescale: number;
  /** `number`: media template uses $Number$; `time`: it uses $Time$. */
  addressing: 'number' | 'time';
  /** Template for the init segment, e.g. `$RepresentationID$/init.mp4`. */
  initialization: string;
  /** Template for media segments, e.g. `$RepresentationID$/$Number$.m4s`. */
  media: string;
  /** Number of the first segment listed (for $Number$ addressing). */
  startNumber: number;
  presentationTimeOffset?: number;
  segments: DashSegmentTime[];
  representations: DashRepresentation[];
  /** Accessibility descriptors, e.g. CEA-608 captions in the video (urn:scte:dash:cc:cea-608:2015, `CC1=eng`). */
  accessibility?: DashDescriptor[];
}

/** A DASH descriptor (schemeIdUri and value). */
export interface DashDescriptor {
  schemeIdUri: string;
  value?: string;
}

/** One Event of a Period's SCTE-35 EventStream (urn:scte:scte35:2014:xml+bin). */
export interface DashEvent {
  id: number;
  /** In the EventStream's timescale, before its presentationTimeOffset. */
  presentationTime: number;
  duration?: number;
  /** The splice_info_section, base64 (scte35:Binary). */
  binaryBase64: string;
}

/** A Period-level EventStream of SCTE-35 splices. */
export interface DashEventStream {
  timescale: number;
  presentationTimeOffset?: number;
  events: DashEvent[];
}

export interface DashManifest {
  type: 'static' | 'dynamic';
  /** Wall-clock time of media time 0 (dynamic). A Date or epoch milliseconds. */
  availabilityStartTime?: Date | number;
  publishTime: Date | number;
  /** Seconds. */
  minimumUpdatePeriod?: number;
  timeShiftBufferDepth?: number;
  suggestedPresentationDelay?: number;
  minBufferTime: number;
  /** Static only; defaults to the longest timeline. */
  mediaPresentationDuration?: number;
  periodId?: string;
  /** Period start in seconds (default 0). */
  periodStart?: number;
  /** URL answering the current time for `urn:mpeg:dash:utc:http-iso:2014`. */
  utcTimingUrl?: string;
  adaptationSets: DashAdaptationSet[];
  /** SCTE-35 splices of the Period (written only when it has events). */
  eventStream?: DashEventStream;
}
