/**
 * Which captions a channel's source video carries (A/53 SEI: CEA-608, CEA-708 services), for channels whose
 * `captions` setting is automatic: the first second of the newest closed source segment is read (a caption
 * service sends cc_data with every frame, padding while silent) and scanned by the pure `sampleCaptions`. A 708
 * service sends blocks only while it has something to say, so the services seen are kept while the video goes
 * on carrying cc_data (and forgotten once a scanned second has none). One read per channel and new segment,
 * remembered per channel (bounded), shared by the multivariant playlist and the MPD.
 */
import { TIMELINE_HZ, VIDEO_STREAM } from '../../core/model/live';
import { announcedCaptions, NO_CAPTIONS, type CaptionService, type CaptionsSeen } from '../../core/model/captions';
import type { ChannelReader } from '../channel-reader';
import { sampleCaptions, type A53Seen } from '../codecs/captions';
import type { Snapshot } from './snapshot';

/** Channels remembered at most (then forgotten all at once). */
const MAX_CHANNELS = 1000;
/** How much of a segment is scanned, in timeline ticks. */
const SCAN_TICKS = TIMELINE_HZ;

export interface CaptionDetector {
  /** The caption services the channel's manifests declare now. */
  captions(snap: Snapshot): Promise<readonly CaptionService[]>;
}

export function createCaptionDetector(deps: { reader: Pick<ChannelReader, 'readWindow'> }): CaptionDetector {
  const seen = new Map<string, { index: number; found: Promise<CaptionsSeen> }>();

  /** What the window carries; the 708 services seen `before` stay while the video carries DTVCC data at all. */
  async function scan(channel: string, fromDts: number, toDts: number, before: CaptionsSeen): Promise<CaptionsSeen> {
    const packets = await deps.reader.readWindow(channel, VIDEO_STREAM, { from: fromDts, to: toDts });
    const found: A53Seen = { cea608: false, dtvcc: false, services: new Set<number>() };
    for (const p of packets) if (p.data.length > 0) sampleCaptions(p.data, found);
    return { cea608: found.cea608, services: found.dtvcc ? [...new Set([...before.services, ...found.services])] : [] };
  }

  function detected(snap: Snapshot): Promise<CaptionsSeen> {
    const seg = snap.closed[snap.closed.length - 1];
    if (!seg) return Promise.resolve(NO_CAPTIONS);
    const name = snap.channel.name;
    const prior = seen.get(name);
    if (prior && prior.index === seg.index) return prior.found;
    if (seen.size >= MAX_CHANNELS) seen.clear();
    const previous = prior ? prior.found : Promise.resolve(NO_CAPTIONS);
    const found = previous.then((before) => scan(name, seg.startDts, seg.startDts + SCAN_TICKS, before)).catch(() => NO_CAPTIONS);
    seen.set(name, { index: seg.index, found });
    return found;
  }

  return {
    async captions(snap) {
      const setting = snap.channel.captions;
      if (Array.isArray(setting)) return setting;
      return announcedCaptions(setting, await detected(snap));
    },
  };
}
