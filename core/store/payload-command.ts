/**
 * A Redis command whose Buffer arguments go to the connection's socket as they are. ioredis serialises a command
 * with a Buffer argument by copying every argument into one new Buffer (`Command.toWritable`), so each payload an
 * ingest writes was allocated a second time, as a second ArrayBuffer. ArrayBuffer bytes allocated since V8's last
 * full collection count against its old-generation limit: at 20 channels the ingest's three copies of every media
 * byte (the SRT batch, the demuxed packet, this one) were what kept V8 starting full collections back to back (see
 * docs/architecture.md, "Memory and V8's collector"). This command writes the RESP text before a Buffer argument,
 * then the Buffer itself, to the socket it is given; what it returns (the text after the last Buffer) ioredis writes
 * next, so the bytes on the wire are exactly ioredis's own, in the same order.
 *
 * Only for a command sent on a connection (`redis.sendCommand(cmd)` on a ready standalone client): a pipeline hands
 * `toWritable` the connection's socket but collects what it returns elsewhere, so a direct write would overtake it.
 * Given anything that is not a writable stream, it serialises as ioredis does.
 */
import { Command } from 'ioredis';

interface Writable {
  write(chunk: string | Buffer): unknown;
}

function isWritable(x: object): x is Writable {
  return typeof (x as Partial<Writable>).write === 'function';
}

/** RESP bulk string header and body for a text argument. */
function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

export class PayloadCommand extends Command {
  override toWritable(socket: object): string | Buffer {
    if (!isWritable(socket)) return super.toWritable(socket);
    const args = this.args as (string | Buffer | number)[];
    let text = `*${args.length + 1}\r\n${bulk(this.name)}`;
    for (const arg of args) {
      if (Buffer.isBuffer(arg)) {
        socket.write(`${text}$${arg.length}\r\n`);
        if (arg.length > 0) socket.write(arg);
        text = '\r\n';
      } else {
        text += bulk(String(arg));
      }
    }
    return text;
  }
}
