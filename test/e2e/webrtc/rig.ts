/**
 * The in-process stack the WebRTC tests talk to: a real redis-server, store, channels, ingest (SRT + RTMP on
 * port 0), the channel API, the player pages, the packager's /live plugin and the WebRTC plugin (ICE bound to 127.0.0.1), on one
 * fastify app listening on 127.0.0.1 port 0.
 */

import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix } from '../../helpers/redis';
import { TEST_API_TOKEN, TEST_APP_CONFIG } from '../../helpers/app';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { findPagesDirs, pagesPlugin } from '../../../engine/api/pages';
import { createStore, type Store } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore } from '../../../core/store/live-store';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { livePlugin } from '../../../packager/live-plugin';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { createWebrtcService, DEFAULT_SERVICE_TIMINGS, type WebrtcService } from '../../../webrtc/webrtc-service';
import { isWhepWrite, webrtcPlugin } from '../../../webrtc/webrtc-plugin';
import { DEFAULT_WEBRTC_CONFIG } from '../../../webrtc/rtc-config';
import { createWhipService, DEFAULT_WHIP_TIMINGS, type WhipService } from '../../../webrtc/whip-service';

export interface Rig {
  baseUrl: string;
  srtPort: number;
  app: FastifyInstance;
  store: Store;
  channels: ChannelStore;
  ingest: IngestService;
  webrtc: WebrtcService;
  whip: WhipService;
  close(): Promise<void>;
}

export async function startRig(opts: { apiToken?: string } = {}): Promise<Rig> {
  const redis = await startTestRedis();
  const closers: (() => Promise<unknown>)[] = [() => redis.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const client = redis.connect();
    const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
    const channels = createChannelStore({ redis: client, keys: store.keys });
    const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
    const log = pino({ level: process.env.BEAM_LOG_LEVEL ?? 'silent' });
    const ingest = createIngestService(
      { store, live, channels, subscriber: redis.connect(), log },
      { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
    );
    await ingest.start();
    closers.push(() => ingest.close());
    const srtPort = ingest.srtPort() as number;
    const webrtc = createWebrtcService({ store, channels, log }, { ...DEFAULT_WEBRTC_CONFIG, ...DEFAULT_SERVICE_TIMINGS, host: '127.0.0.1', maxSessions: 8, maxSessionsPerAddress: 6 });
    const whip = createWhipService(
      { intake: ingest.intake, log, otherSessions: () => webrtc.sessions() },
      { ...DEFAULT_WEBRTC_CONFIG, ...DEFAULT_WHIP_TIMINGS, host: '127.0.0.1', maxSessions: 8 },
    );
    const app = await buildApp(
      {
        store,
        metrics: createEngineMetrics(undefined, false),
        isPublicWrite: isWhepWrite,
        privateMedia: { channel: (name) => channels.get(name) },
        plugins: [
          (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort, rtmpPort: ingest.rtmpPort() as number } }),
          (s) => pagesPlugin(s, findPagesDirs(__dirname)),
          (s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect() } }),
          (s) => webrtcPlugin(s, { service: webrtc, whip }),
        ],
      },
      { ...TEST_APP_CONFIG, apiToken: opts.apiToken ?? TEST_API_TOKEN },
    );
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return { baseUrl: `http://127.0.0.1:${port}`, srtPort, app, store, channels, ingest, webrtc, whip, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/**
 * Runs in the page: a WHEP viewer with RTCPeerConnection (recvonly video + audio), non-trickle (waits for ICE
 * gathering, at most 2 s), playing into a <video>. Sets window.whep = {status, location, rendition, error}.
 */
export const WHEP_VIEWER_JS = `
window.startWhep = async (url) => {
  const st = window.whep = { status: 0, location: null, rendition: null, error: null, pc: null };
  try {
    const pc = st.pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const v = document.getElementById('v') || Object.assign(document.body.appendChild(document.createElement('video')), { id: 'v', muted: true, autoplay: true, playsInline: true });
    pc.ontrack = (e) => { if (!v.srcObject) v.srcObject = new MediaStream(); v.srcObject.addTrack(e.track); v.play().catch(() => {}); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 2000); });
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
    st.status = res.status; st.location = res.headers.get('Location'); st.rendition = res.headers.get('Beam-Rendition');
    const text = await res.text();
    if (res.status !== 201) { st.error = text; return; }
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
  } catch (e) { st.error = String(e); }
};
window.whepStats = async () => {
  const pc = window.whep && window.whep.pc; if (!pc) return null;
  const out = { state: pc.connectionState, framesDecoded: 0, audioPackets: 0, width: 0, height: 0, nacks: 0, plis: 0 };
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') { out.framesDecoded = s.framesDecoded || 0; out.width = s.frameWidth || 0; out.height = s.frameHeight || 0; out.nacks = s.nackCount || 0; out.plis = s.pliCount || 0; }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioPackets = s.packetsReceived || 0;
  });
  return out;
};
`;
