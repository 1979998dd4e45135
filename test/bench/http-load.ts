/**
 * HTTP load for the benches that serve media (packager, archive): a load generator in a worker thread
 * (node:http keep-alive agents, so the server under test never shares an event loop with its clients),
 * and nginx serving static files from a private folder as the reference.
 *
 * Worker modes:
 * - `load`: N keep-alive connections for `ms`, connection i asking for `urls[i % urls.length]` again and again;
 * - `fanout`: open N keep-alive connections (one request each to `urls[0]`), say `warm`, then on the parent's
 *   `{ go: url }` send N requests at once on them;
 * - `ttfb`: one connection, the `items` in order, each timed from the request to its first body byte; an item's
 *   `evict` files (paths without white space) are dropped from the page cache first (posix_fadvise DONTNEED
 *   through `dd iflag=nocache`, run by one shell the worker starts once).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { freePort } from '../helpers/process';

const WORKER = `
const http = require('node:http');
const { spawn } = require('node:child_process');
const { workerData, parentPort } = require('node:worker_threads');
const { mode, urls, connections, ms, items } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
// One long-lived shell drops files from the page cache on request: forking this (large) process before every
// request would slow the server's next answer (its pages become copy-on-write for a while).
let evictor = null;
let evicted = null;
function evict(files) {
  if (!evictor) {
    evictor = spawn('sh', ['-c', 'while read -r line; do for f in $line; do dd if="$f" iflag=nocache count=0 status=none; done; echo ok; done'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    evictor.stdout.on('data', (d) => {
      buf += d.toString();
      while (buf.includes('\\n')) {
        buf = buf.slice(buf.indexOf('\\n') + 1);
        const done = evicted;
        evicted = null;
        if (done) done();
      }
    });
  }
  return new Promise((resolve) => {
    evicted = resolve;
    evictor.stdin.write(files.join(' ') + '\\n');
  });
}
function once(u) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let first = null;
    const req = http.get(u, { agent }, (res) => {
      let n = 0;
      res.on('data', (d) => { if (first === null) first = process.hrtime.bigint(); n += d.length; });
      res.on('end', () => {
        const end = process.hrtime.bigint();
        resolve({ status: res.statusCode, bytes: n, at: Date.now(), sentAt, ttfbMs: Number((first ?? end) - t0) / 1e6, totalMs: Number(end - t0) / 1e6 });
      });
    });
    // When the request was handed to the kernel: a fan-out request sent after its part was ready was never parked.
    let sentAt = 0;
    req.on('finish', () => { sentAt = Date.now(); });
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, bytes: 0, at: Date.now(), sentAt, ttfbMs: 0, totalMs: 0 }));
  });
}
(async () => {
  if (mode === 'fanout') {
    await Promise.all(Array.from({ length: connections }, () => once(urls[0])));
    const go = new Promise((resolve) => parentPort.once('message', (m) => resolve(m.go)));
    parentPort.postMessage({ warm: true });
    const target = await go;
    const all = await Promise.all(Array.from({ length: connections }, () => once(target)));
    parentPort.postMessage({ done: all });
  } else if (mode === 'ttfb') {
    const out = [];
    for (const item of items) {
      if (item.evict && item.evict.length) await evict(item.evict);
      const r = await once(item.url);
      out.push({ label: item.label, status: r.status, bytes: r.bytes, ttfbMs: r.ttfbMs, totalMs: r.totalMs });
    }
    if (evictor) evictor.stdin.end();
    parentPort.postMessage({ ttfb: out });
  } else {
    for (let i = 0; i < connections; i++) await once(urls[i % urls.length]);
    const end = Date.now() + ms;
    let ok = 0, bad = 0, bytes = 0;
    await Promise.all(Array.from({ length: connections }, async (_, i) => {
      const u = urls[i % urls.length];
      while (Date.now() < end) {
        const r = await once(u);
        if (r.status === 200) { ok++; bytes += r.bytes; } else bad++;
      }
    }));
    parentPort.postMessage({ ok, bad, bytes, seconds: ms / 1000 });
  }
  agent.destroy();
})();
`;

interface LoadResult { ok: number; bad: number; bytes: number; seconds: number }

export interface TtfbItem {
  label: string;
  url: string;
  /** Files dropped from the page cache just before this request. */
  evict?: string[];
}

export interface TtfbResult {
  label: string;
  status: number;
  bytes: number;
  /** Request sent → first body byte, ms. */
  ttfbMs: number;
  /** Request sent → last byte, ms. */
  totalMs: number;
}

export function inWorker<T>(data: Record<string, unknown>, timeoutMs: number, onWarm?: (send: (m: unknown) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: data });
    if (onWarm) {
      w.on('message', (m: { warm?: boolean }) => {
        if (m.warm) onWarm((msg) => w.postMessage(msg));
      });
    }
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error('load generator timed out'));
    }, timeoutMs);
    w.on('message', (m: T & { warm?: boolean }) => {
      if (m.warm) return;
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Requests/s of `connections` keep-alive connections for `ms`, connection i on `urls[i % urls.length]`; any failure throws. */
export async function load(urls: string | string[], connections: number, ms: number): Promise<number> {
  const list = typeof urls === 'string' ? [urls] : urls;
  const r = await inWorker<LoadResult>({ mode: 'load', urls: list, connections, ms }, ms + 30000);
  if (r.ok === 0 || r.bad > 0) throw new Error(`load on ${list[0]}${list.length > 1 ? ` (+${list.length - 1})` : ''}: ${r.ok} ok, ${r.bad} failed`);
  return r.ok / r.seconds;
}

/**
 * Requests/s of several URL sets measured in turns (`rounds` rounds of `msEach` each, in the same order every
 * round), so a change in the machine's other load falls on every set alike rather than on whichever ran then.
 */
export async function loadInTurns(sets: string[][], connections: number, rounds: number, msEach: number): Promise<number[]> {
  const total = sets.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (const [i, urls] of sets.entries()) total[i] = (total[i] as number) + (await load(urls, connections, msEach)) / rounds;
  }
  return total;
}

/** Time to first byte of each item, one request at a time on one keep-alive connection. */
export async function timeToFirstByte(items: TtfbItem[], timeoutMs: number): Promise<TtfbResult[]> {
  if (items.some((i) => i.evict?.some((f) => /\s/.test(f)))) throw new Error('timeToFirstByte: files to evict must not contain white space');
  return (await inWorker<{ ttfb: TtfbResult[] }>({ mode: 'ttfb', urls: [], connections: 1, ms: 0, items }, timeoutMs)).ttfb;
}

/** The value at percentile p of an ascending list (nearest rank, rounding down). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** nginx serving `root` over HTTP on 127.0.0.1 (config, pid and logs in `dir`), one worker, keep-alive. */
export async function startNginx(root: string, dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  types { video/mp4 m4s mp4; application/vnd.apple.mpegurl m3u8; }
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    add_header Access-Control-Allow-Origin *;
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let failed: Error | null = null;
  child.once('error', (e) => (failed = e));
  const end = Date.now() + 5000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      await r.arrayBuffer();
      return { port, child };
    } catch {
      if (failed) throw new Error(`nginx did not start: ${(failed as Error).message} (Debian: apt-get install nginx)`);
      if (Date.now() > end || child.exitCode !== null) throw new Error('nginx did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
