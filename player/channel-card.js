// One channel on the dashboard: thumbnail, state, ingest health, encoder settings to copy, ladder
// editor and actions. Built once, then updated in place from each poll so open panels and edits stay.
// GPL-3.0-or-later.

import { el, formatBitrate } from './util.js';

const PROFILES = ['', 'baseline', 'main', 'high'];

async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // not a secure context (plain http on a LAN address): fall back to a selection copy
    const area = el('textarea', { readonly: true, style: 'position:fixed;opacity:0' }, text);
    document.body.append(area);
    area.select();
    ok = document.execCommand('copy');
    area.remove();
  }
  const was = button.textContent;
  button.textContent = ok ? 'Copied' : 'Select + copy';
  setTimeout(() => (button.textContent = was), 1200);
}

function fmtNum(v, digits = 0, unit = '') {
  return typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : '–';
}

function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Pure: the rows of paste-ready settings for a channel view from the API. */
export function settingsRows(ch) {
  const i = ch.ingest;
  const playback = ['Playback', [['HLS', ch.playback.hls, 'hls'], ['DASH', ch.playback.dash, 'dash'], ['Player', ch.playback.player, 'player']]];
  // The public view (no API token) has no key and no ingest URLs: only playback.
  if (!i) return [playback];
  const rows = [
    ['Any SRT encoder (ffmpeg, vMix…)', [['SRT URL', i.srt, 'srt']]],
    ['OBS Studio · SRT', [['Server', i.obs.srt.server, 'obs-srt-server'], ['Stream Key', i.obs.srt.streamKey, 'obs-srt-key']]],
    ['OBS Studio · RTMP', [['Server', i.obs.rtmp.server, 'obs-rtmp-server'], ['Stream Key', i.obs.rtmp.streamKey, 'obs-rtmp-key']]],
    ...(i.whip ? [['OBS Studio · WHIP (WebRTC)', [['Server', i.whip.url, 'whip-url'], ['Bearer Token', i.whip.bearerToken, 'whip-token']]]] : []),
    ['Larix Broadcaster · SRT', [
      ['URL', i.larix.url, 'larix-url'], ['Stream ID', i.larix.streamid, 'larix-streamid'],
      ...(i.larix.passphrase ? [['Passphrase', i.larix.passphrase, 'larix-passphrase']] : []),
      ['Latency', `${i.larix.latencyMs} ms`, 'larix-latency'], ['Mode', i.larix.srtMode, 'larix-mode'],
    ]],
    ['Encoder', [['Keyframe interval', `${i.obs.keyframeIntervalSeconds} s`, 'keyframe'], ['Codecs', i.whip ? 'H.264 + AAC (WHIP: H.264 + Opus, no B-frames)' : 'H.264 + AAC', 'codecs']]],
  ];
  const b = i.backup;
  if (b) {
    // A second encoder publishing the same channel as its backup (redundant publishers).
    rows.push(['Backup encoder · SRT / RTMP (ffmpeg…)', [['SRT URL', b.srt, 'backup-srt'], ['RTMP URL', b.rtmp, 'backup-rtmp']]]);
    rows.push(['Backup · OBS Studio', [
      ['SRT Server', b.obs.srt.server, 'backup-obs-srt-server'], ['SRT Stream Key', b.obs.srt.streamKey, 'backup-obs-srt-key'],
      ['RTMP Server', b.obs.rtmp.server, 'backup-obs-rtmp-server'], ['RTMP Stream Key', b.obs.rtmp.streamKey, 'backup-obs-rtmp-key'],
    ]]);
    rows.push(['Backup · Larix Broadcaster · SRT', [['URL', b.larix.url, 'backup-larix-url'], ['Stream ID', b.larix.streamid, 'backup-larix-streamid']]]);
  }
  rows.push(playback);
  return rows;
}

const HEALTH_TEXT = { healthy: 'healthy', stalled: 'no media', 'no-video': 'no video', starting: 'starting' };

/**
 * Pure: a channel's redundant inputs for the card (null until a backup has connected): one row per input
 * (protocol, health, on air) and the newest switches, newest first, each with its reason.
 */
export function inputRows(ch) {
  const r = ch.status && ch.status.redundancy;
  if (!r) return null;
  const input = (role) => {
    const i = r.inputs && r.inputs[role];
    if (!i) return [role === 'primary' ? 'Primary' : 'Backup', 'not connected', `input-${role}`];
    return [role === 'primary' ? 'Primary' : 'Backup', `${String(i.protocol).toUpperCase()} · ${HEALTH_TEXT[i.health] || i.health}${i.onAir ? ' · ON AIR' : ' · standby'}`, `input-${role}`];
  };
  const switches = (r.switches || []).slice(-5).reverse().map((s) => `${s.from} → ${s.to}: ${s.reason} (${ago(s.at)})`);
  return { onAir: r.onAir, rows: [input('primary'), input('backup'), ['Switches', String(r.switchCount ?? 0), 'switches']], switches };
}

function healthItems(ch) {
  const st = ch.status || {};
  const ing = ch.state === 'idle' ? null : st.ingest;
  const srt = ing && ing.srt;
  const kf = ing ? ing.keyframeIntervalSeconds : null;
  return [
    ['Bitrate', ing ? formatBitrate(ing.bitrateKbps) : '–', 'bitrate'],
    ['Frame rate', ing ? fmtNum(ing.fps, 1, ' fps') : '–', 'fps'],
    ['Video', ing && ing.width ? `${ing.videoCodec || '?'} ${ing.width}×${ing.height}` : '–', 'video'],
    ['Audio', ing ? (ing.audioCodec ? `${ing.audioCodec}${ing.audioTranscoded ? ' → AAC' : ''}` : 'none') : '–', 'audio'],
    ['Keyframes', kf ? `every ${kf.toFixed(1)} s${kf > 4 ? ' (too long: set 2 s)' : ''}` : '–', 'keyframe-interval'],
    ['Protocol', ing ? String(ing.protocol).toUpperCase() : '–', 'protocol'],
    ['SRT RTT', srt ? fmtNum(srt.rttMs, 1, ' ms') : '–', 'srt-rtt'],
    ['SRT loss', srt ? `${srt.lossPackets} pkts` : '–', 'srt-loss'],
    ['Reconnects', String(st.reconnects ?? 0), 'reconnects'],
  ];
}

/**
 * createChannelCard(ch, actions) → { el, update(ch), refreshThumb(), name }.
 * actions: { remove(name), rotate(name), saveLadder(name, ladder), playbackToken(name) } each returning a Promise.
 */
export function createChannelCard(initial, actions) {
  const name = initial.name;
  let current = initial;
  let ladderDirty = false;

  const img = el('img', { alt: `Latest frame of ${name}`, hidden: true });
  const placeholder = el('div', { class: 'placeholder' }, 'No picture yet');
  const thumbBadge = el('span', { class: 'badge' });
  const thumb = el('div', { class: 'thumb', dataset: { thumb: 'missing' } }, img, placeholder, thumbBadge);

  const stateBadge = el('span', { class: 'badge state', dataset: { field: 'state' } });
  const privateBadge = el('span', { class: 'badge idle', dataset: { field: 'private' }, title: 'Plays only with a playback token', hidden: true }, 'private');
  const titleLink = el('a', { href: `/player/?channel=${encodeURIComponent(name)}` }, name);
  const title = el('h2', {}, titleLink, stateBadge, privateBadge);
  const health = el('div', { class: 'health' });
  const warnings = el('ul', { class: 'warnings' });
  const inputs = el('div', { class: 'health inputs', dataset: { field: 'inputs' }, hidden: true });
  const switchList = el('ul', { class: 'muted small', dataset: { field: 'switch-history' } });
  const reason = el('p', { class: 'reason' });
  const feedback = el('p', { class: 'error', role: 'alert', hidden: true });

  const playerLink = el('a', { class: 'button', href: `/player/?channel=${encodeURIComponent(name)}`, target: '_blank', rel: 'noopener' }, 'Open player');
  const rotate = el('button', { type: 'button' }, 'New stream key');
  const del = el('button', { type: 'button', class: 'danger' }, 'Delete');
  const actionRow = el('div', { class: 'actions' }, playerLink, rotate, del);

  const settings = el('div', { class: 'settings' });
  const settingsPanel = el('details', { class: 'settings-panel' }, el('summary', {}, 'Encoder settings (OBS, Larix, ffmpeg)'), settings);

  const ladderBody = el('tbody');
  const ladderStatus = el('span', { class: 'muted small' });
  const ladderPanel = el('details', { class: 'ladder' },
    el('summary', {}, 'ABR ladder'),
    el('p', { class: 'muted small' }, 'The source always plays as sent. These rungs are transcoded from it (never upscaled); a change applies at the next segment.'),
    el('table', {}, el('thead', {}, el('tr', {}, ['Name', 'Width', 'Height', 'kbps', 'Profile', 'fps', ''].map((h) => el('th', {}, h)))), ladderBody),
    el('div', { class: 'row-actions' },
      el('button', { type: 'button', onclick: () => { ladderBody.append(rungRow({ name: '', width: 640, height: 360, videoBitrate: 800000 })); ladderDirty = true; } }, 'Add rung'),
      el('button', { type: 'button', onclick: () => { ladderDirty = false; renderLadder(current.ladder); } }, 'Undo changes'),
      el('button', { type: 'button', class: 'primary', onclick: () => void saveLadder() }, 'Save ladder'),
      ladderStatus));
  ladderPanel.addEventListener('input', () => (ladderDirty = true));

  const body = el('div', { class: 'body' }, title, health, inputs, switchList, warnings, reason, actionRow, feedback, settingsPanel, ladderPanel);
  const card = el('article', { class: 'card', dataset: { channel: name } }, thumb, body);

  function fail(e) {
    feedback.hidden = false;
    feedback.textContent = e.message;
  }

  del.addEventListener('click', () => {
    if (!confirm(`Delete channel “${name}” and everything recorded on it?`)) return;
    actions.remove(name).catch(fail);
  });
  rotate.addEventListener('click', () => {
    if (!confirm(`Make a new stream key for “${name}”? Encoders using the old key will be refused.`)) return;
    actions.rotate(name).then(update, fail);
  });

  function rungRow(r) {
    const input = (field, value, attrs = {}) => el('input', { dataset: { field }, value: value ?? '', ...attrs });
    const profile = el('select', { dataset: { field: 'profile' } }, PROFILES.map((p) => el('option', { value: p, selected: (r.profile ?? '') === p }, p || '—')));
    const row = el('tr', {},
      el('td', {}, input('name', r.name, { 'aria-label': 'Rung name', size: 6 })),
      el('td', {}, input('width', r.width, { type: 'number', min: 16, step: 2 })),
      el('td', {}, input('height', r.height, { type: 'number', min: 16, step: 2 })),
      el('td', {}, input('kbps', Math.round(r.videoBitrate / 1000), { type: 'number', min: 50 })),
      el('td', {}, profile),
      el('td', {}, input('fps', r.fps, { type: 'number', min: 1, max: 120, placeholder: 'src' })),
      el('td', {}, el('button', { type: 'button', title: 'Remove rung', 'aria-label': 'Remove rung', onclick: () => { row.remove(); ladderDirty = true; } }, '✕')));
    return row;
  }

  /** The ladder the rows show, as JSON: rows are rebuilt only when it changes (a rebuild on every refresh would
   * take the focus from a field the operator just clicked into, and drop what a keystroke was about to change). */
  let renderedLadder = null;
  function renderLadder(ladder) {
    renderedLadder = JSON.stringify(ladder);
    ladderBody.replaceChildren(...ladder.map(rungRow));
  }

  /** Pure-ish: read the editor's rows into a ladder (validation is the server's). */
  function readLadder() {
    return [...ladderBody.querySelectorAll('tr')].map((tr) => {
      const v = (f) => tr.querySelector(`[data-field="${f}"]`).value.trim();
      const rung = { name: v('name'), width: Number(v('width')), height: Number(v('height')), videoBitrate: Math.round(Number(v('kbps')) * 1000) };
      const prev = (current.ladder || []).find((r) => r.name === rung.name);
      if (prev && prev.maxBitrate && prev.videoBitrate === rung.videoBitrate) rung.maxBitrate = prev.maxBitrate;
      if (v('profile')) rung.profile = v('profile');
      if (v('fps')) rung.fps = Number(v('fps'));
      return rung;
    });
  }

  async function saveLadder() {
    ladderStatus.className = 'muted small';
    ladderStatus.textContent = 'Saving…';
    try {
      const next = await actions.saveLadder(name, readLadder());
      ladderDirty = false;
      update(next);
      ladderStatus.className = 'ok small';
      ladderStatus.textContent = 'Saved: applies at the next segment.';
    } catch (e) {
      ladderStatus.className = 'error small';
      ladderStatus.textContent = e.message;
    }
  }

  function renderSettings(ch) {
    settings.replaceChildren();
    for (const [group, items] of settingsRows(ch)) {
      settings.append(el('h3', {}, group));
      for (const [label, value, field] of items) {
        const code = el('code', { dataset: { field } }, value);
        settings.append(el('span', {}, label), code, el('button', { type: 'button', onclick: (e) => void copyText(value, e.currentTarget) }, 'Copy'));
      }
    }
  }

  function update(ch) {
    const keyChanged = ch.streamKey !== current.streamKey || !settings.firstChild;
    if (ch.playbackSecret !== current.playbackSecret || ch.private !== current.private) signed = null;
    current = ch;
    privateBadge.hidden = ch.private !== true;
    card.className = `card state-${ch.state}`;
    card.dataset.state = ch.state;
    for (const b of [stateBadge, thumbBadge]) {
      b.textContent = ch.state;
      b.className = `badge ${ch.state === 'live' ? 'live' : ch.state === 'reconnecting' ? 'reconnecting' : 'idle'}`;
    }
    health.replaceChildren(...healthItems(ch).map(([k, v, f]) => el('div', {}, el('span', {}, k), el('strong', { dataset: { field: f } }, v))));
    const red = inputRows(ch);
    inputs.hidden = red === null;
    inputs.replaceChildren(...(red ? red.rows.map(([k, v, f]) => el('div', {}, el('span', {}, k), el('strong', { dataset: { field: f } }, v))) : []));
    switchList.replaceChildren(...(red ? red.switches.map((s) => el('li', {}, s)) : []));
    const ws = ch.state !== 'idle' && ch.status?.ingest?.warnings ? ch.status.ingest.warnings : [];
    warnings.replaceChildren(...ws.map((w) => el('li', {}, w)));
    const st = ch.status || {};
    reason.textContent = st.lastDisconnectReason
      ? `Last disconnect ${ago(st.lastDisconnectedAt)}: ${st.lastDisconnectReason}`
      : ch.state === 'idle' ? (st.lastDisconnectedAt ? `Offline since ${ago(st.lastDisconnectedAt)}.` : 'Waiting for a publisher: paste the encoder settings below.') : `Live since ${ago(st.since)}.`;
    if (keyChanged) renderSettings(ch);
    if (!ladderDirty && JSON.stringify(ch.ladder || []) !== renderedLadder) renderLadder(ch.ladder || []);
  }

  /** A private channel's playback token ({token, until} ms), minted with the API token for the thumbnail and player links. */
  let signed = null;
  async function tokenQuery() {
    // Only with the API token (the full view has the stream key): a public view's mint would ask for it.
    if (current.private !== true || !current.streamKey) return '';
    if (!signed || signed.until - Date.now() < 10 * 60000) {
      try {
        const t = await actions.playbackToken(name);
        signed = { token: t.token, until: Date.parse(t.expiresAt) };
        for (const a of [titleLink, playerLink]) a.href = t.player.slice(t.player.indexOf('/player/'));
      } catch {
        return '';
      }
    }
    return `token=${encodeURIComponent(signed.token)}&`;
  }

  let thumbLoading = false;
  /** Load the latest frame into a detached image and swap it in only when it decodes. */
  async function refreshThumb() {
    if (thumbLoading) return;
    thumbLoading = true;
    const token = await tokenQuery();
    const next = new Image();
    next.onload = () => {
      thumbLoading = false;
      img.src = next.src;
      img.dataset.naturalWidth = String(next.naturalWidth);
      img.hidden = false;
      placeholder.hidden = true;
      thumb.dataset.thumb = 'ok';
    };
    next.onerror = () => {
      thumbLoading = false;
      if (thumb.dataset.thumb !== 'ok' || current.state === 'idle') {
        img.hidden = true;
        placeholder.hidden = false;
        placeholder.textContent = current.state === 'idle' ? 'Offline' : 'No picture yet';
        thumb.dataset.thumb = 'missing';
      }
    };
    // Images are never wider than the source (a wider ?width= answers 400): 480 px, or the source's width.
    const srcW = current.status && current.status.ingest && current.status.ingest.width;
    const width = srcW ? `width=${Math.min(480, srcW)}&` : '';
    next.src = `/beams/${encodeURIComponent(name)}/video/latest.jpg?${token}${width}t=${Date.now()}`;
  }

  update(initial);
  return { el: card, name, update, refreshThumb, get state() { return current.state; } };
}
