/**
 * Who may read a channel over SRT (`#!::r=<channel>,m=request[,t=<rung>][,s=<token>]`): the one place that
 * decides it. The gate in the addon decides each caller at the handshake from the entries made here (kept
 * current with the channel registry), so a refused reader fails at once. Pure.
 *
 * Every channel is public today: its source and its ladder's rungs may be read without a token. A private
 * channel returns its playback token as `token`: the gate then wants `s=<token>` and refuses others (1401).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import type { Channel } from '../../core/model/channel';
import type { SrtReadEntry } from './srt-server';

export function srtReadAccess(channel: Channel): SrtReadEntry | null {
  return { rungs: ['source', ...channel.ladder.map((r) => r.name)] };
}
