/**
 * A WHIP publisher for tests and benches, built as OBS Studio's WHIP output is (libdatachannel via
 * node-datachannel): a PeerConnection with H.264 and Opus send tracks whose offer is sent after ICE gathering.
 * Its tracks take RTP another program makes (ffmpeg `-f rtp`), rewritten to the negotiated SSRC and payload type.
 */

import * as dgram from 'node:dgram';
import * as ndc from 'node-datachannel';
import { waitFor } from './process';
import { holdTrack } from '../../webrtc/rtc-lifetime';

export const WHIP_VIDEO_PT = 102;
export const WHIP_AUDIO_PT = 109;
const VIDEO_SSRC = 0x1234567;
const AUDIO_SSRC = 0x7654321;

export interface WhipClient {
  pc: ndc.PeerConnection;
  video: ndc.Track;
  audio: ndc.Track;
  offer: string;
  /**
   * UDP ports on loopback whose RTP goes into the tracks (opened by `forward()`). `delayVideoEvery`: every n-th
   * video packet is held back 30 ms (sent after later ones), as a network that reorders packets does.
   */
  forward(opts?: { delayVideoEvery?: number }): Promise<{ videoPort: number; audioPort: number }>;
  /** Stops forwarding and closes the connection (keep the object referenced until then). */
  close(): void;
}

/** A UDP socket whose RTP packets go into `track` with `ssrc` and `pt`; RTCP (ffmpeg sends it to port + 1) is dropped. */
async function forwarder(track: ndc.Track, ssrc: number, pt: number, delayEvery = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  let n = 0;
  const send = (pkt: Buffer) => {
    try {
      if (track.isOpen()) track.sendMessageBinary(pkt);
    } catch {
      // the track closed
    }
  };
  s.on('message', (m) => {
    if (m.length < 12 || m[0]! >> 6 !== 2 || (m[1]! >= 192 && m[1]! <= 223) || !track.isOpen()) return;
    const pkt = Buffer.from(m);
    pkt[1] = (pkt[1]! & 0x80) | pt;
    pkt.writeUInt32BE(ssrc, 8);
    if (delayEvery > 0 && ++n % delayEvery === 0) setTimeout(() => send(pkt), 30);
    else send(pkt);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

/** A client and its offer. Keep the returned object referenced: libdatachannel stops a track whose JS wrapper was collected. */
export async function whipClient(): Promise<WhipClient> {
  const pc = new ndc.PeerConnection('whip-client', { iceServers: [], bindAddress: '127.0.0.1', enableIceTcp: false });
  const v = new ndc.Video('0', 'SendOnly');
  v.addH264Codec(WHIP_VIDEO_PT, 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1');
  v.addSSRC(VIDEO_SSRC, 'client', 'stream', 'video');
  const video = holdTrack(pc.addTrack(v));
  const a = new ndc.Audio('1', 'SendOnly');
  a.addOpusCodec(WHIP_AUDIO_PT, 'minptime=10;useinbandfec=1');
  a.addSSRC(AUDIO_SSRC, 'client', 'stream', 'audio');
  const audio = holdTrack(pc.addTrack(a));
  const complete = new Promise<void>((resolve) => pc.onGatheringStateChange((s) => s === 'complete' && resolve()));
  pc.setLocalDescription();
  await complete;
  const offer = await waitFor('the client to gather ICE', async () => pc.localDescription()?.sdp, 10000);
  const sockets: dgram.Socket[] = [];
  return {
    pc, video, audio, offer,
    async forward(opts = {}) {
      const vs = await forwarder(video, VIDEO_SSRC, WHIP_VIDEO_PT, opts.delayVideoEvery ?? 0);
      const as = await forwarder(audio, AUDIO_SSRC, WHIP_AUDIO_PT);
      sockets.push(vs, as);
      return { videoPort: vs.address().port, audioPort: as.address().port };
    },
    close() {
      for (const s of sockets.splice(0)) s.close();
      pc.close(); // closes its tracks

    },
  };
}

/**
 * Offers to `<baseUrl>/whip/<channel>` with the key, applies the answer and waits for the tracks to open.
 * libdatachannel, with both peers in one busy process, now and then refuses a well-formed answer ("Got a
 * remote candidate without ICE transport", a known race of the library under contention; a real encoder is a
 * process of its own): the client then ends that session with DELETE and offers again, at most three times.
 * `check` sees each 201 answer first.
 */
export async function connectWhip(baseUrl: string, channel: string, key: string, check: (res: Response) => void = () => undefined): Promise<{ client: WhipClient; location: string; clients: WhipClient[] }> {
  const clients: WhipClient[] = [];
  for (let attempt = 1; ; attempt++) {
    const client = await whipClient();
    clients.push(client);
    const res = await fetch(`${baseUrl}/whip/${channel}`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: client.offer });
    if (res.status !== 201) throw new Error(`WHIP offer answered ${res.status}: ${await res.text()}`);
    check(res);
    const location = res.headers.get('location') ?? '';
    try {
      client.pc.setRemoteDescription(await res.text(), 'answer');
    } catch (e) {
      if (attempt >= 3 || !/without ICE transport/.test((e as Error).message)) throw e;
      await fetch(`${baseUrl}${location}`, { method: 'DELETE' });
      continue;
    }
    await waitFor('the WHIP tracks to open', async () => client.video.isOpen() && client.audio.isOpen(), 15000).catch((e: Error) => {
      // Where the connection stopped (ICE, DTLS), and what each side offered as candidates.
      const pc = client.pc;
      const candidates = (sdp: string | undefined) => (sdp ?? '').split(/\r?\n/).filter((l) => l.startsWith('a=candidate')).join(' | ');
      throw new Error(`${e.message} (attempt ${attempt}): connection ${pc.state()}, ICE ${pc.iceState()}, gathering ${pc.gatheringState()}, signaling ${pc.signalingState()}; video ${client.video.isOpen() ? 'open' : 'closed'}, audio ${client.audio.isOpen() ? 'open' : 'closed'}\n--- offered: ${candidates(client.offer)}\n--- answered: ${candidates(pc.remoteDescription()?.sdp)}`);
    });
    return { client, location, clients };
  }
}
