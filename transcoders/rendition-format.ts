/**
 * Pure: a rung's rendition content item. Rung `<r>` of channel `<ch>` is the content item `<ch>.<r>` with one
 * H.264 stream on the channel's 90 kHz timeline, and codec parameters the packager builds init segments from.
 */

import type { Format } from '../core/model/media';
import { TIMELINE_HZ, VIDEO_STREAM } from '../core/model/live';
import { renditionContent } from '../core/model/channel';
import type { Rational } from '../core/model/media';
import type { PlannedRung } from './ladder';
import { maxRateOf, profileOf } from './encoder-settings';

/** The rendition content item of a rung: `renditionContent` of core/model/channel (the one definition). */
export const renditionName = renditionContent;

export function renditionFormat(channel: string, rung: PlannedRung, extradata: Buffer, frameRate: Rational, ttlSeconds: number): Format {
  return {
    type: 'format',
    url: renditionName(channel, rung.name),
    ttl: ttlSeconds,
    bit_rate: rung.videoBitrate,
    metadata: { channel, rung: rung.name },
    streams: [
      {
        type: 'Stream',
        index: VIDEO_STREAM,
        time_base: [1, TIMELINE_HZ],
        avg_frame_rate: frameRate,
        r_frame_rate: frameRate,
        codecpar: {
          type: 'CodecParameters',
          codec_type: 'video',
          name: 'h264',
          width: rung.outWidth,
          height: rung.outHeight,
          format: 'yuv420p',
          profile: profileOf(rung),
          bit_rate: rung.videoBitrate,
          max_bit_rate: maxRateOf(rung),
          extradata: extradata.toString('base64'),
        },
      },
    ],
  };
}

/** True when a stored rendition format differs from the wanted one in anything a player or packager reads. */
export function renditionChanged(stored: Format, wanted: Format): boolean {
  const key = (f: Format) => {
    const s = f.streams[0];
    const c = s?.codecpar;
    return JSON.stringify([f.ttl, f.bit_rate, c?.width, c?.height, c?.extradata, c?.profile, c?.bit_rate, c?.max_bit_rate, s?.avg_frame_rate]);
  };
  return key(stored) !== key(wanted);
}
