/**
 * Pure: redundant (primary/backup) publishers of one channel — each input's health and the switch decision.
 *
 * Both inputs are ingested; one is on air (written to the channel), the other waits in standby. An input is
 * `healthy` while media flows (a packet within `stallMs`) with video (a video packet within `stallMs`);
 * `stalled` when nothing came for `stallMs`; `no-video` when media flows without video; `starting` in its
 * first `stallMs` before any packet. A disconnect is told by
 * the session's end, not by this module (reason `primary-disconnected` / `backup-disconnected`).
 *
 * Rules, evaluated on a beat:
 * - primary on air, primary not healthy, backup healthy → backup (`primary-stalled`, `primary-lost-video`);
 * - backup on air, primary healthy without a break for `returnMs` → primary (`primary-restored`);
 * - backup on air, backup not healthy, primary healthy → primary at once (`backup-stalled`, `backup-lost-video`).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

import type { PublisherRole } from './streamid';

/** `starting`: connected less than `stallMs` ago and nothing received yet (neither switched to nor away from). */
export type InputHealth = 'healthy' | 'stalled' | 'no-video' | 'starting';

export type SwitchReason =
  | 'primary-disconnected' | 'primary-stalled' | 'primary-lost-video' | 'primary-restored'
  | 'backup-disconnected' | 'backup-stalled' | 'backup-lost-video';

export const SWITCH_REASONS: readonly SwitchReason[] = [
  'primary-disconnected', 'primary-stalled', 'primary-lost-video', 'primary-restored',
  'backup-disconnected', 'backup-stalled', 'backup-lost-video',
];

export interface RedundancyConfig {
  /** No media (or no video) for this long: the input is unhealthy, ms. */
  stallMs: number;
  /** The primary must be healthy this long before it goes back on air, ms. */
  returnMs: number;
}

/** What an input's session saw, for its health. */
export interface InputActivity {
  /** When the input connected, ms. */
  since: number;
  lastMediaAt: number | null;
  lastVideoAt: number | null;
  /** Since when it has been healthy without a break (null: not healthy at the last beat). */
  healthySince: number | null;
}

/** Pure: an input's health now. */
export function inputHealth(a: InputActivity, now: number, stallMs: number): InputHealth {
  if (a.lastMediaAt === null) return now - a.since <= stallMs ? 'starting' : 'stalled';
  if (now - a.lastMediaAt > stallMs) return 'stalled';
  if (a.lastVideoAt === null || now - a.lastVideoAt > stallMs) return 'no-video';
  return 'healthy';
}

/** Pure: the input's activity with `healthySince` brought up to `now`. */
export function trackHealth(a: InputActivity, now: number, stallMs: number): InputActivity {
  const healthy = inputHealth(a, now, stallMs) === 'healthy';
  if (healthy) return a.healthySince === null ? { ...a, healthySince: now } : a;
  return a.healthySince === null ? a : { ...a, healthySince: null };
}

export interface SwitchDecision {
  to: PublisherRole;
  reason: SwitchReason;
}

const failing = (h: InputHealth): boolean => h === 'stalled' || h === 'no-video';

function unhealthyReason(role: PublisherRole, h: InputHealth): SwitchReason {
  return h === 'no-video' ? `${role}-lost-video` : `${role}-stalled`;
}

/**
 * Pure: whether to switch now. `onAir` is the input being written; an absent input is null (the ingest service
 * handles a disconnect at once).
 */
export function decideSwitch(
  s: { onAir: PublisherRole | null; primary: InputActivity | null; backup: InputActivity | null },
  now: number,
  config: RedundancyConfig,
): SwitchDecision | null {
  const { primary, backup } = s;
  if (!primary || !backup) return null;
  const ph = inputHealth(primary, now, config.stallMs);
  const bh = inputHealth(backup, now, config.stallMs);
  if (s.onAir === 'primary') {
    if (failing(ph) && bh === 'healthy') return { to: 'backup', reason: unhealthyReason('primary', ph) };
    return null;
  }
  if (s.onAir === 'backup') {
    if (ph !== 'healthy') return null;
    if (failing(bh)) return { to: 'primary', reason: unhealthyReason('backup', bh) };
    if (primary.healthySince !== null && now - primary.healthySince >= config.returnMs) return { to: 'primary', reason: 'primary-restored' };
  }
  return null;
}

/** One switch, as the channel status lists it. */
export interface SwitchRecord {
  at: string;
  from: PublisherRole;
  to: PublisherRole;
  reason: SwitchReason;
}

/** Most switches the channel status keeps (the newest). */
export const SWITCH_HISTORY_MAX = 20;

/** Pure: the history with `record` appended, bounded to the newest {@link SWITCH_HISTORY_MAX}. */
export function appendSwitch(history: readonly SwitchRecord[], record: SwitchRecord): SwitchRecord[] {
  const out = [...history, record];
  return out.length > SWITCH_HISTORY_MAX ? out.slice(out.length - SWITCH_HISTORY_MAX) : out;
}
