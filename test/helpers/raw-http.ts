/**
 * A raw HTTP/1.1 request over a socket, for what fetch cannot send: huge or endless bodies, malformed heads.
 * Writes `head`, then `bodyBytes` of body (in 64 KiB writes, chunked when asked) after `bodyDelayMs`, and
 * stops when the server has answered (a whole status line and headers), closed or reset the connection, or
 * `timeoutMs` passed. Resolves with the status (0 when none came) and the socket error, if any.
 */
import { connect } from 'node:net';

export interface RawRequestOptions {
  bodyBytes?: number;
  chunked?: boolean;
  /** Wait before the body, as a client sending `Expect: 100-continue` gives the server a moment to refuse. */
  bodyDelayMs?: number;
  timeoutMs?: number;
}

export function rawHttpRequest(port: number, head: string, o: RawRequestOptions = {}): Promise<{ status: number; error: string | null }> {
  const bodyBytes = o.bodyBytes ?? 0;
  return new Promise((done) => {
    const sock = connect(port, '127.0.0.1');
    let answer = '';
    let error: string | null = null;
    let sent = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      done({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), error });
    };
    const timer = setTimeout(finish, o.timeoutMs ?? 15000);
    const block = Buffer.alloc(64 * 1024, 0x5b); // '[' : deep JSON if it were ever parsed
    const pump = () => {
      while (!finished && sent < bodyBytes) {
        const n = Math.min(block.length, bodyBytes - sent);
        sent += n;
        const piece = o.chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), block.subarray(0, n), Buffer.from('\r\n')]) : block.subarray(0, n);
        if (!sock.write(piece)) return void sock.once('drain', pump);
      }
      if (!finished && o.chunked && sent >= bodyBytes) sock.write('0\r\n\r\n');
    };
    sock.on('connect', () => {
      sock.write(head);
      setTimeout(pump, bodyBytes > 0 ? (o.bodyDelayMs ?? 0) : 0);
    });
    sock.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (/\r\n\r\n/.test(answer)) finish();
    });
    sock.on('error', (e) => {
      error = e.message;
      setTimeout(finish, 50);
    });
    sock.on('close', finish);
  });
}
