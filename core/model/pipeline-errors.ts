/**
 * Pure: one vocabulary for what goes wrong in the media pipeline (ingest, transcoders, frame images and
 * clips), the counterpart of the HTTP layer's `BEAM_ERRORS`. Every failure or refusal a role reports
 * carries a `component`, a stable `code` and whether it is `fatal` (it ended the publish or the job) or not
 * (the work went on: a dropped segment, a refused caller). Logs write `{component, code, fatal}`, the
 * metric `beam_pipeline_errors_total{component, code}` counts them, and a channel's status keeps the
 * code of its last disconnect beside the human reason.
 */

export type PipelineComponent = 'srt' | 'rtmp' | 'whip' | 'ingest' | 'store' | 'transcoder' | 'jit';

interface Entry {
  readonly component: PipelineComponent;
  readonly fatal: boolean;
  /** The human text used when the reporter has no more precise one. */
  readonly text: string;
}

export const PIPELINE_ERRORS = {
  // Refusals before any media is accepted (not fatal for the server; the caller is turned away).
  SRT_REFUSED: { component: 'srt', fatal: false, text: 'SRT caller refused' },
  RTMP_REFUSED: { component: 'rtmp', fatal: false, text: 'RTMP publisher refused' },
  RTMP_PROTOCOL: { component: 'rtmp', fatal: true, text: 'RTMP protocol error' },
  WHIP_REFUSED: { component: 'whip', fatal: false, text: 'WHIP publisher refused' },
  INGEST_UNKNOWN_CHANNEL: { component: 'ingest', fatal: true, text: 'unknown channel' },
  INGEST_REFUSED_BY_WEBHOOK: { component: 'ingest', fatal: false, text: 'refused by the admission webhook' },
  // How a publish ended.
  INGEST_ENDED: { component: 'ingest', fatal: false, text: 'publisher ended the stream' },
  INGEST_IDLE: { component: 'ingest', fatal: true, text: 'no data from the publisher (idle)' },
  INGEST_REPLACED: { component: 'ingest', fatal: true, text: 'replaced by a new connection with the same key' },
  INGEST_KEY_ROTATED: { component: 'ingest', fatal: true, text: 'the stream key was rotated' },
  INGEST_CHANNEL_DELETED: { component: 'ingest', fatal: true, text: 'the channel was deleted' },
  INGEST_SHUTDOWN: { component: 'ingest', fatal: true, text: 'server shutting down' },
  INGEST_PLANNED: { component: 'ingest', fatal: true, text: 'ended by the ingest plan' },
  INGEST_FAILED: { component: 'ingest', fatal: true, text: 'ingest failed' },
  INGEST_LEASE_LOST: { component: 'ingest', fatal: true, text: 'another ingest process holds the channel (its lease was lost or taken over)' },
  INGEST_LEASE_HELD: { component: 'ingest', fatal: true, text: 'the channel is being published through another ingest process' },
  INGEST_SEALED: { component: 'ingest', fatal: true, text: 'refused: the write would change a segment or part already announced' },
  INGEST_PACKETS_REFUSED: { component: 'ingest', fatal: false, text: 'packets refused: they would land in an announced segment or part' },
  // Redis refusing or unreachable.
  STORE_OOM: { component: 'store', fatal: true, text: 'Redis refused writes: out of memory (maxmemory reached)' },
  STORE_READONLY: { component: 'store', fatal: true, text: 'Redis refused writes: read-only (a replica, or failover in progress)' },
  STORE_UNAVAILABLE: { component: 'store', fatal: true, text: 'Redis unavailable: connection lost' },
  STORE_FAILED: { component: 'store', fatal: true, text: 'Redis command failed' },
  // Transcoders: a rung segment that could not be made is a recorded gap; the job goes on.
  TRANSCODE_LATE: { component: 'transcoder', fatal: false, text: 'rung segment too late' },
  TRANSCODE_ORPHANED: { component: 'transcoder', fatal: false, text: 'rung segment partly published by a job that died' },
  TRANSCODE_SEGMENT_FAILED: { component: 'transcoder', fatal: false, text: 'rung segment failed' },
  TRANSCODE_JOB_FAILED: { component: 'transcoder', fatal: true, text: 'transcode job failed' },
  // Frame images and clips.
  JIT_FAILED: { component: 'jit', fatal: true, text: 'frame image or clip job failed' },
} as const satisfies Record<string, Entry>;

export type PipelineErrorCode = keyof typeof PIPELINE_ERRORS;

export function isPipelineErrorCode(code: unknown): code is PipelineErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(PIPELINE_ERRORS, code);
}

/** A pipeline failure as data: what logs, metrics and a channel's status carry. */
export interface PipelineFault {
  component: PipelineComponent;
  code: PipelineErrorCode;
  fatal: boolean;
  /** For people: the precise cause when the reporter knows one, else the code's text. */
  message: string;
}

export class PipelineError extends Error {
  readonly component: PipelineComponent;
  readonly code: PipelineErrorCode;
  readonly fatal: boolean;

  constructor(code: PipelineErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? PIPELINE_ERRORS[code].text, options);
    this.name = 'PipelineError';
    this.code = code;
    this.component = PIPELINE_ERRORS[code].component;
    this.fatal = PIPELINE_ERRORS[code].fatal;
  }

  toFault(): PipelineFault {
    return { component: this.component, code: this.code, fatal: this.fatal, message: this.message };
  }
}

export function fault(code: PipelineErrorCode, message?: string): PipelineFault {
  const e = PIPELINE_ERRORS[code];
  return { component: e.component, code, fatal: e.fatal, message: message ?? e.text };
}

/** Any thrown value as a fault: a PipelineError keeps its code; anything else gets `fallback`. */
export function faultOf(err: unknown, fallback: PipelineErrorCode): PipelineFault {
  if (err instanceof PipelineError) return err.toFault();
  return fault(fallback, err instanceof Error ? err.message : String(err));
}

/** The fields a structured log line carries for a fault (pino: `log.warn(logFields(f), msg)`). */
export function logFields(f: PipelineFault): { component: PipelineComponent; code: PipelineErrorCode; fatal: boolean; reason: string } {
  return { component: f.component, code: f.code, fatal: f.fatal, reason: f.message };
}
