/**
 * Who may read a channel over SRT (`#!::r=<channel>,m=request[,t=<rung>][,s=<token>]`): the one place that
 * decides it. The gate in the addon decides each caller at the handshake from the entries made here (kept
 * current with the channel registry), so a refused reader fails at once. Pure.
 *
 * A public channel's source and its ladder's rungs may be read without a token. A private channel is not
 * readable over SRT: its playback tokens are signed per viewer with an expiry (core/model/playback-token.ts),
 * which the gate (fixed tokens compared in the addon, on libsrt's thread) cannot check; it is refused as
 * unknown (1404) rather than opened. An entry with a fixed `token` makes the gate want `s=<token>` (1401 else).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import type { Channel } from '../../core/model/channel';
import type { SrtReadEntry } from './srt-server';

export function srtReadAccess(channel: Channel): SrtReadEntry | null {
  if (channel.private === true) return null;
  return { rungs: ['source', ...channel.ladder.map((r) => r.name)] };
}
