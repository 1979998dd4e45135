/**
 * PayloadCommand puts on the wire exactly the bytes ioredis's own serialisation does, with each Buffer argument
 * written to the socket as the same Buffer (not a copy), and serialises as ioredis does when given no socket.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Command } from 'ioredis';
import { PayloadCommand } from '../../../core/store/payload-command';

/** A socket that records what is written to it, in order. */
function recorder(): { write(chunk: string | Buffer): boolean; chunks: (string | Buffer)[]; bytes(): Buffer } {
  const chunks: (string | Buffer)[] = [];
  return { chunks, write: (c) => chunks.push(c) > 0, bytes: () => Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))) };
}

/** What goes on the wire: the direct writes, then what toWritable returned (ioredis writes it next). */
function wire(cmd: Command): { bytes: Buffer; chunks: (string | Buffer)[] } {
  const socket = recorder();
  const rest = cmd.toWritable(socket);
  socket.write(rest);
  return { bytes: socket.bytes(), chunks: socket.chunks };
}

describe('PayloadCommand', () => {
  const payload = Buffer.from([0, 1, 2, 13, 10, 255, 36]);
  const cases: [string, (string | number | Buffer)[]][] = [
    ['SET with a binary payload, a TTL and NX', ['beam:{ch}:s0:packet_1:data', payload, 'PX', 20000, 'NX']],
    ['an empty payload', ['k', Buffer.alloc(0), 'NX']],
    ['two payloads and a non-ASCII key', ['clé€', payload, Buffer.from('second'), 7]],
    ['the payload last', ['k', payload]],
    ['no payload at all', ['k', 'v', 42]],
  ];
  for (const [what, args] of cases) {
    it(`writes ioredis's bytes: ${what}`, () => {
      const ours = wire(new PayloadCommand('set', args)).bytes;
      const theirs = new Command('set', args).toWritable({});
      assert.deepEqual(ours, Buffer.isBuffer(theirs) ? theirs : Buffer.from(theirs));
    });
  }

  it('writes each payload as the Buffer it was given, not a copy', () => {
    const { chunks } = wire(new PayloadCommand('set', ['k', payload, 'PX', 1000, 'NX']));
    assert.ok(chunks.includes(payload), 'the same Buffer object reaches the socket');
    assert.equal(chunks.filter((c) => Buffer.isBuffer(c)).length, 1, 'and no other Buffer: the text around it goes as strings');
  });

  it('serialises as ioredis does when what it is given cannot be written to', () => {
    const args = ['k', payload, 'PX', 1000];
    assert.deepEqual(new PayloadCommand('set', args).toWritable({}), new Command('set', args).toWritable({}));
  });
});
