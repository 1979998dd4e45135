/**
 * WHIP publishers in one process: the offer is checked (sdp-offer.ts), the bearer token and the admission
 * webhooks are asked of the ingest (PublishIntake, wired by the composition root), then a peer connection
 * answers and its media goes to the ingest as a publish session of the channel. Sessions are bounded (with
 * the process's WHEP viewers, by BEAM_WEBRTC_MAX_SESSIONS). Like WHEP, a session lives in the process that
 * answered its POST: its DELETE must reach the same process.
 */

import { BeamError, notFound } from '../core/model/errors';
import type { PublishIntake } from '../core/model/publish-intake';
import { CHANNEL_NAME } from '../core/model/channel';
import { parseOffer, trickleCandidates } from './sdp-offer';
import { rtcConfigOf, type WebrtcConfig } from './rtc-config';
import type { WhepSessionLog } from './whep-session';
import { startWhipSession, type WhipSession } from './whip-session';

export interface WhipServiceDeps {
  /** The ingest's intake; null when this process has no ingest role (every offer is then a 503). */
  intake: PublishIntake | null;
  log: WhepSessionLog;
  /** Other WebRTC sessions of the process (WHEP viewers), counted against `maxSessions`. */
  otherSessions?: () => number;
}

export interface WhipServiceConfig extends WebrtcConfig {
  gatherTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export const DEFAULT_WHIP_TIMINGS = { gatherTimeoutMs: 2000, connectTimeoutMs: 15000, idleTimeoutMs: 10000 };

export interface WhipAnswer {
  id: string;
  answer: string;
}

export interface WhipService {
  whip(channel: string, offerSdp: unknown, opts: { authorization: string | undefined; address: string; port: number }): Promise<WhipAnswer>;
  endWhip(channel: string, id: string): boolean;
  /** Trickled candidates (PATCH); 404 for an unknown session. */
  trickle(channel: string, id: string, fragment: string): void;
  sessions(): number;
  close(): Promise<void>;
}

/** Pure: the bearer token of an Authorization header; null when there is none (or another scheme). */
export function bearerToken(header: string | undefined): string | null {
  if (typeof header !== 'string' || header.length > 1024) return null;
  const m = /^Bearer[ ]+([\x21-\x7e]{1,512})\s*$/i.exec(header);
  return m ? (m[1] as string) : null;
}

export function createWhipService(deps: WhipServiceDeps, config: WhipServiceConfig): WhipService {
  const { intake, log } = deps;
  const rtc = rtcConfigOf(config);
  const sessions = new Map<string, WhipSession>();
  let closing = false;

  return {
    async whip(channel, offerSdp, opts) {
      if (closing) throw new BeamError('BEAM_ERR_UNAVAILABLE', 'Shutting down.');
      if (!intake) throw new BeamError('BEAM_ERR_UNAVAILABLE', 'WHIP is served by processes that run both the engine and the ingest roles; this one has no ingest.');
      if (!CHANNEL_NAME.test(channel)) throw notFound(`Channel '${channel}' was not found.`);
      const offer = parseOffer(offerSdp);
      if (sessions.size + (deps.otherSessions?.() ?? 0) >= config.maxSessions) {
        throw new BeamError('BEAM_ERR_UNAVAILABLE', `This server holds its maximum of ${config.maxSessions} WebRTC sessions.`);
      }
      const admitted = await intake.admit(channel, bearerToken(opts.authorization), { address: opts.address, port: opts.port });
      if (!admitted.ok) {
        const code = admitted.status === 401 ? 'BEAM_ERR_UNAUTHORIZED' : admitted.status === 403 ? 'BEAM_ERR_FORBIDDEN' : admitted.status === 404 ? 'BEAM_ERR_NOT_FOUND' : 'BEAM_ERR_UNAVAILABLE';
        throw new BeamError(code, admitted.message);
      }
      if (closing) throw new BeamError('BEAM_ERR_UNAVAILABLE', 'Shutting down.');
      const peer = `${opts.address}:${opts.port}`;
      const { session, answer } = await startWhipSession(
        { log },
        { rtc, gatherTimeoutMs: config.gatherTimeoutMs, connectTimeoutMs: config.connectTimeoutMs, idleTimeoutMs: config.idleTimeoutMs },
        channel, peer, offer, offerSdp as string,
      );
      sessions.set(session.id, session);
      let ended = false;
      void session.closed.then((reason) => {
        ended = true;
        sessions.delete(session.id);
        log.info({ channel, session: session.id, reason, ...session.stats() }, 'WHIP publisher left');
      });
      // The publish starts (and replaces the channel's current publisher) once media can flow: an offer whose
      // ICE never connects leaves the channel as it was.
      void session.connected.then(() => {
        if (!ended && !closing) intake.publish(channel, session.source, admitted.requestId);
      });
      return { id: session.id, answer };
    },
    endWhip(channel, id) {
      const s = sessions.get(id);
      if (!s || s.channel !== channel) return false;
      s.close('ended by the publisher (DELETE)');
      return true;
    },
    trickle(channel, id, fragment) {
      const s = sessions.get(id);
      if (!s || s.channel !== channel) throw notFound(`No WHIP session '${id}' on channel '${channel}'.`);
      for (const { candidate, mid } of trickleCandidates(fragment)) {
        try {
          s.addRemoteCandidate(candidate, mid);
        } catch {
          // a malformed candidate is ignored
        }
      }
    },
    sessions: () => sessions.size,
    async close() {
      closing = true;
      for (const s of sessions.values()) s.close('server shutting down');
    },
  };
}
