// Real SRT publishers for the SRT server's integration tests: ffmpeg and srt-live-transmit children
// that are bounded in time and always killed, plus small helpers to collect and check what arrives.
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawn, type ChildProcess } from 'node:child_process';
import type { SrtSession } from '../../../ingest/srt/srt-server';

export interface Child {
  proc: ChildProcess;
  /** Exit code (or null when killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
}

/** Tracks every child so `killAll` can end them whatever a test did. */
export function createChildren() {
  const all = new Set<ChildProcess>();

  function run(cmd: string, args: string[], maxMs: number): Child {
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    all.add(proc);
    let out = '';
    proc.stderr?.on('data', (d: Buffer) => {
      if (out.length < 8192) out += d.toString();
    });
    proc.stdin?.on('error', () => undefined);
    const timer = setTimeout(() => proc.kill('SIGKILL'), maxMs);
    const exited = new Promise<number | null>((resolve) => {
      proc.on('exit', (code) => {
        clearTimeout(timer);
        all.delete(proc);
        resolve(code);
      });
      proc.on('error', (err) => {
        clearTimeout(timer);
        all.delete(proc);
        out += String(err);
        resolve(-1);
      });
    });
    return { proc, exited, output: () => out };
  }

  function killAll(): void {
    for (const p of all) p.kill('SIGKILL');
    all.clear();
  }

  return { run, killAll };
}

export function srtUrl(port: number, streamId: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ streamid: streamId, pkt_size: '1316', ...extra });
  return `srt://127.0.0.1:${port}?${q.toString()}`;
}

/** ffmpeg test source (testsrc2 + sine, H.264 + AAC in MPEG-TS) at real time for `seconds`. */
export function ffmpegArgs(output: string, seconds: number): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-c:a', 'aac',
    '-f', 'mpegts', output,
  ];
}

export interface Received {
  bytes: number;
  chunks: Buffer[];
  firstAt: number;
  lastAt: number;
  closeReason?: string;
  closed: Promise<string>;
}

export function collect(session: SrtSession): Received {
  const r: Received = { bytes: 0, chunks: [], firstAt: 0, lastAt: 0, closed: Promise.resolve('') };
  session.on('data', (chunk) => {
    const now = Date.now();
    if (r.bytes === 0) r.firstAt = now;
    r.lastAt = now;
    r.bytes += chunk.length;
    r.chunks.push(chunk);
  });
  r.closed = new Promise((resolve) => {
    session.on('close', (reason) => {
      r.closeReason = reason;
      resolve(reason);
    });
  });
  return r;
}

/** Offsets (at most `limit`) where the 188-byte MPEG-TS packet grid does not start with 0x47. */
export function tsSyncErrors(data: Buffer, limit = 5): number[] {
  const bad: number[] = [];
  for (let off = 0; off + 188 <= data.length && bad.length < limit; off += 188) {
    if (data[off] !== 0x47) bad.push(off);
  }
  return bad;
}

export async function waitFor(what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Resolves once `count()` has not changed for `quietMs` (a stream's tail has drained). */
export async function waitQuiet(what: string, count: () => number, quietMs: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = count();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}
