/**
 * Who may read a channel over SRT (`#!::r=<channel>,m=request[,t=<rung>][,s=<token>]`): the one place that
 * decides it. Pure.
 *
 * A public channel's source and its ladder's rungs may be read without a token. A private channel's need a
 * playback token as `s=<token>`, the one its HLS takes as `?token=` (core/model/playback-token.ts). The decision
 * is made in two steps: the gate in the addon (kept current with the channel registry, on libsrt's thread)
 * refuses at the handshake a reader of an unknown channel or rung (1404) and a private channel's reader without
 * `s=` (1401); the token itself is signed per viewer with an expiry, which the gate cannot check, so the reader
 * it admitted is checked by `readerAccess` before anything is sent, and closed at once if the token does not
 * open the channel (or when it expires).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import type { Channel } from '../../core/model/channel';
import { verifyPlaybackToken } from '../../core/model/playback-token';
import { parseStreamId } from '../streamid';
import type { SrtReadEntry } from './srt-server';

/** The gate's entry for a channel, or null when no reader may read it. */
export function srtReadAccess(channel: Channel): SrtReadEntry | null {
  const rungs = ['source', ...channel.ladder.map((r) => r.name)];
  if (channel.private !== true) return { rungs };
  // A private channel without a secret (the API never makes one) opens for nobody.
  return channel.playbackSecret ? { rungs, signedToken: true } : null;
}

export type ReaderAccess = { ok: true; expiresMs: number | null } | { ok: false; reason: string };

/**
 * Whether a reader the gate admitted may be sent `channel`: a public channel, yes (no expiry); a private one
 * when the streamid's `s=` is a playback token for it, for this address, not expired (until `expiresMs`).
 */
export function readerAccess(channel: Channel, streamId: string, peerIp: string, nowMs: number): ReaderAccess {
  if (channel.private !== true) return { ok: true, expiresMs: null };
  if (!channel.playbackSecret) return { ok: false, reason: `Channel '${channel.name}' is private and has no playback secret.` };
  const parsed = parseStreamId(streamId);
  const token = parsed.ok && parsed.channel !== undefined ? parsed.key : undefined;
  const check = verifyPlaybackToken(channel.playbackSecret, channel.name, token, peerIp, nowMs);
  if (!check.ok) return { ok: false, reason: check.reason.replace('add ?token=<playback token>', 'add s=<playback token> to the streamid') };
  return { ok: true, expiresMs: check.expires * 1000 };
}
