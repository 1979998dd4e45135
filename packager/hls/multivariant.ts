/** Renders a multivariant (master) playlist: audio renditions and variants by bandwidth, highest first. */
import { badRenderInput } from '../errors';
import { attributes, quoted, uriLine } from './format';
import type { HlsAudioRendition, HlsClosedCaptionRendition, HlsMultivariantPlaylist, HlsVariant } from './model';

function checkPositiveInt(what: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v <= 0)) throw badRenderInput(`HLS: ${what} ${v} must be a positive integer`);
}

function mediaLine(r: HlsAudioRendition): string {
  return `#EXT-X-MEDIA:${attributes([
    ['TYPE', 'AUDIO'],
    ['GROUP-ID', quoted(r.groupId)],
    ['LANGUAGE', r.language === undefined ? undefined : quoted(r.language)],
    ['NAME', quoted(r.name)],
    ['DEFAULT', r.default ? 'YES' : 'NO'],
    ['AUTOSELECT', (r.autoselect ?? r.default) ? 'YES' : 'NO'],
    ['CHANNELS', r.channels === undefined ? undefined : quoted(String(r.channels))],
    ['URI', quoted(uriLine(r.uri))],
  ])}`;
}

function closedCaptionLine(r: HlsClosedCaptionRendition): string {
  if (!/^(CC[1-4]|SERVICE([1-9]|[1-5][0-9]|6[0-3]))$/.test(r.instreamId)) throw badRenderInput(`HLS: INSTREAM-ID "${r.instreamId}" is not CC1-CC4 or SERVICE1-63`);
  return `#EXT-X-MEDIA:${attributes([
    ['TYPE', 'CLOSED-CAPTIONS'],
    ['GROUP-ID', quoted(r.groupId)],
    ['LANGUAGE', r.language === undefined ? undefined : quoted(r.language)],
    ['NAME', quoted(r.name)],
    ['DEFAULT', r.default ? 'YES' : 'NO'],
    ['AUTOSELECT', (r.autoselect ?? r.default) ? 'YES' : 'NO'],
    ['INSTREAM-ID', quoted(r.instreamId)],
  ])}`;
}

function variantCodecs(v: HlsVariant, audio: HlsAudioRendition[]): string[] {
  const codecs = [...v.codecs];
  if (v.audioGroup !== undefined) {
    for (const r of audio) if (r.groupId === v.audioGroup && r.codecs && !codecs.includes(r.codecs)) codecs.push(r.codecs);
  }
  if (codecs.length === 0) throw badRenderInput(`HLS: variant ${v.uri} has no CODECS`);
  return codecs;
}

function streamInfLine(v: HlsVariant, audio: HlsAudioRendition[], cc: HlsClosedCaptionRendition[]): string {
  if (v.closedCaptionsGroup !== undefined && !cc.some((r) => r.groupId === v.closedCaptionsGroup)) {
    throw badRenderInput(`HLS: variant ${v.uri} names closed-captions group "${v.closedCaptionsGroup}" that has no EXT-X-MEDIA`);
  }
  checkPositiveInt('BANDWIDTH', v.bandwidth);
  checkPositiveInt('AVERAGE-BANDWIDTH', v.averageBandwidth);
  if (v.audioGroup !== undefined && !audio.some((r) => r.groupId === v.audioGroup)) {
    throw badRenderInput(`HLS: variant ${v.uri} names audio group "${v.audioGroup}" that has no EXT-X-MEDIA`);
  }
  if (v.resolution) {
    checkPositiveInt('RESOLUTION width', v.resolution.width);
    checkPositiveInt('RESOLUTION height', v.resolution.height);
  }
  if (v.frameRate !== undefined && !(v.frameRate > 0)) throw badRenderInput(`HLS: FRAME-RATE ${v.frameRate} must be positive`);
  return `#EXT-X-STREAM-INF:${attributes([
    ['BANDWIDTH', v.bandwidth],
    ['AVERAGE-BANDWIDTH', v.averageBandwidth],
    ['CODECS', quoted(variantCodecs(v, audio).join(','))],
    ['RESOLUTION', v.resolution ? `${v.resolution.width}x${v.resolution.height}` : undefined],
    ['FRAME-RATE', v.frameRate === undefined ? undefined : v.frameRate.toFixed(3)],
    ['AUDIO', v.audioGroup === undefined ? undefined : quoted(v.audioGroup)],
    ['CLOSED-CAPTIONS', v.closedCaptionsGroup === undefined ? undefined : quoted(v.closedCaptionsGroup)],
  ])}`;
}

export function renderMultivariant(p: HlsMultivariantPlaylist): string {
  if (p.variants.length === 0) throw badRenderInput('HLS: a multivariant playlist needs at least one variant');
  const audio = p.audio ?? [];
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${p.version ?? 6}`];
  if (p.independentSegments !== false) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  const cc = p.closedCaptions ?? [];
  for (const r of audio) lines.push(mediaLine(r));
  for (const r of cc) lines.push(closedCaptionLine(r));
  const variants = [...p.variants].sort((a, b) => b.bandwidth - a.bandwidth);
  for (const v of variants) lines.push(streamInfLine(v, audio, cc), uriLine(v.uri));
  return `${lines.join('\n')}\n`;
}
