/**
 * The simple (non-digest) RTMP handshake, server side, as a pure state machine over incoming bytes.
 *
 *   client → C0 (1 byte, version 3) + C1 (1536 bytes: time, zero, random)
 *   server → S0 (version 3) + S1 (time, zero, random) + S2 (echo of C1)
 *   client → C2 (1536 bytes, echo of S1; content not verified, as clients differ)
 *
 * Bytes that follow C2 in the same input (the first chunks, usually `connect`) are returned as `rest`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;

export type HandshakePhase = 'wait-c0c1' | 'wait-c2' | 'done';

export interface HandshakeStep {
  /** Bytes to send to the client (S0+S1+S2 once), possibly empty. */
  output: Buffer | null;
  /** True once C2 has been received. */
  done: boolean;
  /** Input bytes after C2 (chunk stream data), empty until done. */
  rest: Buffer;
}

export interface Handshake {
  readonly phase: HandshakePhase;
  push(input: Buffer): HandshakeStep;
}

export class HandshakeError extends Error {
  constructor(message: string) {
    super(`RTMP handshake: ${message}`);
    this.name = 'HandshakeError';
  }
}

export interface HandshakeOptions {
  /** 1528 random bytes for S1 (injected so the state machine stays pure). */
  random: Buffer;
  /** Server uptime in ms written into S1. */
  time: number;
}

/** Builds S0+S1+S2 for a given C1. */
export function serverHello(c1: Buffer, opts: HandshakeOptions): Buffer {
  if (c1.length !== HANDSHAKE_SIZE) throw new HandshakeError(`C1 must be ${HANDSHAKE_SIZE} bytes, got ${c1.length}`);
  if (opts.random.length < HANDSHAKE_SIZE - 8) {
    throw new HandshakeError(`S1 random needs ${HANDSHAKE_SIZE - 8} bytes, got ${opts.random.length}`);
  }
  const out = Buffer.alloc(1 + HANDSHAKE_SIZE * 2);
  out[0] = RTMP_VERSION;
  out.writeUInt32BE(opts.time >>> 0, 1);
  out.writeUInt32BE(0, 5);
  opts.random.copy(out, 9, 0, HANDSHAKE_SIZE - 8);
  c1.copy(out, 1 + HANDSHAKE_SIZE);
  return out;
}

export function createHandshake(opts: HandshakeOptions): Handshake {
  let phase: HandshakePhase = 'wait-c0c1';
  let pending: Buffer = Buffer.alloc(0);

  function push(input: Buffer): HandshakeStep {
    if (phase === 'done') return { output: null, done: true, rest: input };
    pending = pending.length === 0 ? input : Buffer.concat([pending, input]);
    let output: Buffer | null = null;
    if (phase === 'wait-c0c1') {
      if (pending.length >= 1 && pending[0] !== RTMP_VERSION) {
        const v = pending[0] as number;
        const why = v === 6 || v === 8 ? ' (RTMPE encryption is not supported)' : '';
        throw new HandshakeError(`unsupported version ${v}${why}; not an RTMP client?`);
      }
      if (pending.length < 1 + HANDSHAKE_SIZE) return { output: null, done: false, rest: Buffer.alloc(0) };
      output = serverHello(pending.subarray(1, 1 + HANDSHAKE_SIZE), opts);
      pending = pending.subarray(1 + HANDSHAKE_SIZE);
      phase = 'wait-c2';
    }
    if (pending.length < HANDSHAKE_SIZE) return { output, done: false, rest: Buffer.alloc(0) };
    const rest = pending.subarray(HANDSHAKE_SIZE);
    pending = Buffer.alloc(0);
    phase = 'done';
    return { output, done: true, rest };
  }

  return {
    get phase() { return phase; },
    push,
  };
}
