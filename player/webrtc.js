// Beamline viewer's real-time mode: WHEP (POST an SDP offer to /live/<channel>/whep, play the answer's tracks,
// DELETE the session's Location when done). GPL-3.0-or-later.

/**
 * Plays a channel over WebRTC into `video`. Resolves with {close, rendition} once video plays; rejects with an
 * Error whose message says why (the server's JSON message, or a connection that did not come up within
 * `timeoutMs`). `onFail(reason)` is called if a connected session later fails.
 */
export async function playWhep(video, channel, { timeoutMs = 8000, onFail = () => undefined, token = null } = {}) {
  const pc = new RTCPeerConnection();
  let location = null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    pc.close();
    if (location) void fetch(location, { method: 'DELETE', keepalive: true }).catch(() => undefined);
  };
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      if (video.srcObject !== stream) video.srcObject = stream;
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 1000); // host candidates are enough on most networks; the server gathers its own
    });
    const res = await fetch(`/live/${encodeURIComponent(channel)}/whep${token ? `?token=${encodeURIComponent(token)}` : ''}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
    const body = await res.text();
    if (res.status !== 201) {
      let message = `HTTP ${res.status}`;
      try {
        message = JSON.parse(body).message || message;
      } catch {
        // not JSON
      }
      throw new Error(message);
    }
    location = res.headers.get('Location');
    const rendition = res.headers.get('Beam-Rendition') || 'source';
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no WebRTC media within ' + timeoutMs / 1000 + ' s')), timeoutMs);
      const watch = () => {
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
          clearTimeout(timer);
          reject(new Error(`WebRTC connection ${pc.connectionState}`));
        }
      };
      pc.addEventListener('connectionstatechange', watch);
      video.addEventListener('playing', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
      void video.play().catch(() => undefined);
    });
    pc.addEventListener('connectionstatechange', () => {
      if (!closed && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) {
        close();
        onFail(`WebRTC connection ${pc.connectionState}`);
      }
    });
    return { close, rendition, pc };
  } catch (e) {
    close();
    throw e;
  }
}
