/**
 * A TCP proxy on loopback that a test controls, to give a real server (e.g. an S3 server) real network
 * faults while a client talks to it:
 *
 * - `pass`: bytes flow both ways.
 * - `reset`: the server is unreachable: every open connection is reset (RST) and every new one is reset
 *   as soon as it is accepted (the client sees ECONNRESET or EPIPE).
 * - `blackhole`: the server is there but never answers: open connections stop forwarding, new ones are
 *   accepted; what the client sends is read and dropped, nothing ever comes back, nothing is closed. Only
 *   the client's own timeouts end such a connection.
 *
 * A fault heals itself (back to `pass`) after `maxMs` even if the test never gets to heal it. Connections
 * black-holed stay held after the heal until their client closes them: `stats().open` shows whether a
 * client let go of them.
 */

import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'reset' | 'blackhole';

export interface ProxyStats {
  /** Client connections accepted so far. */
  accepted: number;
  /** Client connections open now (forwarding or held). */
  open: number;
  /** Client connections open now and held by a black hole. */
  held: number;
  /** Client connections reset so far. */
  reset: number;
}

export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  mode(): ProxyMode;
  /** Start a fault; it ends by itself after `maxMs` (default 30 s). */
  fail(mode: Exclude<ProxyMode, 'pass'>, opts?: { maxMs?: number }): void;
  /** Back to forwarding (new connections); held connections stay held until their client closes them. */
  heal(): void;
  stats(): ProxyStats;
  /** Stop listening and destroy every connection. */
  close(): Promise<void>;
}

interface Conn {
  client: Socket;
  upstream: Socket | null;
  held: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let healTimer: NodeJS.Timeout | null = null;
  const conns = new Set<Conn>();
  const counts = { accepted: 0, reset: 0 };

  function reset(c: Conn): void {
    counts.reset++;
    conns.delete(c);
    c.upstream?.destroy();
    c.client.resetAndDestroy();
  }

  function hold(c: Conn): void {
    c.held = true;
    if (c.upstream) {
      c.client.unpipe(c.upstream);
      c.upstream.unpipe(c.client);
      c.upstream.destroy();
      c.upstream = null;
    }
    // Read and drop: the client's writes go through, no answer ever comes.
    c.client.on('data', () => undefined);
    c.client.resume();
  }

  const server: Server = createServer((client) => {
    counts.accepted++;
    const c: Conn = { client, upstream: null, held: false };
    conns.add(c);
    client.on('error', () => undefined);
    client.on('close', () => {
      conns.delete(c);
      c.upstream?.destroy();
    });
    if (mode === 'reset') return reset(c);
    if (mode === 'blackhole') return hold(c);
    const upstream = connect(target.port, target.host);
    c.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (!c.held) client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', () => undefined);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  function heal(): void {
    if (healTimer) clearTimeout(healTimer);
    healTimer = null;
    mode = 'pass';
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    mode: () => mode,
    fail(next, opts = {}) {
      heal();
      mode = next;
      for (const c of [...conns]) {
        if (next === 'reset') reset(c);
        else if (!c.held) hold(c);
      }
      healTimer = setTimeout(heal, opts.maxMs ?? 30_000);
      healTimer.unref();
    },
    heal,
    stats: () => ({ ...counts, open: conns.size, held: [...conns].filter((c) => c.held).length }),
    async close() {
      heal();
      for (const c of conns) {
        c.upstream?.destroy();
        c.client.destroy();
      }
      conns.clear();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
