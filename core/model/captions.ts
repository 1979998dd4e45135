/**
 * Pure: a channel's closed-caption services, as the `captions` channel setting declares them and as the
 * playlists announce them. Captions are CEA-608 and CEA-708 carried in the H.264 video itself (A/53 SEI
 * `cc_data`); they pass through ingest and the transcoders, so there is nothing to fetch: the declaration only
 * tells players what to look for (HLS INSTREAM-ID `CC1`-`CC4` for 608 data channels, `SERVICE1`-`SERVICE63`
 * for 708 services).
 *
 * The setting: absent or null (automatic): CC1 is declared while the source is seen to carry 608 captions, and
 * `SERVICE<n>` for each 708 service seen; an array: exactly these services, whatever is seen; [] never
 * declares any.
 */
import { BeamError } from './errors';

export const CC_CHANNELS = ['CC1', 'CC2', 'CC3', 'CC4'] as const;
/** A CEA-608 data channel, or a CEA-708 service (1-63). */
export type CcChannel = (typeof CC_CHANNELS)[number] | `SERVICE${number}`;
const CAPTION_CHANNEL = /^(CC[1-4]|SERVICE([1-9]|[1-5][0-9]|6[0-3]))$/;
/** Most services a channel declares. */
export const MAX_CAPTION_SERVICES = 16;

/** Whether a declared service is a CEA-708 one (else CEA-608). */
export function isCea708(channel: CcChannel): boolean {
  return channel.startsWith('SERVICE');
}

/** What a scan of the video found: 608 captions, and the 708 services that sent data. */
export interface CaptionsSeen {
  cea608: boolean;
  services: readonly number[];
}

export const NO_CAPTIONS: CaptionsSeen = { cea608: false, services: [] };

export interface CaptionService {
  /** The CEA-608 data channel or CEA-708 service (HLS INSTREAM-ID). */
  channel: CcChannel;
  /** BCP 47 language tag (e.g. `en`, `es-MX`); absent: not declared. */
  language?: string;
  /** Name shown in players' caption menus. */
  name: string;
}

/** What an automatic channel declares once captions are seen. */
export const DETECTED_CAPTIONS: readonly CaptionService[] = [{ channel: 'CC1', name: 'CC1' }];

const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;
/** Printable text without quotes, backslashes or commas' troubles in an HLS quoted string or XML attribute. */
const NAME = /^[^"\\\x00-\x1f\x7f<>&]{1,64}$/;

function bad(message: string): BeamError {
  return new BeamError('BEAM_ERR_BAD_REQUEST', message);
}

/** Validates the `captions` setting of a create/patch body: null (automatic) or at most 16 services. */
export function validateCaptions(v: unknown): CaptionService[] | null {
  if (v === null) return null;
  const shape = "'captions' must be null (declared when seen in the video) or an array of {channel: 'CC1'..'CC4' | 'SERVICE1'..'SERVICE63', name, language?}";
  if (!Array.isArray(v) || v.length > MAX_CAPTION_SERVICES) throw bad(`${shape}, at most ${MAX_CAPTION_SERVICES}.`);
  const seen = new Set<string>();
  const names = new Set<string>();
  return v.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`${shape}: captions[${i}] is not an object.`);
    const r = raw as Record<string, unknown>;
    const extra = Object.keys(r).filter((k) => k !== 'channel' && k !== 'name' && k !== 'language');
    if (extra.length) throw bad(`captions[${i}] has unknown field(s) ${extra.join(', ')}.`);
    if (typeof r.channel !== 'string' || !CAPTION_CHANNEL.test(r.channel)) throw bad(`captions[${i}].channel must be one of ${CC_CHANNELS.join(', ')} (CEA-608 data channels) or SERVICE1..SERVICE63 (CEA-708 services).`);
    if (seen.has(r.channel as string)) throw bad(`captions[${i}].channel ${String(r.channel)} is declared twice.`);
    seen.add(r.channel as string);
    if (typeof r.name !== 'string' || !NAME.test(r.name)) throw bad(`captions[${i}].name must be 1-64 characters without quotes, backslashes, <, >, & or control characters.`);
    if (names.has(r.name)) throw bad(`captions[${i}].name '${r.name}' is used twice (players tell the services apart by name).`);
    names.add(r.name);
    const out: CaptionService = { channel: r.channel as CcChannel, name: r.name };
    if (r.language !== undefined) {
      if (typeof r.language !== 'string' || !LANGUAGE.test(r.language)) throw bad(`captions[${i}].language must be a BCP 47 language tag such as 'en' or 'es-MX'.`);
      out.language = r.language;
    }
    return out;
  });
}

/**
 * The services to announce: the setting when it lists them, else (automatic) CC1 when 608 captions were seen and
 * `SERVICE<n>` for each 708 service seen (at most the bound, lowest first).
 */
export function announcedCaptions(setting: readonly CaptionService[] | null | undefined, seen: CaptionsSeen): readonly CaptionService[] {
  if (setting !== null && setting !== undefined) return setting;
  const out: CaptionService[] = seen.cea608 ? [...DETECTED_CAPTIONS] : [];
  for (const n of [...new Set(seen.services)].filter((s) => Number.isInteger(s) && s >= 1 && s <= 63).sort((a, b) => a - b)) {
    if (out.length >= MAX_CAPTION_SERVICES) break;
    out.push({ channel: `SERVICE${n}`, name: `SERVICE${n}` });
  }
  return out;
}
