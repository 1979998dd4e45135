/**
 * SRT rejection codes a listener may send back to a caller (srt/access_control.h, "SRT_REJX_*":
 * 1000 + an HTTP-like status). The gate in the addon (srt/native/src/key-gate.cc) sends BAD_REQUEST,
 * FORBIDDEN, NOT_FOUND and UNAUTHORIZED (a reader: no such channel or rung; a private channel's token),
 * INTERNAL (a passphrase libsrt refuses) and DOWN (while stopping).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
export const SRT_REJECT = {
  /** Malformed streamid. */
  BAD_REQUEST: 1400,
  /** Identified, but the credentials are wrong. */
  UNAUTHORIZED: 1401,
  /** The server is too busy (also: the decision did not come in time). */
  OVERLOAD: 1402,
  /** Unknown or wrong stream key. */
  FORBIDDEN: 1403,
  /** No such channel. */
  NOT_FOUND: 1404,
  /** A mode the port does not serve (not sent since SRT readers are served). */
  BAD_MODE: 1405,
  /** The channel already has a live publisher. */
  CONFLICT: 1409,
  /** Unexpected server error. */
  INTERNAL: 1500,
  /** The service is going down. */
  DOWN: 1503,
} as const;

/** Predefined codes are 1000..1999, application codes 2000..2999. */
export function isValidRejectCode(code: unknown): code is number {
  return typeof code === 'number' && Number.isInteger(code) && code >= 1000 && code < 3000;
}
