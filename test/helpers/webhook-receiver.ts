/**
 * A real HTTP webhook receiver for tests: records every request (headers, raw body, arrival time) and answers
 * with what the test's `respond` says (a status and body, a delay, or never).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  /** The raw body as received (what the signature covers). */
  raw: string;
  body: Record<string, unknown>;
  at: number;
}

/** What to answer: a status with an optional body, after an optional delay; `hang` never answers. */
export type Answer = { status: number; body?: string; delayMs?: number } | 'hang';

export interface WebhookReceiver {
  url(path?: string): string;
  readonly received: Received[];
  /** The requests of one event (and channel, when given). */
  of(event: string, channel?: string): Received[];
  /** Change how the next requests are answered. */
  respond(fn: (r: Received) => Answer): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(respond: (r: Received) => Answer = () => ({ status: 204 })): Promise<WebhookReceiver> {
  const received: Received[] = [];
  let answer = respond;
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // kept raw
      }
      const r: Received = { path: req.url ?? '', headers: req.headers, raw, body, at: Date.now() };
      received.push(r);
      const a = answer(r);
      if (a === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body ?? '');
      };
      if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    of: (event, channel) => received.filter((r) => r.body.event === event && (channel === undefined || r.body.channel === channel)),
    respond(fn) {
      answer = fn;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
