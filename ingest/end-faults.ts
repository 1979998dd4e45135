/**
 * Pure: how a publish ended, or why a publisher was refused, as a pipeline fault (core/model/pipeline-errors.ts).
 * The human text stays the one operators and the dashboard already read; the code beside it is what logs,
 * `beam_pipeline_errors_total` and a channel's `status.lastDisconnectCode` carry.
 */

import { fault, PipelineError, type PipelineErrorCode, type PipelineFault } from '../core/model/pipeline-errors';
import { STORE_FAULT_CODES, type StoreFailure } from './store-errors';

/** Codes of the RTMP session's close reasons (rtmp-session.ts RtmpCloseReason). */
const RTMP_CLOSE_CODES: Readonly<Record<string, PipelineErrorCode>> = {
  unpublished: 'INGEST_ENDED',
  disconnected: 'INGEST_ENDED',
  closed: 'INGEST_ENDED',
  idle: 'INGEST_IDLE',
  replaced: 'INGEST_REPLACED',
  shutdown: 'INGEST_SHUTDOWN',
  'protocol-error': 'RTMP_PROTOCOL',
  'unsupported-codec': 'INGEST_FAILED',
};

/** The code of an SRT session's close reason (srt-server.ts and the native listener). */
function srtCloseCode(reason: string): PipelineErrorCode {
  if (reason === 'idle' || reason.startsWith('connection lost')) return 'INGEST_IDLE';
  if (reason === 'server closed') return 'INGEST_SHUTDOWN';
  if (reason.startsWith('receive error')) return 'INGEST_FAILED';
  return 'INGEST_ENDED'; // closed by peer (or by this server, which then set its own fault first)
}

/**
 * The fault of a connection that closed by itself: the reason text its protocol layer gave (RTMP:
 * `<RtmpCloseReason>: <detail>`, SRT: the listener's text) is kept as the message.
 */
export function sourceEndFault(protocol: 'srt' | 'rtmp' | 'whip', reason: string): PipelineFault {
  if (protocol === 'whip') {
    if (reason.startsWith('refused:')) return fault('INGEST_FAILED', reason);
    return fault(reason.startsWith('idle') || reason.startsWith('connection lost') ? 'INGEST_IDLE' : 'INGEST_ENDED', reason);
  }
  if (protocol === 'rtmp') {
    const kind = reason.split(':', 1)[0] ?? '';
    return fault(RTMP_CLOSE_CODES[kind] ?? 'INGEST_FAILED', reason);
  }
  return fault(srtCloseCode(reason), reason);
}

/** A publish Redis ended: `ingest stopped: <what Redis did>`. */
export function storeEndFault(f: StoreFailure): PipelineFault {
  return fault(STORE_FAULT_CODES[f.kind], `ingest stopped: ${f.reason}`);
}

/** A publish that failed by itself (no streams in time, a bug): `ingest failed: <message>`. */
export function failedFault(err: unknown): PipelineFault {
  if (err instanceof PipelineError) return err.toFault();
  return fault('INGEST_FAILED', `ingest failed: ${err instanceof Error ? err.message : String(err)}`);
}
