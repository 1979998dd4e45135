/**
 * The WebRTC role's state in one process: WHEP viewer sessions (bounded in number, overall and per address),
 * and one channel feed per played content shared by its viewers (closed a while after its last viewer leaves,
 * so a reconnecting viewer finds it warm). No state in Redis: a WHEP session lives in the process that
 * answered its POST, so a load balancer must send a session's DELETE/PATCH to the same process (its Location
 * is unique per process).
 */

import { BeamError, notFound } from '../core/model/errors';
import type { Store } from '../core/store/store';
import type { ChannelStore } from '../core/store/channel-store';
import { DEFAULT_FEED_CONFIG, openChannelFeed, type ChannelFeed, type ChannelFeedConfig } from './channel-feed';
import { parseOffer, trickleCandidates } from './sdp-offer';
import { rtcConfigOf, type WebrtcConfig } from './rtc-config';
import { releaseRtc } from './rtc-lifetime';
import { startWhepSession, type WhepSession, type WhepSessionLog } from './whep-session';
import { CHANNEL_NAME, renditionContent } from '../core/model/channel';

export interface WebrtcServiceDeps {
  store: Store;
  channels: ChannelStore;
  log: WhepSessionLog;
}

export interface WebrtcServiceConfig extends WebrtcConfig {
  /** Sessions one client address may hold. */
  maxSessionsPerAddress: number;
  gatherTimeoutMs: number;
  connectTimeoutMs: number;
  /** A feed with no viewer is kept this long, ms. */
  feedLingerMs: number;
  /** An offer for a channel whose publisher has connected but whose media is not stored yet waits this long for it, ms. */
  mediaWaitMs: number;
  feed: ChannelFeedConfig;
}

export interface WhepAnswer {
  id: string;
  answer: string;
  /** What is played: 'source' or the rung's name. */
  rendition: string;
  /** Why a rung was chosen over the source, if one was. */
  note: string | null;
}

export interface WebrtcService {
  whep(channel: string, offerSdp: unknown, opts: { rendition?: string; address: string }): Promise<WhepAnswer>;
  endWhep(channel: string, id: string): boolean;
  trickle(channel: string, id: string, fragment: string): void;
  sessions(): number;
  close(): Promise<void>;
}


export function createWebrtcService(deps: WebrtcServiceDeps, config: WebrtcServiceConfig): WebrtcService {
  const { store, channels, log } = deps;
  const rtc = rtcConfigOf(config);
  const sessions = new Map<string, { session: WhepSession; channel: string; address: string }>();
  const feeds = new Map<string, { feed: Promise<ChannelFeed>; linger: NodeJS.Timeout | null }>();
  let closing = false;

  function feedFor(content: string, audioContent: string): Promise<ChannelFeed> {
    const key = `${content}|${audioContent}`;
    let entry = feeds.get(key);
    if (!entry) {
      const feed = openChannelFeed({ store, log }, config.feed, content, audioContent);
      entry = { feed, linger: null };
      feeds.set(key, entry);
      feed.catch(() => feeds.delete(key));
    }
    if (entry.linger) clearTimeout(entry.linger);
    entry.linger = null;
    return entry.feed;
  }

  function release(content: string, audioContent: string): void {
    const key = `${content}|${audioContent}`;
    const entry = feeds.get(key);
    if (!entry) return;
    void entry.feed.then((f) => {
      if (f.subscribers() > 0 || entry.linger) return;
      entry.linger = setTimeout(() => {
        if (f.subscribers() > 0) return;
        f.close();
        feeds.delete(key);
      }, config.feedLingerMs);
      entry.linger.unref();
    }).catch(() => undefined);
  }

  /** Whether the content's format is stored, or is within `waitMs` (polled, so a waiting offer costs a GET per 100 ms). */
  async function formatWithin(content: string, waitMs: number): Promise<boolean> {
    const until = Date.now() + waitMs;
    for (;;) {
      if (await store.getFormat(content)) return true;
      if (closing || Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The content to play: the source, or a rung when asked for or when the source has B-frames. */
  async function choose(channel: string, rendition: string | undefined): Promise<{ content: string; rendition: string; note: string | null }> {
    const ch = await channels.get(channel);
    if (!ch) throw notFound(`Channel '${channel}' was not found.`);
    if ((await channels.status(channel)).state === 'idle') throw new BeamError('BEAM_ERR_CONFLICT', `Channel '${channel}' is not live.`);
    // A channel is live as soon as its publisher connects; its media (and what ingest learns of it, B-frames)
    // follows once the demuxer has probed the stream: an offer in that second waits for it, bounded.
    if (!(await formatWithin(channel, config.mediaWaitMs))) throw new BeamError('BEAM_ERR_CONFLICT', `Channel '${channel}' has a publisher but no media yet; offer again in a moment.`);
    const status = await channels.status(channel);
    if (status.state === 'idle') throw new BeamError('BEAM_ERR_CONFLICT', `Channel '${channel}' is not live.`);
    const rungs = ch.ladder.map((r) => r.name);
    if (rendition && rendition !== 'source') {
      if (!rungs.includes(rendition)) throw notFound(`Channel '${channel}' has no rung '${rendition}' (rungs: ${rungs.join(', ') || 'none'}).`);
      if (!(await store.getFormat(renditionContent(channel, rendition)))) throw new BeamError('BEAM_ERR_CONFLICT', `Rung '${rendition}' of channel '${channel}' has not been made yet.`);
      return { content: renditionContent(channel, rendition), rendition, note: null };
    }
    const ingest = status.ingest as { bFrames?: boolean } | null;
    if (ingest?.bFrames) {
      // Browsers' WebRTC H.264 decoders mishandle B-frames (frames shown out of order): play the first made rung.
      for (const r of rungs) {
        if (await store.getFormat(renditionContent(channel, r))) return { content: renditionContent(channel, r), rendition: r, note: `the source has B-frames; WebRTC plays rung ${r}` };
      }
      if (rendition === 'source') return { content: channel, rendition: 'source', note: 'the source has B-frames: expect judder' };
      throw new BeamError('BEAM_ERR_CONFLICT', `Channel '${channel}' has B-frames, which WebRTC players mishandle, and no transcoded rung yet: turn B-frames off in the encoder or add a ladder rung.`);
    }
    return { content: channel, rendition: 'source', note: null };
  }

  return {
    async whep(channel, offerSdp, opts) {
      if (closing) throw new BeamError('BEAM_ERR_UNAVAILABLE', 'Shutting down.');
      if (!CHANNEL_NAME.test(channel)) throw notFound(`Channel '${channel}' was not found.`);
      const offer = parseOffer(offerSdp);
      if (sessions.size >= config.maxSessions) throw new BeamError('BEAM_ERR_UNAVAILABLE', `This server holds its maximum of ${config.maxSessions} WebRTC sessions; play LL-HLS instead.`);
      let mine = 0;
      for (const s of sessions.values()) if (s.address === opts.address) mine++;
      if (mine >= config.maxSessionsPerAddress) throw new BeamError('BEAM_ERR_UNAVAILABLE', `This address holds its maximum of ${config.maxSessionsPerAddress} WebRTC sessions.`);
      const chosen = await choose(channel, opts.rendition);
      let feed: ChannelFeed;
      try {
        feed = await feedFor(chosen.content, channel);
      } catch (err) {
        throw new BeamError('BEAM_ERR_CONFLICT', `Channel '${channel}' cannot be played over WebRTC: ${(err as Error).message}.`);
      }
      let started: Awaited<ReturnType<typeof startWhepSession>>;
      try {
        started = await startWhepSession({ feed, log }, { rtc, gatherTimeoutMs: config.gatherTimeoutMs, connectTimeoutMs: config.connectTimeoutMs }, offer, offerSdp as string);
      } catch (err) {
        release(chosen.content, channel);
        throw err;
      }
      const { session, answer } = started;
      sessions.set(session.id, { session, channel, address: opts.address });
      void session.closed.then((reason) => {
        sessions.delete(session.id);
        release(chosen.content, channel);
        log.info({ channel, session: session.id, reason, ...session.stats() }, 'WHEP viewer left');
      });
      return { id: session.id, answer, rendition: chosen.rendition, note: chosen.note };
    },
    endWhep(channel, id) {
      const s = sessions.get(id);
      if (!s || s.channel !== channel) return false;
      s.session.close('viewer ended the session');
      return true;
    },
    trickle(channel, id, fragment) {
      const s = sessions.get(id);
      if (!s || s.channel !== channel) throw notFound(`No WebRTC session '${id}' on channel '${channel}'.`);
      for (const { candidate, mid } of trickleCandidates(fragment)) {
        try {
          s.session.addRemoteCandidate(candidate, mid);
        } catch {
          // a malformed candidate is ignored, as browsers do
        }
      }
    },
    sessions: () => sessions.size,
    async close() {
      closing = true;
      for (const s of sessions.values()) s.session.close('server shutting down');
      for (const [key, e] of feeds) {
        if (e.linger) clearTimeout(e.linger);
        void e.feed.then((f) => f.close()).catch(() => undefined);
        feeds.delete(key);
      }
      // libdatachannel's threads (ICE, DTLS, SRTP) outlive every closed connection and keep the process alive.
      releaseRtc();
    },
  };
}

export const DEFAULT_SERVICE_TIMINGS = { maxSessionsPerAddress: 20, gatherTimeoutMs: 2000, connectTimeoutMs: 15000, feedLingerMs: 10000, mediaWaitMs: 5000, feed: DEFAULT_FEED_CONFIG };
