/**
 * The one declaration of a beamcoder packet (FFmpeg's AVPacket as beamcoder exposes it; beamcoder ships no
 * types we rely on). Ingest demuxes into it, the transcoders and WebRTC decode and encode with it; each
 * consumer reads the fields it needs. Type only: importing it never loads native code.
 */
export interface BcPacket {
  /** null when FFmpeg knows no timestamp (AV_NOPTS_VALUE). */
  pts: number | null;
  dts: number | null;
  duration: number | null;
  stream_index: number;
  flags: { KEY: boolean; CORRUPT?: boolean };
  /** The payload's real length: `data` carries FFmpeg's input padding (64 zero bytes) after it. */
  size: number;
  data: Buffer;
}
