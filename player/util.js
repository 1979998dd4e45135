// Small pure helpers shared by the viewer and the dashboard. GPL-3.0-or-later.

// A copy of CHANNEL_NAME in core/model/channel.ts (the source of truth; test/unit/player/channel-name.test.ts holds them equal).
export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Is `name` a valid channel name (the server's rule)? */
export function isChannelName(name) {
  return typeof name === 'string' && CHANNEL_NAME.test(name);
}

/** The multivariant URL for a channel, passing catch-up `start`/`end` through. */
export function manifestUrl(channel, { start, end, token } = {}) {
  const q = new URLSearchParams();
  if (start) q.set('start', start);
  if (end) q.set('end', end);
  // A private channel's playback token: the server carries it on into every URL of the playlists.
  if (token) q.set('token', token);
  const qs = q.toString();
  return `/live/${encodeURIComponent(channel)}/master.m3u8${qs ? `?${qs}` : ''}`;
}

/** "1280×720 · 2.5 Mbps" for an hls.js level. */
export function levelLabel(level) {
  const size = level.height ? `${level.height}p` : level.name || 'source';
  const dims = level.width && level.height ? ` ${level.width}×${level.height}` : '';
  const rate = level.bitrate ? ` · ${formatBitrate(level.bitrate / 1000)}` : '';
  return `${size}${dims}${rate}`;
}

export function formatBitrate(kbps) {
  if (!Number.isFinite(kbps)) return '–';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${Math.round(kbps)} kbps`;
}

/** "-1:05" behind live, or "0:42" from the start. */
export function formatClock(seconds) {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  const body = h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  return seconds < 0 ? `-${body}` : body;
}

/** A datetime-local input value (local time) to epoch seconds, or null. */
export function localInputToEpoch(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** Epoch ms to a datetime-local input value in local time. */
export function epochToLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
}

/** Text content safely: build elements without innerHTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** A start/end query value (epoch seconds or ISO-8601) to epoch ms, or null. */
export function timeParamToMs(value) {
  if (!value) return null;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * hls.js settings for Beamline's streams (the latency bench's page uses these too). LL-HLS when `lowLatency`.
 * A stall raises hls.js's target latency by a third of a second (one part) instead of its default second, and
 * when playback has fallen behind the target it runs up to 1.25× (pitch kept) until it is back: without that,
 * one stall at start-up leaves a viewer a second further from live for the rest of the session. hls.js only
 * does so with more than a second buffered ahead, which a stream played a second behind live never has, and
 * it resets any other rate: its own is off (maxLiveSyncPlaybackRate 1) and `followLiveEdge` below does it.
 */
export function hlsConfig({ lowLatency, startPosition = -1, debug = false }) {
  return {
    lowLatencyMode: lowLatency,
    liveSyncOnStallIncrease: 0.33,
    maxLiveSyncPlaybackRate: 1,
    backBufferLength: 90,
    // A quality the viewer chose stays chosen through a load error (hls.js retries it); by default hls.js falls
    // back to Auto, and the menu then names a level that is no longer played (seen in the quality-switch e2e).
    preserveManualLevelOnError: true,
    startPosition,
    debug,
  };
}

/** Parts behind the newest one our player aims for with LL-HLS (the playlist's PART-HOLD-BACK is 3). */
export const LIVE_EDGE_PARTS = 2.5;

/**
 * The playback rate that brings LL-HLS playback back to its target latency (pure): 1× within `slack` seconds
 * of the target or with less than `minAhead` seconds buffered (speeding up would only stall), else faster in
 * proportion to the distance, at most `maxRate`.
 */
export function catchUpRate({ latency, target, ahead, maxRate = 1.25, slack = 0.05, minAhead = 0.15 }) {
  if (!(latency > 0) || !(target > 0) || !(ahead >= minAhead)) return 1;
  const behind = latency - target;
  if (behind <= slack + 1e-9) return 1;
  return Math.min(maxRate, Math.round((1.05 + behind * 0.2) * 100) / 100);
}

/**
 * The target latency after a quiet spell (pure): hls.js raises its target after every stall (by
 * `liveSyncOnStallIncrease`) and never lowers it, so one stall at start-up would keep a viewer that much further
 * from live for good. Once `quietMs` have passed without a stall (or since the last step back), the target comes
 * back one `step` (a part) towards `aim`; the quiet time asked for grows with the stalls seen so far
 * (`baseMs` each, at most `maxMs`), so a viewer whose network cannot hold the aim settles where it stalls no more.
 */
export function relaxedTarget({ target, aim, step, quietMs, stalls, baseMs = 10000, maxMs = 60000 }) {
  if (!(target > aim + 0.001) || !(step > 0)) return target;
  if (quietMs < Math.min(maxMs, baseMs * Math.max(1, stalls))) return target;
  return Math.max(aim, Math.round((target - step) * 1000) / 1000);
}

/**
 * Keeps an hls.js LL-HLS session near the live edge: aims `edgeParts` (default `LIVE_EDGE_PARTS`, at least 2)
 * parts behind the newest part, sets the playback rate from `catchUpRate` four times a second, and lowers a
 * target that stalls raised back towards the aim with `relaxedTarget` (`relax: false`: never).
 * Returns a function that stops it.
 */
export function followLiveEdge(hls, video, Hls, { maxRate = 1.25, edgeParts = LIVE_EDGE_PARTS, slack = 0.05, relax = true, now = () => Date.now() } = {}) {
  let aim = null;
  let step = 0;
  let stalls = 0;
  let since = 0;
  const onLevel = (_e, data) => {
    const d = data.details;
    if (aim !== null || !d || !d.live || !(d.partTarget > 0)) return;
    aim = Math.max(2 * d.partTarget, edgeParts * d.partTarget);
    step = d.partTarget;
    since = now();
    hls.targetLatency = aim;
  };
  const onError = (_e, data) => {
    if (data?.details !== Hls.ErrorDetails.BUFFER_STALLED_ERROR) return;
    stalls++;
    since = now();
  };
  hls.on(Hls.Events.LEVEL_LOADED, onLevel);
  hls.on(Hls.Events.ERROR, onError);
  const timer = setInterval(() => {
    if (video.paused || video.seeking) return;
    const target = hls.targetLatency;
    if (relax && aim !== null && target > 0) {
      const t = now();
      const next = relaxedTarget({ target, aim, step, quietMs: t - since, stalls });
      if (next < target) {
        hls.targetLatency = next;
        since = t;
      }
    }
    const b = video.buffered;
    const ahead = b.length ? b.end(b.length - 1) - video.currentTime : 0;
    const rate = catchUpRate({ latency: hls.latency, target: hls.targetLatency, ahead, maxRate, slack });
    if (video.playbackRate !== rate) video.playbackRate = rate;
  }, 250);
  return () => {
    clearInterval(timer);
    hls.off(Hls.Events.LEVEL_LOADED, onLevel);
    hls.off(Hls.Events.ERROR, onError);
    if (video.playbackRate !== 1) video.playbackRate = 1;
  };
}

/**
 * Whether hls.js's FRAG_LOADING or FRAG_LOADED data is a good moment to hand it a new level (pure): the second
 * part of a segment of the main playlist, or a whole segment (plain HLS, or hls.js loading whole segments while
 * far behind the edge).
 */
export function isSwitchPoint(data) {
  if (data?.frag?.type !== 'main') return false;
  return !data.part || data.part.index === 1;
}

/**
 * Hands a quality the viewer chose (an hls.js level index, -1 for Auto) to hls.js when it comes to the second part
 * of a segment, instead of at once. Every rendition's segments start with a keyframe, but a transcoded
 * rung's later parts are not independent, so on a switch hls.js loads the new level's segment again from its
 * first part up to the buffer end, one request per part: switched late in a segment, about ten requests while an
 * LL-HLS player kept near the live edge has half a second buffered, and it stalls (the player e2e saw 1.1–1.5 s
 * stalls on a loaded machine). Switched at a segment's very start, the buffer ends exactly on the boundary and
 * hls.js may take it for the end of the previous segment and load that whole segment again (seen on a loaded
 * machine). At the second part, only the segment's first part is loaded twice. Auto, and plain HLS, switch at
 * once; otherwise after `maxWaitMs` at the latest. Returns a function that cancels a switch still waiting.
 */
export function switchLevelInSegment(hls, Hls, level, { maxWaitMs = 6000, setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  const apply = () => {
    hls.loadLevel = level;
  };
  if (level < 0 || !hls.config?.lowLatencyMode) {
    apply();
    return () => undefined;
  }
  let done = false;
  const finish = (switchNow) => {
    if (done) return;
    done = true;
    hls.off(Hls.Events.FRAG_LOADING, onFragment);
    hls.off(Hls.Events.FRAG_LOADED, onFragment);
    clearTimer(timer);
    if (switchNow) apply();
  };
  const onFragment = (_e, data) => {
    if (isSwitchPoint(data)) finish(true);
  };
  hls.on(Hls.Events.FRAG_LOADING, onFragment);
  hls.on(Hls.Events.FRAG_LOADED, onFragment);
  const timer = setTimer(() => finish(true), maxWaitMs);
  return () => finish(false);
}

/** "4.0 GiB", "512 MiB" (1024-based, as BEAM_REDIS_MAXMEMORY is written). */
export function formatBinarySize(bytes) {
  if (!Number.isFinite(bytes)) return '–';
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)} MiB`;
  if (bytes >= 2 ** 10) return `${Math.round(bytes / 2 ** 10)} KiB`;
  return `${bytes} B`;
}

/** Redis use (GET /healthz `redis.usedRatio`) from which the dashboard warns. */
export const REDIS_MEMORY_WARN_RATIO = 0.8;

/**
 * The dashboard's warning for GET /healthz `redis` ({usedMemoryBytes, maxmemoryBytes, usedRatio}), or null
 * below REDIS_MEMORY_WARN_RATIO, without a limit, or without figures.
 */
export function redisMemoryWarning(redis) {
  const ratio = redis?.usedRatio;
  const max = redis?.maxmemoryBytes;
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || !(max > 0) || ratio < REDIS_MEMORY_WARN_RATIO) return null;
  return `Redis memory at ${Math.floor(ratio * 100)} % of its ${formatBinarySize(max)} limit: at 100 % new publishes are refused; ` +
    'shorten DVR windows or raise BEAM_REDIS_MAXMEMORY';
}
