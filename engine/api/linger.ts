/**
 * Closing a connection whose request body was refused unread, without losing the answer. A client such as curl
 * or a browser sends the whole body without waiting; if the server closes while bytes of it are still coming,
 * the kernel answers them with a reset, and a reset makes the client's kernel drop what it received and its
 * program has not read yet: the 413 (or 401, 400) is lost, and the user sees "connection reset". So, as web
 * servers do ("lingering close"): the answer is sent, the connection half-closed (our FIN follows the answer),
 * and what the client still sends is read and thrown away until it closes its side, for at most `ms` and
 * `bytes` (then the connection is destroyed: a client cannot hold it open by sending forever).
 */
import type { Socket } from 'node:net';

export const LINGER = { ms: 2000, bytes: 256 * 1024 * 1024 } as const;

const lingering = new WeakSet<Socket>();

/** Makes the HTTP server's close of `socket` after the current response a lingering one. */
export function lingerOnClose(socket: Socket, limits: { ms: number; bytes: number } = LINGER): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  // node's HTTP server ends a `Connection: close` response's socket with destroySoon(): end, then destroy.
  socket.destroySoon = () => {
    let read = 0;
    const stop = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(stop, limits.ms);
    timer.unref();
    socket.on('data', (d: Buffer) => {
      read += d.length;
      if (read > limits.bytes) stop();
    });
    socket.once('end', stop);
    socket.once('close', () => clearTimeout(timer));
    socket.end();
    socket.resume();
  };
}
