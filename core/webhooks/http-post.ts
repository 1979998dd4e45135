/**
 * The webhooks' one I/O seam: POST a JSON body to a URL and read the answer, within a timeout covering the
 * whole exchange (connection, headers and body), reading at most `maxResponseBytes` of the answer (the rest is
 * discarded and the connection dropped). Redirects are not followed: a 3xx is an answer like any other status,
 * so a receiver cannot bounce a delivery to another address.
 */

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  /** The answer's first `maxResponseBytes` bytes, as UTF-8. */
  body: string;
  /** The answer was longer than `maxResponseBytes`. */
  truncated: boolean;
}

export interface PostOptions {
  timeoutMs: number;
  maxResponseBytes: number;
}

/** Resolves with the answer, or rejects with an Error whose message says why there was none. */
export type HttpPost = (url: string, body: string, headers: Record<string, string>, opts: PostOptions) => Promise<HttpAnswer>;

/** Pure: a short, URL-free description of why a request got no answer. */
export function failureText(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = e?.code ?? e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
  const text = e?.cause?.message ?? e?.message ?? String(err);
  return (code && !text.includes(code) ? `${code}: ${text}` : text).replace(/https?:\/\/\S+/g, '<url>').slice(0, 200);
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * The default HttpPost, on node:http / node:https (already loaded by the server; Node's fetch would load its
 * own HTTP stack on first use, which took 0.5-1 s on a loaded machine: the first admission's whole budget).
 */
export const postJson: HttpPost = (url, body, headers, opts) =>
  new Promise<HttpAnswer>((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const done = (err: unknown, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (answer) resolve(answer);
      else reject(new Error(failureText(err, opts.timeoutMs)));
    };
    const req = send(u, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        const room = opts.maxResponseBytes - size;
        if (chunk.length > room) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          done(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), truncated: true });
          res.destroy(); // the rest is not read: the connection goes
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => done(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), truncated: false }));
      res.on('error', (err) => done(err));
      res.on('aborted', () => done(new Error('connection reset')));
    });
    const timer = setTimeout(() => {
      done(new TimeoutError());
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (err) => done(err));
    req.end(body);
  });
