/**
 * Whether a channel's source video carries CEA-608 captions (A/53 SEI), for channels whose `captions` setting
 * is automatic: the first second of the newest closed source segment is read (a caption service sends cc_data
 * with every frame, padding while silent) and scanned by the pure `sampleHasCea608`. One read per channel and
 * new segment, remembered per channel (bounded), shared by the multivariant playlist and the MPD.
 */
import { TIMELINE_HZ, VIDEO_STREAM } from '../../core/model/live';
import { announcedCaptions, type CaptionService } from '../../core/model/captions';
import type { ChannelReader } from '../channel-reader';
import { sampleHasCea608 } from '../codecs/captions';
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
  const seen = new Map<string, { index: number; found: Promise<boolean> }>();

  async function scan(channel: string, fromDts: number, toDts: number): Promise<boolean> {
    const packets = await deps.reader.readWindow(channel, VIDEO_STREAM, { from: fromDts, to: toDts });
    return packets.some((p) => p.data.length > 0 && sampleHasCea608(p.data));
  }

  function detected(snap: Snapshot): Promise<boolean> {
    const seg = snap.closed[snap.closed.length - 1];
    if (!seg) return Promise.resolve(false);
    const name = snap.channel.name;
    const prior = seen.get(name);
    if (prior && prior.index === seg.index) return prior.found;
    if (seen.size >= MAX_CHANNELS) seen.clear();
    const found = scan(name, seg.startDts, seg.startDts + SCAN_TICKS).catch(() => false);
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
