/**
 * How a publisher that reaches Beamline over HTTP (WHIP, served where the WebRTC role runs) is handed to the
 * ingest role, which alone checks stream keys, asks the admission webhooks and runs publish sessions. The
 * composition root wires the one to the other through this interface (neither role imports the other).
 */

/** A publisher's media as a byte stream the ingest demuxer reads (MPEG-TS), with its connection's life. */
export interface PushedPublisher {
  protocol: 'whip';
  /** `address:port` of the publisher's HTTP request. */
  peer: string;
  format: 'mpegts';
  onData(fn: (chunk: Buffer) => void): void;
  /** The connection ended by itself (`reason` is the human text, e.g. `ended by the publisher (DELETE)`). */
  onClose(fn: (reason: string) => void): void;
  /** The ingest ends the publish (replaced, key rotated, channel deleted, shutdown…). */
  close(reason: string): void;
  /** How the RTP video arrives, for the channel's diagnostics. */
  rtpStats?(): RtpReceiveStats;
}

/** A WHIP publisher's RTP video as received: what was asked for again and recovered, lost, and keyframes asked for. */
export interface RtpReceiveStats {
  /** Video packets asked for again (RTCP NACK, each time). */
  nacked: number;
  /** Gaps filled by a late or resent packet. */
  recovered: number;
  /** Gaps given up (their access units dropped). */
  lostPackets: number;
  /** Keyframes asked for (PLI): at the start, and after a loss. */
  keyframeRequests: number;
  droppedAccessUnits: number;
}

/** Why a publish may not start, as the HTTP status the WHIP endpoint answers. */
export type IntakeRefusal = { status: 401 | 403 | 404 | 503; message: string };

export type IntakeAdmission = { ok: true; requestId: string } | ({ ok: false } & IntakeRefusal);

export interface PublishIntake {
  /**
   * Checks `key` (the bearer token; null: none was sent) against the channel's stream key and asks the
   * channel's admission webhooks. Resolves, never rejects.
   */
  admit(channel: string, key: string | null, peer: { address: string; port: number }): Promise<IntakeAdmission>;
  /** Starts the publish session of an admitted publisher (replacing the channel's current one, as SRT and RTMP do). */
  publish(channel: string, source: PushedPublisher, requestId: string): void;
}

/** An intake that forwards to `current()` once there is one (the ingest starts after the HTTP routes are built); 503 before. */
export function deferredIntake(current: () => PublishIntake | null): PublishIntake {
  return {
    admit: (channel, key, peer) => current()?.admit(channel, key, peer) ?? Promise.resolve({ ok: false, status: 503, message: 'The ingest is starting; try again.' }),
    publish(channel, source, requestId) {
      const i = current();
      if (i) i.publish(channel, source, requestId);
      else source.close('the ingest is not running');
    },
  };
}
