// Beamline viewer: hls.js (LL-HLS on by default) with a quality menu, a closed-caption (CC) menu, a latency readout from
// PROGRAM-DATE-TIME, a DVR scrubber, start-over, go-live, catch-up by time, clear offline / not found /
// ended messages, and hls.js's documented error recovery. GPL-3.0-or-later.
//
// Query: channel=<name> (required), start=&end= (epoch seconds or ISO-8601, passed to the manifest),
// ll=0 turns LL-HLS off, rt=1 plays in real time over WebRTC (WHEP) and falls back to LL-HLS when WebRTC fails,
// debug=1 logs hls.js to the console, token=<playback token> plays a private channel (passed to the manifest and WHEP). `window.beamPlayer` exposes the state for diagnostics and tests.

import { playWhep } from './webrtc.js';
import { epochToLocalInput, followLiveEdge, formatClock, hlsConfig, isChannelName, levelLabel, localInputToEpoch, manifestUrl, switchLevelInSegment, timeParamToMs } from './util.js';

const $ = (id) => document.getElementById(id);
const ui = {
  title: $('title'), badge: $('badge'), stage: $('stage'), video: $('video'), message: $('message'),
  messageText: $('message-text'), retry: $('retry'), play: $('play'), mute: $('mute'), scrubber: $('scrubber'),
  position: $('position'), golive: $('golive'), startover: $('startover'), quality: $('quality'), audio: $('audio'), audioChoice: $('audio-choice'), captions: $('captions'),
  fullscreen: $('fullscreen'), realtime: $('realtime'), latency: $('latency'), level: $('level'), buffer: $('buffer'), mode: $('mode'),
  catchup: $('catchup'), from: $('from'), to: $('to'),
};

const params = new URLSearchParams(location.search);
const RECOVERY = { windowMs: 60000, maxNetwork: 6, maxMedia: 3, mediaGapMs: 3000 };

/** Everything the page knows; exposed as window.beamPlayer. */
const state = {
  channel: params.get('channel'),
  start: params.get('start'),
  end: params.get('end'),
  token: params.get('token'),
  lowLatency: params.get('ll') !== '0',
  realtime: params.get('rt') === '1',
  /** 'webrtc' or 'hls' once playing; why WebRTC was given up, if it was. */
  transport: null,
  realtimeFailed: null,
  rtc: null,
  info: null,
  hls: null,
  phase: 'init', // init | offline | notfound | loading | playing | ended | error
  fatalErrors: [],
  errors: [],
  recoveries: [],
  levelSwitches: [],
  stalls: 0,
  playingSince: null,
  lastMediaRecover: 0,
  lastCodecSwap: 0,
  seeking: false,
  pinStart: false,
  /** The caption track the viewer chose (its label and language), kept across reloads; null: captions off. */
  captionChoice: null,
  timers: new Set(),
};
window.beamPlayer = state;

function mode() {
  if (!state.start) return 'live';
  return state.end ? 'catchup' : 'startover';
}

function later(fn, ms) {
  const t = setTimeout(() => {
    state.timers.delete(t);
    fn();
  }, ms);
  state.timers.add(t);
  return t;
}

function clearTimers() {
  for (const t of state.timers) clearTimeout(t);
  state.timers.clear();
}

function setBadge(text, kind) {
  ui.badge.textContent = text;
  ui.badge.className = `badge ${kind}`;
}

/** Show a message over the video; kind: offline | notfound | ended | error | nochannel | info. */
function showMessage(kind, text, { retry = false } = {}) {
  ui.message.hidden = false;
  ui.message.dataset.kind = kind;
  ui.messageText.textContent = text;
  ui.retry.hidden = !retry;
}

function hideMessage() {
  ui.message.hidden = true;
  delete ui.message.dataset.kind;
}

/** GET /api/channels/<name>: {status: 'ok', channel} | {status: 'notfound'} | {status: 'unreachable', detail}. */
async function fetchChannel() {
  try {
    const res = await fetch(`/api/channels/${encodeURIComponent(state.channel)}`, { cache: 'no-store' });
    if (res.status === 404) return { status: 'notfound' };
    if (!res.ok) return { status: 'unreachable', detail: `HTTP ${res.status}` };
    return { status: 'ok', channel: await res.json() };
  } catch (e) {
    return { status: 'unreachable', detail: e.message };
  }
}

function destroyHls() {
  if (state.rtc) {
    state.rtc.close();
    state.rtc = null;
    ui.video.srcObject = null;
  }
  state.stopFollowing?.();
  state.stopFollowing = null;
  state.cancelSwitch?.();
  state.cancelSwitch = null;
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
}

/** Decide what to do from the channel's record: play, wait for it, or say it does not exist. */
async function boot() {
  clearTimers();
  if (!state.channel) {
    state.phase = 'nochannel';
    showMessage('nochannel', 'No channel chosen: open /player/?channel=<name>, or pick one on the dashboard.');
    setBadge('no channel', 'idle');
    return;
  }
  if (!isChannelName(state.channel)) {
    state.phase = 'notfound';
    showMessage('notfound', `“${state.channel}” is not a valid channel name.`);
    setBadge('not found', 'error');
    return;
  }
  ui.title.textContent = state.channel;
  document.title = `${state.channel} · Beamline`;
  const r = await fetchChannel();
  if (r.status === 'notfound') {
    state.phase = 'notfound';
    destroyHls();
    showMessage('notfound', `Channel “${state.channel}” was not found. Check the link, or create it on the dashboard.`);
    setBadge('not found', 'error');
    return;
  }
  if (r.status === 'unreachable') {
    showMessage('error', `Cannot reach the server (${r.detail}). Retrying…`);
    later(boot, 3000);
    return;
  }
  state.info = r.channel;
  if (mode() === 'live' && state.info.state === 'idle') {
    state.phase = 'offline';
    destroyHls();
    showMessage('offline', `Channel “${state.channel}” is offline. Playback starts by itself when the broadcast begins.`);
    setBadge('offline', 'idle');
    later(boot, 3000);
    return;
  }
  load();
}

function load() {
  destroyHls();
  state.phase = 'loading';
  state.playingSince = null;
  state.pinStart = mode() !== 'live';
  showMessage('info', mode() === 'live' ? 'Connecting…' : 'Loading the recording…');
  if (mode() === 'live' && state.realtime && !state.realtimeFailed && window.RTCPeerConnection) return loadRealtime();
  state.transport = 'hls';
  const url = manifestUrl(state.channel, { start: state.start, end: state.end, token: state.token });
  ui.mode.textContent = { live: (state.lowLatency ? 'live · LL-HLS' : 'live · HLS') + (state.realtimeFailed ? ' (WebRTC failed)' : ''), startover: 'start-over', catchup: 'catch-up' }[mode()];
  setBadge(mode() === 'live' ? 'live' : mode(), mode() === 'live' ? 'live' : 'dvr');
  const Hls = window.Hls;
  if (Hls && Hls.isSupported()) {
    const timelineController = captionTimeline(Hls);
    const hls = new Hls({
      ...hlsConfig({ lowLatency: state.lowLatency, startPosition: mode() === 'live' ? -1 : 0, debug: params.get('debug') === '1' }),
      ...(timelineController ? { timelineController } : {}),
    });
    state.hls = hls;
    wireHls(hls, Hls);
    if (mode() === 'live' && state.lowLatency) state.stopFollowing = followLiveEdge(hls, ui.video, Hls);
    hls.attachMedia(ui.video);
    hls.loadSource(url);
  } else if (ui.video.canPlayType('application/vnd.apple.mpegurl')) {
    ui.video.src = url; // Safari plays HLS natively
    ui.quality.disabled = true;
  } else {
    state.phase = 'error';
    showMessage('error', 'This browser cannot play HLS (no Media Source Extensions).');
    return;
  }
  void ui.video.play().catch(() => undefined);
  later(checkChannel, 5000);
}

/** Real-time mode: WHEP; any failure (refused, no media in time, connection lost) falls back to LL-HLS. */
async function loadRealtime() {
  state.transport = 'webrtc';
  ui.mode.textContent = 'live · real-time (WebRTC)';
  ui.quality.disabled = true;
  setBadge('live', 'live');
  const fallBack = (reason) => {
    if (state.transport !== 'webrtc') return;
    state.realtimeFailed = reason;
    state.errors.push({ type: 'webrtc', details: reason });
    load();
  };
  try {
    const rtc = await playWhep(ui.video, state.channel, { onFail: fallBack, token: state.token });
    if (state.transport !== 'webrtc') return rtc.close();
    state.rtc = rtc;
    ui.level.textContent = rtc.rendition;
    ui.latency.textContent = 'real-time';
    later(checkChannel, 5000);
  } catch (e) {
    fallBack(e.message);
  }
}

function wireHls(hls, Hls) {
  const E = Hls.Events;
  hls.on(E.MANIFEST_PARSED, (_e, data) => fillQualityMenu(data.levels));
  hls.on(E.AUDIO_TRACKS_UPDATED, (_e, data) => fillAudioMenu(data.audioTracks, hls.audioTrack));
  hls.on(E.AUDIO_TRACK_SWITCHED, (_e, data) => (ui.audio.value = String(data.id)));
  hls.on(E.LEVEL_SWITCHED, (_e, data) => {
    state.levelSwitches.push({ level: data.level, at: Date.now(), time: ui.video.currentTime });
    showLevel();
  });
  hls.on(E.ERROR, (_e, data) => onHlsError(hls, Hls, data));
}

function onHlsError(hls, Hls, data) {
  const summary = { type: data.type, details: data.details, fatal: data.fatal, code: data.response?.code ?? null, at: Date.now() };
  state.errors.push(summary);
  if (state.errors.length > 50) state.errors.shift();
  if (!data.fatal) return;
  const now = Date.now();
  const recent = state.recoveries.filter((r) => now - r.at < RECOVERY.windowMs);
  if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    // The manifest is gone or refused: the channel may have ended or been deleted; ask the channel API.
    const code = data.response?.code;
    // A private channel refused the token (none, expired, another channel's): retrying cannot help.
    if (code === 403) {
      return giveUp(summary, state.token
        ? 'This private channel refused the playback token (expired or not valid for it): open the player with a new token.'
        : 'This channel is private: open the player with a playback token (&token=…).');
    }
    if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && (code === 404 || code === 400 || code === 410)) {
      if (mode() !== 'live' && code === 400) return giveUp(summary, 'This catch-up range is not available (outside the DVR window, or in the future).');
      destroyHls();
      later(boot, 1000);
      return;
    }
    if (recent.filter((r) => r.kind === 'network').length < RECOVERY.maxNetwork) {
      const n = recent.filter((r) => r.kind === 'network').length;
      state.recoveries.push({ kind: 'network', at: now });
      showMessage('info', 'Network trouble: reconnecting…');
      later(() => state.hls === hls && hls.startLoad(), Math.min(8000, 500 * 2 ** n));
      return;
    }
    return giveUp(summary, 'The stream cannot be loaded (network errors keep coming).');
  }
  if (data.type === Hls.ErrorTypes.MEDIA_ERROR && recent.filter((r) => r.kind === 'media').length < RECOVERY.maxMedia) {
    state.recoveries.push({ kind: 'media', at: now });
    if (now - state.lastMediaRecover > RECOVERY.mediaGapMs) {
      state.lastMediaRecover = now;
      hls.recoverMediaError();
      return;
    }
    if (now - state.lastCodecSwap > RECOVERY.mediaGapMs) {
      state.lastCodecSwap = now;
      hls.swapAudioCodec();
      hls.recoverMediaError();
      return;
    }
  }
  giveUp(summary, 'Playback failed and could not be recovered.');
}

function giveUp(summary, text) {
  state.fatalErrors.push(summary);
  state.phase = 'error';
  destroyHls();
  showMessage('error', `${text} (${summary.details})`, { retry: true });
  setBadge('error', 'error');
}

/** While playing live: notice the channel going idle (ended) or deleted (not found). */
async function checkChannel() {
  if (!state.hls && !state.rtc && state.phase !== 'playing') return;
  const r = await fetchChannel();
  if (r.status === 'notfound') return boot();
  if (r.status === 'ok') {
    state.info = r.channel;
    if (mode() === 'live' && r.channel.state === 'idle' && (state.rtc || bufferAhead() < 0.5)) return ended('The broadcast has ended.');
    if (r.channel.state === 'reconnecting') setBadge('reconnecting', 'warn');
    else if (mode() === 'live') setBadge('live', 'live');
  }
  later(checkChannel, 5000);
}

function ended(text) {
  state.phase = 'ended';
  destroyHls();
  showMessage('ended', text);
  setBadge('ended', 'idle');
  if (mode() === 'live') later(boot, 5000); // comes back by itself when the channel goes live again
}

/** The audio menu: one entry per language the channel carries (shown only when there are several). */
function fillAudioMenu(tracks, current) {
  ui.audio.replaceChildren(...tracks.map((t, i) => new Option(t.name || t.lang || `Audio ${i + 1}`, String(i))));
  ui.audio.value = String(current >= 0 ? current : 0);
  ui.audioChoice.hidden = tracks.length < 2;
}

function fillQualityMenu(levels) {
  ui.quality.replaceChildren(new Option('Auto', '-1'));
  levels
    .map((l, i) => ({ l, i }))
    .sort((a, b) => (b.l.height || 0) - (a.l.height || 0) || (b.l.bitrate || 0) - (a.l.bitrate || 0))
    .forEach(({ l, i }) => ui.quality.append(new Option(levelLabel(l), String(i))));
  ui.quality.value = '-1';
  ui.quality.disabled = levels.length < 1;
}

/**
 * hls.js (1.7) resets its CEA-608 decoders whenever a main fragment does not follow the last one, and its test
 * takes the next LL-HLS part of the same segment for a jump (`sn !== lastSn + 1` holds for it), so near the live
 * edge, where it loads parts, every caption loaded over more than one part (a pop-on caption takes about half a
 * second) was lost. Its caption controller with the contiguity test corrected: a later part of the same
 * segment, or the next segment, in the same discontinuity, keep the decoders.
 */
function captionTimeline(Hls) {
  const Base = Hls.DefaultConfig && Hls.DefaultConfig.timelineController;
  if (typeof Base !== 'function') return null;
  return class ContiguousPartsTimeline extends Base {
    onFragLoading(event, data) {
      if (!this.enabled || data.frag.type !== 'main') return;
      const { cc, sn } = data.frag;
      const part = data.part ? data.part.index : -1;
      // Forward within the segment or into the next one: a part hls.js took from a preload hint announces no
      // loading of its own, so a step of more than one part is no jump.
      const next = cc === this.lastCc && ((sn === this.lastSn && part > this.lastPartIndex) || sn === this.lastSn + 1);
      if (!next && this.cea608Parser1 && this.cea608Parser2) {
        this.cea608Parser1.reset();
        this.cea608Parser2.reset();
      }
      this.lastCc = cc;
      this.lastSn = sn;
      this.lastPartIndex = part;
    }
  };
}

/**
 * The CC menu: the video's caption tracks (hls.js makes one per CEA-608 channel found in the video, named from
 * the playlist's CLOSED-CAPTIONS entries), Off first. A chosen track is `showing`; the others stay `hidden`, so
 * hls.js keeps filling their cues and a later choice shows the current caption at once.
 */
function captionTracks() {
  return [...ui.video.textTracks].filter((t) => t.kind === 'captions' || t.kind === 'subtitles');
}

function captionKey(t) {
  return `${t.label}|${t.language}`;
}

function fillCaptionsMenu() {
  const tracks = captionTracks();
  ui.captions.replaceChildren(new Option('Off', ''));
  tracks.forEach((t, i) => ui.captions.append(new Option(t.label || t.language || `Captions ${i + 1}`, String(i))));
  const chosen = tracks.findIndex((t) => state.captionChoice !== null && captionKey(t) === state.captionChoice);
  tracks.forEach((t, i) => (t.mode = i === chosen ? 'showing' : 'hidden'));
  ui.captions.value = chosen >= 0 ? String(chosen) : '';
  ui.captions.disabled = tracks.length === 0;
}

function chooseCaptions(value) {
  const t = value === '' ? null : captionTracks()[Number(value)];
  state.captionChoice = t ? captionKey(t) : null;
  fillCaptionsMenu();
}

function showLevel() {
  const hls = state.hls;
  if (!hls || hls.currentLevel < 0) return;
  const l = hls.levels[hls.currentLevel];
  ui.level.textContent = l ? `${levelLabel(l)}${hls.autoLevelEnabled ? ' (auto)' : ''}` : '–';
}

function bufferAhead() {
  const v = ui.video;
  for (let i = 0; i < v.buffered.length; i++) {
    if (v.buffered.start(i) <= v.currentTime + 0.1 && v.currentTime < v.buffered.end(i)) return v.buffered.end(i) - v.currentTime;
  }
  return 0;
}

function seekableRange() {
  const s = ui.video.seekable;
  if (!s || s.length === 0) return null;
  return { from: s.start(0), to: s.end(s.length - 1) };
}

/** Refresh readouts: latency from PROGRAM-DATE-TIME, scrubber, position, buffer. */
function tick() {
  const hls = state.hls;
  const v = ui.video;
  const playingDate = hls?.playingDate;
  if (playingDate && Number.isFinite(playingDate.getTime())) {
    const behind = (Date.now() - playingDate.getTime()) / 1000;
    ui.latency.textContent = mode() === 'live' ? `${behind.toFixed(1)} s` : `${behind.toFixed(1)} s behind now`;
    ui.latency.title = `Playing ${playingDate.toLocaleTimeString()} (PROGRAM-DATE-TIME)` + (hls.latency ? ` · ${hls.latency.toFixed(1)} s from the playlist edge` : '');
  } else if (hls && hls.latency > 0) {
    ui.latency.textContent = `${hls.latency.toFixed(1)} s`;
  }
  ui.buffer.textContent = `${bufferAhead().toFixed(1)} s`;
  const range = seekableRange();
  if (range) {
    ui.scrubber.min = String(range.from);
    ui.scrubber.max = String(range.to);
    if (!state.seeking) ui.scrubber.value = String(v.currentTime);
    const edge = hls?.liveSyncPosition ?? range.to;
    const atLive = mode() === 'live' && edge - v.currentTime < Math.max(3, (hls?.targetLatency ?? 3) + 1.5);
    ui.position.textContent = mode() === 'live' ? (atLive ? 'LIVE' : formatClock(v.currentTime - edge)) : formatClock(v.currentTime - range.from);
    ui.golive.classList.toggle('at-live', atLive);
  }
  ui.play.textContent = v.paused ? 'Play' : 'Pause';
  ui.mute.textContent = v.muted ? 'Unmute' : 'Mute';
}

/** Start-over: from the oldest moment the channel keeps (its DVR window), as an EVENT playlist. */
function startOver() {
  const ch = state.info;
  const nowS = Math.floor(Date.now() / 1000);
  const created = ch?.createdAt ? Math.floor(Date.parse(ch.createdAt) / 1000) : nowS - 3600;
  const dvr = ch?.dvrWindowSeconds ?? 3600;
  navigate({ start: String(Math.max(created, nowS - dvr + 5)), end: null });
}

function goLive() {
  if (mode() !== 'live') return navigate({ start: null, end: null });
  const hls = state.hls;
  const range = seekableRange();
  const edge = hls?.liveSyncPosition ?? range?.to;
  if (edge !== null && edge !== undefined) ui.video.currentTime = edge;
  void ui.video.play().catch(() => undefined);
}

/** Change start/end, keep the address bar in step, reload. */
function navigate({ start, end }) {
  state.start = start;
  state.end = end;
  const q = new URLSearchParams({ channel: state.channel });
  if (start) q.set('start', start);
  if (end) q.set('end', end);
  if (!state.lowLatency) q.set('ll', '0');
  if (state.token) q.set('token', state.token);
  history.replaceState(null, '', `?${q}`);
  state.recoveries = [];
  // Stop the current playback at once: until boot() has asked the channel API, nothing (the page, a
  // test, the readouts) may take the old player's position for the new mode's.
  destroyHls();
  state.phase = 'loading';
  state.playingSince = null;
  void boot();
}

function wireUi() {
  const v = ui.video;
  v.addEventListener('playing', () => {
    // Start-over and catch-up begin at the playlist's start. hls.js may still start an EVENT playlist
    // near its live edge (its alternate-audio controller picks the edge): pull it back once.
    if (state.pinStart) {
      state.pinStart = false;
      const range = seekableRange();
      if (range && v.currentTime - range.from > 3) {
        v.currentTime = range.from;
        return;
      }
    }
    if (state.playingSince === null) state.playingSince = Date.now();
    state.phase = 'playing';
    hideMessage();
  });
  v.addEventListener('waiting', () => {
    if (state.playingSince !== null) state.stalls++;
  });
  v.addEventListener('ended', () => ended(mode() === 'catchup' ? 'End of the requested time range.' : 'The broadcast has ended.'));
  ui.play.addEventListener('click', () => (v.paused ? void v.play().catch(() => undefined) : v.pause()));
  ui.mute.addEventListener('click', () => (v.muted = !v.muted));
  ui.scrubber.addEventListener('input', () => (state.seeking = true));
  ui.scrubber.addEventListener('change', () => {
    state.seeking = false;
    v.currentTime = Number(ui.scrubber.value);
  });
  v.textTracks.addEventListener('addtrack', fillCaptionsMenu);
  v.textTracks.addEventListener('removetrack', fillCaptionsMenu);
  ui.captions.addEventListener('change', () => chooseCaptions(ui.captions.value));
  ui.golive.addEventListener('click', goLive);
  ui.startover.addEventListener('click', startOver);
  ui.audio.addEventListener('change', () => {
    if (state.hls) state.hls.audioTrack = Number(ui.audio.value);
  });
  ui.quality.addEventListener('change', () => {
    const level = Number(ui.quality.value);
    if (!state.hls) return;
    // loadLevel switches without flushing the buffer, handed over early in a segment so that hls.js does not load
    // the new level's segment again part by part up to the buffer end: no stall.
    state.cancelSwitch?.();
    state.cancelSwitch = switchLevelInSegment(state.hls, window.Hls, level);
  });
  ui.realtime.textContent = state.realtime ? 'LL-HLS' : 'Real-time';
  ui.realtime.title = state.realtime ? 'Play over LL-HLS' : 'Real-time playback over WebRTC (falls back to LL-HLS)';
  ui.realtime.addEventListener('click', () => {
    const q = new URLSearchParams(location.search);
    if (state.realtime) q.delete('rt');
    else q.set('rt', '1');
    q.delete('start');
    q.delete('end');
    location.search = q.toString();
  });
  ui.fullscreen.addEventListener('click', () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void ui.stage.requestFullscreen?.().catch(() => undefined);
  });
  ui.retry.addEventListener('click', () => {
    state.recoveries = [];
    void boot();
  });
  ui.catchup.addEventListener('submit', (e) => {
    e.preventDefault();
    const from = localInputToEpoch(ui.from.value);
    const to = localInputToEpoch(ui.to.value);
    if (from === null) return;
    if (to !== null && to <= from) {
      showMessage('error', '“To” must be after “From”.');
      return;
    }
    navigate({ start: String(from), end: to === null ? null : String(to) });
  });
  const from = timeParamToMs(state.start);
  const to = timeParamToMs(state.end);
  ui.from.value = epochToLocalInput(from ?? Date.now() - 10 * 60000);
  if (to !== null) ui.to.value = epochToLocalInput(to);
  setInterval(tick, 250);
}

wireUi();
void boot();
