/**
 * Blocking playlist reload (RFC 8216bis §6.2.5.2) and delta-update requests, decided purely:
 * `_HLS_msn` / `_HLS_part` either are already satisfied (ready), must be waited for, or ask
 * too far ahead (400). `_HLS_skip=YES|v2` asks for a delta update.
 */

/** What the current playlist holds. */
export interface PlaylistPosition {
  /** Media sequence number of the last complete segment (-1 when none). */
  lastMsn: number;
  /** Complete parts of the segment in progress (the one after `lastMsn`). */
  pendingParts: number;
  /** PART-TARGET in seconds when the playlist offers parts. */
  partTarget?: number;
  /** The playlist offers delta updates (CAN-SKIP-UNTIL). */
  canSkip?: boolean;
  /** The playlist has EXT-X-ENDLIST: nothing more will come. */
  ended?: boolean;
}

export interface BlockingTarget {
  msn: number;
  part?: number;
}

export type BlockingDecision =
  | { kind: 'ready'; skip: boolean }
  | { kind: 'wait'; target: BlockingTarget; skip: boolean }
  | { kind: 'error'; statusCode: 400; message: string };

export type QueryValue = string | string[] | undefined;

/** How many parts past the last one a request may ask for: three seconds' worth, at least 3. */
export function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? Math.ceil(3 / partTarget) : 3;
}

/** True once the playlist contains segment `msn` (or, with `part`, that part of it). */
export function blockingSatisfied(target: BlockingTarget, pos: PlaylistPosition): boolean {
  if (pos.ended || target.msn <= pos.lastMsn) return true;
  return target.part !== undefined && target.msn === pos.lastMsn + 1 && target.part < pos.pendingParts;
}

function error(message: string): BlockingDecision {
  return { kind: 'error', statusCode: 400, message };
}

function single(name: string, v: QueryValue): string | undefined | Error {
  if (Array.isArray(v)) return v.length === 1 ? v[0] : new Error(`${name} given ${v.length} times`);
  return v;
}

function nonNegativeInt(name: string, v: string | undefined): number | undefined | Error {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) return new Error(`${name} must be a non-negative decimal integer, got "${v}"`);
  return Number(v);
}

export function parseBlockingRequest(query: Record<string, QueryValue>, pos: PlaylistPosition): BlockingDecision {
  const rawMsn = single('_HLS_msn', query._HLS_msn);
  const rawPart = single('_HLS_part', query._HLS_part);
  const rawSkip = single('_HLS_skip', query._HLS_skip);
  for (const r of [rawMsn, rawPart, rawSkip]) if (r instanceof Error) return error(r.message);
  const msn = nonNegativeInt('_HLS_msn', rawMsn as string | undefined);
  const part = nonNegativeInt('_HLS_part', rawPart as string | undefined);
  if (msn instanceof Error) return error(msn.message);
  if (part instanceof Error) return error(part.message);
  if (rawSkip !== undefined && rawSkip !== 'YES' && rawSkip !== 'v2') return error(`_HLS_skip must be YES or v2, got "${String(rawSkip)}"`);
  const skip = rawSkip !== undefined && pos.canSkip === true;
  if (part !== undefined && msn === undefined) return error('_HLS_part requires _HLS_msn');
  if (part !== undefined && pos.partTarget === undefined) return error('_HLS_part given but this playlist has no parts');
  if (msn === undefined || pos.ended) return { kind: 'ready', skip };
  if (msn > pos.lastMsn + 2) {
    return error(`_HLS_msn ${msn} is more than two segments past the last segment ${pos.lastMsn}`);
  }
  if (part !== undefined && pos.partTarget !== undefined && msn === pos.lastMsn + 1) {
    const limit = advancePartLimit(pos.partTarget);
    if (part - (pos.pendingParts - 1) > limit) {
      return error(`_HLS_part ${part} is more than ${limit} parts past the last part ${pos.pendingParts - 1}`);
    }
  }
  const target: BlockingTarget = part === undefined ? { msn } : { msn, part };
  return blockingSatisfied(target, pos) ? { kind: 'ready', skip } : { kind: 'wait', target, skip };
}
