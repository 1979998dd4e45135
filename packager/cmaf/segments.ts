/** CMAF headers (init segments) and fragments (segments, LL-HLS parts) from resolved tracks. */
import { badMedia } from '../errors';
import type { CmafSample, CmafTrack } from '../model';
import { mdatHeader, moof, styp, type SampleLayout } from './fragment-boxes';
import { ftyp, moov } from './init-boxes';

/** An init segment: ftyp + moov with one trak (and trex) per track. */
export function buildInitSegment(tracks: CmafTrack[]): Buffer {
  if (tracks.length === 0) throw badMedia('CMAF: an init segment needs at least one track');
  const ids = new Set(tracks.map((t) => t.id));
  if (ids.size !== tracks.length) throw badMedia('CMAF: track ids in one init segment must be unique');
  for (const t of tracks) {
    if (!Number.isInteger(t.id) || t.id < 1) throw badMedia(`CMAF: track id ${t.id} must be a positive integer`);
    if (!Number.isInteger(t.timescale) || t.timescale < 1) throw badMedia(`CMAF: track ${t.id} timescale ${t.timescale} is invalid`);
  }
  return Buffer.concat([ftyp('iso6', 0, ['iso6', 'cmfc', 'mp41']), moov(tracks)]);
}

export interface MediaSegmentOptions {
  /** Prefix an `styp` box (default true). */
  styp?: boolean;
}

/**
 * One fragment (styp + moof + mdat) of one track. The same function builds full segments and
 * LL-HLS parts: a part is a smaller fragment. `baseDecodeTime` defaults to the first sample's
 * decode time; sample durations must already be in the track's media timescale.
 */
export function buildMediaSegment(track: CmafTrack, samples: CmafSample[], sequenceNumber: number,
  baseDecodeTime?: number, options: MediaSegmentOptions = {}): Buffer {
  return Buffer.concat([buildFragmentHead(track, samples, sequenceNumber, baseDecodeTime, options), ...samples.map((s) => s.data)]);
}

/**
 * A fragment's bytes before its payloads: styp + moof + the mdat box's 8-byte header, from the samples' timing
 * and payload sizes only. `buildMediaSegment` is this followed by the payloads in order (so a segment whose
 * payloads are elsewhere, an archive, can be sent as this head and then those bytes).
 */
export function buildFragmentHead(track: CmafTrack, samples: readonly SampleLayout[], sequenceNumber: number,
  baseDecodeTime?: number, options: MediaSegmentOptions = {}): Buffer {
  const first = samples[0];
  if (!first) throw badMedia(`CMAF: fragment ${sequenceNumber} of track ${track.id} has no samples`);
  if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > 0xffffffff) {
    throw badMedia(`CMAF: sequence number ${sequenceNumber} out of range`);
  }
  const base = baseDecodeTime ?? first.dts;
  if (!Number.isSafeInteger(base) || base < 0) {
    throw badMedia(`CMAF: base decode time ${base} of track ${track.id} must be a non-negative integer`);
  }
  let payloadBytes = 0;
  samples.forEach((s, i) => {
    if (!Number.isInteger(s.duration) || s.duration < 0) throw badMedia(`CMAF: sample ${i} has invalid duration ${s.duration}`);
    if (!Number.isInteger(s.compositionOffset)) throw badMedia(`CMAF: sample ${i} has invalid composition offset`);
    if (s.data.length === 0) throw badMedia(`CMAF: sample ${i} of track ${track.id} is empty`);
    payloadBytes += s.data.length;
  });
  const probe = moof(sequenceNumber, track.id, base, samples, 0);
  const fragment = moof(sequenceNumber, track.id, base, samples, probe.length + 8);
  const head = options.styp === false ? [] : [styp('msdh', 0, ['msdh', 'cmfs', 'cmff'])];
  return Buffer.concat([...head, fragment, mdatHeader(payloadBytes)]);
}
