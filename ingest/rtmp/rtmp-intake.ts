/**
 * The bytes side of one RTMP connection: the handshake, then the chunk stream under the current limits,
 * queueing whole messages (and acknowledging as the window asks). The reader stops after each command, so
 * a limit switch at an accepted `publish` applies from the very next message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { createChunkReader, type ChunkReader, type ChunkReadResult } from './chunk-reader';
import { HANDSHAKE_SIZE, type Handshake } from './handshake';
import { acknowledgementMessage, type RtmpMessage } from './messages';
import type { ReaderLimits } from './rtmp-limits';

export interface Intake {
  /** Takes bytes from the socket; true when messages wait. Throws on a protocol violation. */
  push(input: Buffer): boolean;
  /** The next message (parsing what the reader held back after a command), undefined when none is left. Throws like push. */
  next(): RtmpMessage | undefined;
  setLimits(limits: ReaderLimits): void;
}

export interface IntakeOptions {
  handshake: Handshake;
  /** Limits from the end of the handshake. */
  limits: ReaderLimits;
  /** Raw bytes to the peer (the handshake's replies). */
  write(bytes: Buffer): void;
  /** A protocol message to the peer (acknowledgements). */
  send(msg: RtmpMessage): void;
}

const EMPTY = Buffer.alloc(0);

export function createIntake(opts: IntakeOptions): Intake {
  let reader: ChunkReader | null = null;
  const queue: RtmpMessage[] = [];

  function accept(result: ChunkReadResult): void {
    if (result.ack !== null) opts.send(acknowledgementMessage(result.ack));
    for (const m of result.messages) queue.push(m);
  }

  return {
    push(input) {
      let bytes = input;
      if (!reader) {
        const step = opts.handshake.push(input);
        if (step.output) opts.write(step.output);
        if (!step.done) return false;
        reader = createChunkReader({ limits: opts.limits, bytesBefore: 1 + 2 * HANDSHAKE_SIZE, yieldAfterCommands: true });
        bytes = step.rest;
        if (bytes.length === 0) return false;
      }
      accept(reader.push(bytes));
      return queue.length > 0;
    },
    next() {
      for (;;) {
        const msg = queue.shift();
        if (msg) return msg;
        if (!reader || !reader.yielded) return undefined;
        accept(reader.push(EMPTY));
      }
    },
    setLimits(limits) {
      reader?.setLimits(limits);
    },
  };
}
