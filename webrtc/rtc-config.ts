/**
 * Pure: Beamline's WebRTC settings (config `webrtc`, BEAM_WEBRTC_*) as libdatachannel's peer configuration.
 */

import type { RtcConfig } from 'node-datachannel';

export interface WebrtcConfig {
  /** Address ICE binds to and offers as the host candidate ('0.0.0.0' = every interface). */
  host: string;
  /** UDP port range for ICE (one port per peer connection); 0/0 = any ephemeral port. */
  portMin: number;
  portMax: number;
  /** Comma-separated stun:/turn: URLs (turn:user:pass@host:port), or null for none. */
  iceServers: string | null;
  /** Peer connections (viewers and publishers) this process holds at most. */
  maxSessions: number;
}

export const DEFAULT_WEBRTC_CONFIG: WebrtcConfig = { host: '0.0.0.0', portMin: 0, portMax: 0, iceServers: null, maxSessions: 200 };

/** libdatachannel's configuration for one peer connection. */
export function rtcConfigOf(c: WebrtcConfig): RtcConfig {
  const iceServers = (c.iceServers ?? '').split(',').map((s) => s.trim()).filter((s) => /^(stun|turn|turns):/.test(s));
  const out: RtcConfig = { iceServers, enableIceTcp: false };
  if (c.host && c.host !== '0.0.0.0' && c.host !== '::') out.bindAddress = c.host;
  if (c.portMin > 0 && c.portMax >= c.portMin) {
    out.portRangeBegin = c.portMin;
    out.portRangeEnd = c.portMax;
  }
  return out;
}
