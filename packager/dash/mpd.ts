/**
 * Renders a DASH MPD (ISO/IEC 23009-1, live profile) over the same CMAF segments HLS uses:
 * SegmentTemplate with a SegmentTimeline per adaptation set, $Number$ or $Time$ addressing.
 */
import { badRenderInput } from '../errors';
import { isCea708, type CaptionService } from '../../core/model/captions';
import type { DashAdaptationSet, DashEventStream, DashManifest, DashRepresentation, DashSegmentTime } from './model';

const PROFILE = 'urn:mpeg:dash:profile:isoff-live:2011';
const UTC_HTTP_ISO = 'urn:mpeg:dash:utc:http-iso:2014';
const SCTE35_SCHEME = 'urn:scte:scte35:2014:xml+bin';
const SCTE35_NS = 'http://www.scte.org/schemas/35/2016';
const CHANNEL_SCHEME = 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011';
/** SCTE 214-1: CEA-608 captions carried in the video, value `CC1=eng;CC3=spa` (or `CC1` without a language). */
export const CEA608_SCHEME = 'urn:scte:dash:cc:cea-608:2015';

/** SCTE 214-1: CEA-708 services carried in the video, value `1=lang:eng;2=lang:spa` (or `1` without a language). */
export const CEA708_SCHEME = 'urn:scte:dash:cc:cea-708:2015';

/** The Accessibility value of CEA-608 services: `CC1=en;CC3=es`, a service without a language as `CC1`. */
export function cea608Value(services: readonly { channel: string; language?: string }[]): string {
  return services.map((s) => (s.language ? `${s.channel}=${s.language}` : s.channel)).join(';');
}

/** The Accessibility value of CEA-708 services (`SERVICE<n>`): `1=lang:en;2=lang:es`, one without a language as `1`. */
export function cea708Value(services: readonly Pick<CaptionService, 'channel' | 'language'>[]): string {
  return services.map((s) => {
    const n = s.channel.replace(/^SERVICE/, '');
    return s.language ? `${n}=lang:${s.language}` : n;
  }).join(';');
}

/** The Accessibility descriptors of a video AdaptationSet's caption services: one per standard present. */
export function captionAccessibility(services: readonly Pick<CaptionService, 'channel' | 'language'>[]): { schemeIdUri: string; value: string }[] {
  const c608 = services.filter((s) => !isCea708(s.channel));
  const c708 = services.filter((s) => isCea708(s.channel));
  return [
    ...(c608.length ? [{ schemeIdUri: CEA608_SCHEME, value: cea608Value(c608) }] : []),
    ...(c708.length ? [{ schemeIdUri: CEA708_SCHEME, value: cea708Value(c708) }] : []),
  ];
}

function escapeXml(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attrs(list: Array<[string, string | number | undefined]>): string {
  return list.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join('');
}

/** ISO 8601 duration in seconds, e.g. `PT6S`, `PT1.5S`. */
export function isoDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw badRenderInput(`DASH: invalid duration ${seconds}`);
  return `PT${Number(seconds.toFixed(3))}S`;
}

function dateTime(t: Date | number, what: string): string {
  const d = typeof t === 'number' ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) throw badRenderInput(`DASH: invalid ${what}`);
  return d.toISOString();
}

/** DASH frameRate: integer, or N/1001 for the NTSC family, else 3 decimals. */
export function dashFrameRate(fr: number | string): string {
  if (typeof fr === 'string') {
    if (!/^\d+(\/\d+)?$/.test(fr)) throw badRenderInput(`DASH: invalid frame rate "${fr}"`);
    return fr;
  }
  if (!(fr > 0)) throw badRenderInput(`DASH: invalid frame rate ${fr}`);
  if (Math.abs(fr - Math.round(fr)) < 1e-6) return String(Math.round(fr));
  const ntsc = Math.round(fr * 1.001);
  if (Math.abs(ntsc / 1.001 - fr) < 1e-3) return `${ntsc * 1000}/1001`;
  return fr.toFixed(3);
}

/** Run-length encodes a timeline into S elements (`r` repeats, `t` only where time jumps). */
export function timelineElements(segments: DashSegmentTime[]): string[] {
  const out: Array<{ t?: number; d: number; r: number }> = [];
  let expected: number | undefined;
  for (const s of segments) {
    if (!Number.isSafeInteger(s.t) || s.t < 0 || !Number.isSafeInteger(s.d) || s.d <= 0) {
      throw badRenderInput(`DASH: invalid timeline segment t=${s.t} d=${s.d}`);
    }
    if (expected !== undefined && s.t < expected) throw badRenderInput(`DASH: timeline goes backwards at t=${s.t}`);
    const last = out[out.length - 1];
    if (last && s.t === expected && s.d === last.d) last.r++;
    else out.push(s.t === expected ? { d: s.d, r: 0 } : { t: s.t, d: s.d, r: 0 });
    expected = s.t + s.d;
  }
  return out.map((e) => `<S${attrs([['t', e.t], ['d', e.d], ['r', e.r > 0 ? e.r : undefined]])}/>`);
}

function representationXml(r: DashRepresentation, contentType: 'video' | 'audio'): string[] {
  if (!Number.isInteger(r.bandwidth) || r.bandwidth <= 0) throw badRenderInput(`DASH: representation ${r.id} bandwidth ${r.bandwidth}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(r.id)) throw badRenderInput(`DASH: representation id "${r.id}" must be URL-safe without spaces`);
  const open = `<Representation${attrs([
    ['id', r.id],
    ['bandwidth', r.bandwidth],
    ['codecs', r.codecs],
    ['width', r.width],
    ['height', r.height],
    ['frameRate', r.frameRate === undefined ? undefined : dashFrameRate(r.frameRate)],
    ['audioSamplingRate', r.audioSamplingRate],
  ])}`;
  if (contentType === 'audio' && r.channels !== undefined) {
    return [`${open}>`, `  <AudioChannelConfiguration${attrs([['schemeIdUri', CHANNEL_SCHEME], ['value', r.channels]])}/>`, '</Representation>'];
  }
  return [`${open}/>`];
}

function checkTemplate(a: DashAdaptationSet): void {
  const needed = a.addressing === 'number' ? '$Number$' : '$Time$';
  if (!a.media.includes(needed)) throw badRenderInput(`DASH: adaptation set ${a.id} media template lacks ${needed}`);
  if (!Number.isInteger(a.timescale) || a.timescale < 1) throw badRenderInput(`DASH: adaptation set ${a.id} timescale ${a.timescale}`);
  if (!Number.isInteger(a.startNumber) || a.startNumber < 0) throw badRenderInput(`DASH: adaptation set ${a.id} startNumber ${a.startNumber}`);
  if (a.representations.length === 0) throw badRenderInput(`DASH: adaptation set ${a.id} has no representation`);
}

function adaptationSetXml(a: DashAdaptationSet): string[] {
  checkTemplate(a);
  const lines = [`<AdaptationSet${attrs([
    ['id', a.id],
    ['contentType', a.contentType],
    ['mimeType', a.mimeType ?? `${a.contentType}/mp4`],
    ['lang', a.lang],
    ['segmentAlignment', 'true'],
    ['startWithSAP', 1],
  ])}>`];
  for (const d of a.accessibility ?? []) lines.push(`  <Accessibility${attrs([['schemeIdUri', d.schemeIdUri], ['value', d.value]])}/>`);
  lines.push(`  <SegmentTemplate${attrs([
    ['timescale', a.timescale],
    ['presentationTimeOffset', a.presentationTimeOffset],
    ['initialization', a.initialization],
    ['media', a.media],
    ['startNumber', a.addressing === 'number' ? a.startNumber : undefined],
  ])}>`);
  lines.push('    <SegmentTimeline>', ...timelineElements(a.segments).map((s) => `      ${s}`), '    </SegmentTimeline>');
  lines.push('  </SegmentTemplate>');
  const sorted = [...a.representations].sort((x, y) => y.bandwidth - x.bandwidth);
  for (const r of sorted) lines.push(...representationXml(r, a.contentType).map((l) => `  ${l}`));
  lines.push('</AdaptationSet>');
  return lines;
}

function timelineSeconds(a: DashAdaptationSet): number {
  const last = a.segments[a.segments.length - 1];
  const first = a.segments[0];
  if (!last || !first) return 0;
  return (last.t + last.d - (a.presentationTimeOffset ?? first.t)) / a.timescale;
}

function mpdAttributes(m: DashManifest): Array<[string, string | number | undefined]> {
  const list: Array<[string, string | number | undefined]> = [
    ['xmlns', 'urn:mpeg:dash:schema:mpd:2011'],
    ['profiles', PROFILE],
    ['type', m.type],
  ];
  if (m.type === 'dynamic') {
    if (m.availabilityStartTime === undefined) throw badRenderInput('DASH: a dynamic MPD needs availabilityStartTime');
    list.push(
      ['availabilityStartTime', dateTime(m.availabilityStartTime, 'availabilityStartTime')],
      ['publishTime', dateTime(m.publishTime, 'publishTime')],
      ['minimumUpdatePeriod', isoDuration(m.minimumUpdatePeriod ?? 2)],
      ['timeShiftBufferDepth', m.timeShiftBufferDepth === undefined ? undefined : isoDuration(m.timeShiftBufferDepth)],
      ['suggestedPresentationDelay', m.suggestedPresentationDelay === undefined ? undefined : isoDuration(m.suggestedPresentationDelay)],
    );
  } else {
    const duration = m.mediaPresentationDuration ?? Math.max(0, ...m.adaptationSets.map(timelineSeconds));
    list.push(['publishTime', dateTime(m.publishTime, 'publishTime')], ['mediaPresentationDuration', isoDuration(duration)]);
  }
  list.push(['minBufferTime', isoDuration(m.minBufferTime)]);
  return list;
}

function eventStreamXml(es: DashEventStream): string[] {
  if (!Number.isInteger(es.timescale) || es.timescale < 1) throw badRenderInput(`DASH: event stream timescale ${es.timescale}`);
  const lines = [`<EventStream${attrs([['schemeIdUri', SCTE35_SCHEME], ['timescale', es.timescale], ['presentationTimeOffset', es.presentationTimeOffset]])}>`];
  for (const e of es.events) {
    if (!Number.isSafeInteger(e.presentationTime) || e.presentationTime < 0) throw badRenderInput(`DASH: event ${e.id} presentationTime ${e.presentationTime}`);
    if (!/^[A-Za-z0-9+/]+=*$/.test(e.binaryBase64)) throw badRenderInput(`DASH: event ${e.id} binary is not base64`);
    lines.push(
      `  <Event${attrs([['presentationTime', e.presentationTime], ['duration', e.duration], ['id', e.id]])}>`,
      `    <scte35:Signal><scte35:Binary>${e.binaryBase64}</scte35:Binary></scte35:Signal>`,
      '  </Event>',
    );
  }
  lines.push('</EventStream>');
  return lines;
}

export function renderMpd(m: DashManifest): string {
  if (m.adaptationSets.length === 0) throw badRenderInput('DASH: an MPD needs at least one adaptation set');
  const events = m.eventStream && m.eventStream.events.length > 0 ? m.eventStream : null;
  const root = mpdAttributes(m);
  if (events) root.splice(1, 0, ['xmlns:scte35', SCTE35_NS]);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<MPD${attrs(root)}>`];
  lines.push(`  <Period${attrs([['id', m.periodId ?? '0'], ['start', isoDuration(m.periodStart ?? 0)]])}>`);
  if (events) lines.push(...eventStreamXml(events).map((l) => `    ${l}`));
  for (const a of m.adaptationSets) lines.push(...adaptationSetXml(a).map((l) => `    ${l}`));
  lines.push('  </Period>');
  if (m.utcTimingUrl !== undefined) lines.push(`  <UTCTiming${attrs([['schemeIdUri', UTC_HTTP_ISO], ['value', m.utcTimingUrl]])}/>`);
  lines.push('</MPD>');
  return `${lines.join('\n')}\n`;
}
