// Operator dashboard: polls GET /api/channels every 2 s, one card per channel (see channel-card.js), and
// GET /healthz for the Redis memory warning (shown from 80 % of its limit),
// create / delete / rotate / ladder writes through the API client (token asked once on 401).
// `window.beamDashboard` exposes the state for diagnostics and tests. GPL-3.0-or-later.

import { createApiClient, storedToken, storeToken } from './api-client.js';
import { createChannelCard } from './channel-card.js';
import { isChannelName, redisMemoryWarning } from './util.js';

const POLL_MS = 2000;
const THUMB_MS = 4000;
const $ = (id) => document.getElementById(id);

const cards = new Map();
const state = { polls: 0, lastError: null, lastPollAt: null, healthPolls: 0, redis: null };
window.beamDashboard = state;

/** Ask for the API token in a modal dialog; resolves to the token or null. */
function askToken(reason) {
  const dialog = $('token-dialog');
  $('token-why').textContent = `${reason} It is kept in this browser only.`;
  $('token-input').value = '';
  return new Promise((done) => {
    dialog.addEventListener('close', () => {
      const v = dialog.returnValue;
      if (v === 'forget') storeToken(null);
      done(v === 'save' && $('token-input').value.trim() ? $('token-input').value.trim() : null);
    }, { once: true });
    dialog.showModal();
  });
}

const api = createApiClient({ askToken });

const actions = {
  async remove(name) {
    await api.request('DELETE', `/api/channels/${encodeURIComponent(name)}`);
    dropCard(name);
  },
  rotate: (name) => api.request('POST', `/api/channels/${encodeURIComponent(name)}/key`),
  saveLadder: (name, ladder) => api.request('PATCH', `/api/channels/${encodeURIComponent(name)}`, { ladder }),
  playbackToken: (name) => api.request('POST', `/api/channels/${encodeURIComponent(name)}/playback-tokens`, { expiresIn: 3600 }),
};

function dropCard(name) {
  const c = cards.get(name);
  if (c) c.el.remove();
  cards.delete(name);
  $('empty').hidden = cards.size > 0;
}

function render(list) {
  const seen = new Set();
  const section = $('channels');
  for (const ch of list) {
    seen.add(ch.name);
    let card = cards.get(ch.name);
    if (!card) {
      card = createChannelCard(ch, actions);
      cards.set(ch.name, card);
      card.refreshThumb();
    } else {
      const was = card.state;
      card.update(ch);
      if (was !== ch.state) card.refreshThumb();
    }
    // Keep the server's order, moving a card only when it is out of place (a move would blur an input).
    const at = section.children[seen.size - 1];
    if (at !== card.el) section.insertBefore(card.el, at ?? null);
  }
  for (const name of [...cards.keys()]) if (!seen.has(name)) dropCard(name);
  $('empty').hidden = cards.size > 0;
}

/** Without the token the server shows the public view (no keys, no encoder settings): say so. */
function showAccess(list) {
  const full = list.length === 0 ? Boolean(storedToken()) : list.some((c) => c.streamKey !== undefined);
  state.access = full ? 'token' : 'public';
  $('access').hidden = full;
}

/** GET /healthz (public; 503 while Redis is unreachable, still with the last memory figures). */
async function pollHealth() {
  try {
    const res = await fetch('/healthz', { headers: { accept: 'application/json' } });
    const body = await res.json();
    state.redis = body?.redis ?? null;
  } catch {
    return; // the channel poll says the server cannot be reached
  }
  const warning = redisMemoryWarning(state.redis);
  const banner = $('redis-memory');
  banner.hidden = warning === null;
  banner.textContent = warning ?? '';
  state.healthPolls++;
}

let polling = null;
async function poll() {
  clearTimeout(polling);
  void pollHealth();
  try {
    const list = await api.request('GET', '/api/channels');
    render(Array.isArray(list) ? list : []);
    showAccess(Array.isArray(list) ? list : []);
    state.polls++;
    state.lastPollAt = Date.now();
    state.lastError = null;
    $('sync').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    state.lastError = e.message;
    $('sync').textContent = `cannot reach the server: ${e.message}`;
  } finally {
    polling = setTimeout(poll, POLL_MS);
  }
}

function refreshThumbs() {
  for (const c of cards.values()) if (c.state !== 'idle') c.refreshThumb();
}

$('create').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('create-error');
  err.hidden = true;
  const name = $('create-name').value.trim();
  if (!isChannelName(name)) {
    err.hidden = false;
    err.textContent = 'Use 1-64 lowercase letters, digits, _ or -, starting with a letter or digit.';
    return;
  }
  const body = { name, lowLatency: $('create-ll').checked, private: $('create-private').checked, dvrWindowSeconds: Number($('create-dvr').value) || 3600 };
  const pass = $('create-passphrase').value.trim();
  if (pass) body.passphrase = pass;
  try {
    const ch = await api.request('POST', '/api/channels', body);
    if (!cards.has(ch.name)) {
      const card = createChannelCard(ch, actions);
      cards.set(ch.name, card);
      $('channels').prepend(card.el);
      card.el.querySelector('details.settings-panel').open = true; // the settings are what one needs next
      card.refreshThumb();
      $('empty').hidden = true;
    }
    $('create').reset();
  } catch (ex) {
    err.hidden = false;
    err.textContent = ex.message;
  }
});

$('token').addEventListener('click', async () => {
  const t = await askToken(storedToken() ? 'A token is saved: enter a new one, or forget it.' : 'Enter the API token to see stream keys and make changes.');
  if (t) storeToken(t);
  void poll(); // show what the token (or its absence) gives at once
});
$('access-token').addEventListener('click', () => $('token').click());

void poll();
setInterval(refreshThumbs, THUMB_MS);
