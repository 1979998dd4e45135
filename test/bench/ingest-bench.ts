/**
 * Ingest CPU: 6 Mbps 1080p30 channels published over SRT in real time into a real Beamline process (ingest +
 * engine roles, embedded redis-server), side by side with ffmpeg receiving the same streams from the same
 * senders (`ffmpeg -i srt://…?mode=listener -c copy -f null -`). CPU is sampled from /proc for each process over
 * the same real-time publish and reported per second of media: steady (from 5 s in: a channel runs for hours,
 * its start-up once) and over the whole publish. One Beamline process serves the whole bench, as a server runs
 * for days while channels come and go; its first publish after start is reported on its own line.
 *
 * Two parts:
 * - One channel. ffmpeg's figure is small (~0.02 CPU s/s) and moved by 2x between single 15 s windows, so the
 *   bench alternates `INGEST_BENCH_ROUNDS` (2; 0 skips this part) rounds of ours then ffmpeg, each an
 *   `INGEST_BENCH_SECONDS` (30) publish, and the ratio is of the sums. Our CPU is split by thread (the main
 *   thread, libsrt's threads, our SRT receive thread, the demuxer's reading thread, the rest: V8's GC helpers
 *   and the libuv pool; a thread that ended before the last sample is missing its last 200 ms). One channel
 *   alone carries every fixed cost of the process (its timers, the HTTP server, leases, V8's helpers).
 * - `INGEST_BENCH_CHANNELS` (20; 0 skips it) channels at once, how a box is judged: ours in the one process,
 *   the reference one ffmpeg per channel, each fed by its own sender (each starting at another second of the
 *   source); one publish of each, CPU per channel. Twice: on new channels (default DVR window, an hour), the first
 *   30 s of their data, while redis-server is still taking fresh memory for it (the kernel zeroing each new page:
 *   about a third of its CPU); then (`INGEST_BENCH_FULL_WINDOW`, 1; 0 skips it) on channels keeping a 10 s DVR
 *   window, published for 50 s and measured from 25 s in, once Redis frees as much as it stores, as every channel
 *   of a server that has run longer than its DVR window does. Redis's memory at the start and end of that
 *   measurement is in the note (flat: the window was full). The reference is the same ffmpeg figure for both:
 *   `INGEST_BENCH_MANY_ROUNDS` (2) publishes of the ffmpeg receivers, each followed by one of our window-full
 *   publishes, the ratio of the sums (until 2026-12-04 one ffmpeg publish between our two: the machine's drift
 *   over the minutes between them moved the ratio by up to 0.3).
 *
 * (Until 2026-12 only the whole 12 s publish of a fresh process was reported, ffmpeg's process start-up
 * included: ours measured 2.9-3.6x, mostly the first seconds' probing and first segment.)
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForOutput, exitOf } from '../helpers/process';
import { AUTH, TEST_API_TOKEN } from '../helpers/app';
import type { Bench, BenchRow } from './harness';

const SECONDS = Math.max(10, Number(process.env.INGEST_BENCH_SECONDS) || 30);
const ROUNDS = Math.max(0, Math.floor(Number(process.env.INGEST_BENCH_ROUNDS ?? 2)));
/** Channels published at once in the bench's second part (ours: one process; the reference: one ffmpeg each). */
const CHANNELS = Math.max(0, Math.min(100, Math.floor(Number(process.env.INGEST_BENCH_CHANNELS ?? 20))));
/** The steady state starts this long after the publish began (start-up: probing, the first segment, lazy work). */
const STEADY_FROM_S = 5;
/** The many-channel publish again with Redis's memory in steady state: a short DVR window, measured once it is full. */
const FULL_WINDOW = Number(process.env.INGEST_BENCH_FULL_WINDOW ?? 1) > 0 ? { dvrWindowSeconds: 10, seconds: 50, steadyFromS: 25 } : null;
/** Alternating rounds of the many ffmpeg receivers and (with FULL_WINDOW) our window-full publish. */
const MANY_ROUNDS = Math.max(1, Math.floor(Number(process.env.INGEST_BENCH_MANY_ROUNDS ?? 2)));
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number, tid?: string): number {
  const stat = readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function makeSource(dir: string): string {
  const file = join(dir, 'src-1080p30-6M.ts');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6M', '-maxrate', '6M', '-bufsize', '6M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file,
  ]);
  return file;
}

function send(file: string, url: string): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', url], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Senders for many channels at once, each starting from a different second of the file (not in lockstep). */
function sendMany(file: string, urls: string[], seconds = SECONDS): ChildProcess[] {
  return urls.map((url, i) => spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-ss', String(i % Math.max(1, SECONDS - 2)), '-i', file, '-t', String(seconds), '-c', 'copy', '-f', 'mpegts', url], { stdio: ['ignore', 'ignore', 'ignore'] }));
}

/** One row per thread group, the busiest first: its CPU seconds over `seconds`. */
function threadRows(threads: Map<string, number> | undefined, seconds: number, note: string): BenchRow[] {
  return [...(threads ?? [])].sort((a, b) => b[1] - a[1]).map(([group, cpu]) => ({ bench: 'ingest', metric: `  of which ${group}`, ours: cpu / seconds, unit: 'CPU s/s', note }));
}

/** Bytes as MB for a note. */
function mb(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

/** Sums per-process CPU figures (many ffmpeg receivers as one reference). */
function sumCpu(all: PublishCpu[]): PublishCpu {
  return { whole: all.reduce((a, c) => a + c.whole, 0), steady: all.reduce((a, c) => a + c.steady, 0) };
}

/** Per-thread-group CPU of several publishes, summed. */
function sumThreads(all: (Map<string, number> | undefined)[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of all) for (const [group, s] of m ?? []) out.set(group, (out.get(group) ?? 0) + s);
  return out;
}

/** Per thread of a process (by tid): what it is, and its user + system CPU seconds so far. */
function threadCpu(pid: number): Map<string, { group: string; cpu: number }> {
  const out = new Map<string, { group: string; cpu: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const group = tid === String(pid) ? 'main thread'
        : comm.startsWith('SRT:') ? 'libsrt threads'
        : comm === 'beam-srt-rx' ? 'SRT receive thread'
        : comm === 'beam-demux' ? "demuxer's reading thread"
        : 'GC helpers + libuv pool';
      out.set(tid, { group, cpu: cpuSeconds(pid, tid) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** CPU seconds of the publish: whole (start-up included) and steady (from STEADY_FROM_S after it began to its end). */
interface PublishCpu { whole: number; steady: number; /** Steady CPU seconds by thread group (ours only). */ threads?: Map<string, number> }

/**
 * Samples `pids`' CPU every 200 ms while `running` resolves; the last sample of a process that exits is kept.
 * Returns, per pid, the CPU used over the whole run and from `steadyFromMs` on.
 */
async function sampleCpu(pids: number[], running: Promise<unknown>, steadyFromMs: number, threadsOf?: number): Promise<PublishCpu[]> {
  const t0 = Date.now();
  const first = pids.map((p) => cpuSeconds(p));
  const last = [...first];
  const atSteady: (number | null)[] = pids.map(() => null);
  // Every thread's last sample, kept after it ends (a demuxer's reading thread ends with its publish).
  const threadsSeen = new Map<string, { group: string; cpu: number }>();
  let threadsAtSteady: Map<string, number> | null = null;
  let done = false;
  void running.finally(() => { done = true; });
  while (!done) {
    await new Promise((r) => setTimeout(r, 200));
    pids.forEach((p, i) => {
      try {
        last[i] = cpuSeconds(p);
      } catch {
        // exited: its last sample stands
      }
      if (atSteady[i] === null && Date.now() - t0 >= steadyFromMs) atSteady[i] = last[i] as number;
    });
    if (threadsOf !== undefined) {
      for (const [tid, t] of threadCpu(threadsOf)) threadsSeen.set(tid, t);
      if (threadsAtSteady === null && Date.now() - t0 >= steadyFromMs) threadsAtSteady = new Map([...threadsSeen].map(([tid, t]) => [tid, t.cpu]));
    }
  }
  const threads = new Map<string, number>();
  if (threadsAtSteady) for (const [tid, t] of threadsSeen) threads.set(t.group, (threads.get(t.group) ?? 0) + t.cpu - (threadsAtSteady.get(tid) ?? 0));
  return pids.map((_, i) => ({ whole: (last[i] as number) - (first[i] as number), steady: (last[i] as number) - (atSteady[i] ?? (last[i] as number)), ...(i === 0 && threadsOf !== undefined ? { threads } : {}) }));
}

/** A Beamline process (engine + ingest roles, embedded redis-server) for the whole bench: a server that keeps running. */
interface OurServer {
  publish(file: string): Promise<{ node: PublishCpu; redis: PublishCpu }>;
  /**
   * `n` channels published at once (created on first use, empty ladders): `many<i>` with the default DVR window,
   * or, given `window`, `window<i>` keeping `dvrWindowSeconds`, published for `seconds`, steady from `steadyFromS`.
   */
  publishMany(file: string, n: number, window?: typeof FULL_WINDOW): Promise<{ node: PublishCpu; redis: PublishCpu; redisMemory: [number, number] }>;
  close(): Promise<void>;
}

async function startOurs(dir: string): Promise<OurServer> {
  const [http, srt, rtmp] = [await freePort(), await freePort(), await freePort()];
  // Nothing is archived while the bench runs (the longest hot window): the archiver moving an earlier publish's
  // media to disk two minutes after it would land in a later measurement, ours or the reference's (it did, in the
  // second window-full round, until 2026-12-04). Every earlier publish stays in Redis beside the measured one.
  const beam = spawn(process.execPath, [resolve(__dirname, '../../beamline.js'), '--roles', 'engine,ingest'], {
    env: { PATH: process.env.PATH ?? '', BEAM_APP_PORT: String(http), BEAM_APP_HOST: '127.0.0.1', BEAM_SRT_PORT: String(srt), BEAM_SRT_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(rtmp), BEAM_RTMP_HOST: '127.0.0.1', BEAM_DATA_DIR: join(dir, 'beam'), BEAM_LOG_LEVEL: 'warn', BEAM_API_TOKEN: TEST_API_TOKEN, BEAM_HOT_WINDOW_SECONDS: '604800' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const close = async (): Promise<void> => {
    beam.kill('SIGTERM');
    await exitOf(beam, 10000);
  };
  try {
    await waitForOutput(beam, /Beamline is running/, 20000);
    // Not a terminal: the banner prints no stream key; the channel API gives it with the token.
    const channel = async (name = 'main') => ((await (await fetch(`http://127.0.0.1:${http}/api/channels/${name}`, { headers: AUTH })).json()) as { streamKey: string; status: { state: string; ingest: { bytes: number } | null } });
    const key = (await channel()).streamKey;
    const redisSocket = join(dir, 'beam', 'redis.sock');
    const redisPid = Number(execFileSync('pgrep', ['-f', `^redis-server unixsocket:${redisSocket}`]).toString().trim().split('\n')[0]);
    /** Our process's and its redis-server's CPU while the senders run (and 500 ms after, for the tail). */
    const sampleOurs = async (ended: Promise<unknown>, steadyFromS = STEADY_FROM_S) => {
      const [node, redis] = await sampleCpu([beam.pid as number, redisPid], ended.then(() => new Promise((r) => setTimeout(r, 500))), steadyFromS * 1000, beam.pid as number);
      return { node: node as PublishCpu, redis: redis as PublishCpu };
    };
    const redisMemory = () => Number(/used_memory:(\d+)/.exec(execFileSync('redis-cli', ['-s', redisSocket, 'INFO', 'memory']).toString())?.[1] ?? 0);
    const publish = async (file: string) => {
      // The previous publisher is gone (the channel idle, or in its reconnect window) before the next one starts.
      for (let waited = 0; (await channel()).status.state === 'live'; waited += 100) {
        if (waited > 15000) throw new Error('the channel was still live 15 s after the previous publish ended');
        await new Promise((r) => setTimeout(r, 100));
      }
      const sender = send(file, `srt://127.0.0.1:${srt}?streamid=${key}&pkt_size=1316`);
      let senderErr = '';
      sender.stderr?.on('data', (d: Buffer) => (senderErr += d.toString()));
      const t0 = Date.now();
      const exit = exitOf(sender, (SECONDS + 20) * 1000);
      const cpu = await sampleOurs(exit);
      const code = await exit;
      const bytes = (await channel()).status.ingest?.bytes ?? 0;
      if (code !== 0 || Date.now() - t0 < SECONDS * 900 || bytes < 1e6) {
        throw new Error(`the publish did not go through (sender exit ${code}, ${Date.now() - t0} ms, ${bytes} bytes ingested): ${senderErr.trim()}`);
      }
      return cpu;
    };
    const keysOf = new Map<string, string[]>();
    const publishMany = async (file: string, n: number, window?: typeof FULL_WINDOW) => {
      const prefix = window ? 'window' : 'many';
      const keys = keysOf.get(prefix) ?? [];
      keysOf.set(prefix, keys);
      for (let i = keys.length; i < n; i++) {
        const body = { name: `${prefix}${i}`, ladder: [], ...(window ? { dvrWindowSeconds: window.dvrWindowSeconds } : {}) };
        const res = await fetch(`http://127.0.0.1:${http}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify(body) });
        if (res.status !== 201) throw new Error(`creating ${prefix}${i}: ${res.status} ${await res.text()}`);
        keys.push(((await res.json()) as { streamKey: string }).streamKey);
      }
      const seconds = window?.seconds ?? SECONDS;
      const steadyFromS = window?.steadyFromS ?? STEADY_FROM_S;
      const senders = sendMany(file, keys.slice(0, n).map((key) => `srt://127.0.0.1:${srt}?streamid=${key}&pkt_size=1316`), seconds);
      const ended = Promise.all(senders.map((x) => exitOf(x, (seconds + 20) * 1000)));
      let memoryAtSteady = 0;
      const atSteady = setTimeout(() => (memoryAtSteady = redisMemory()), steadyFromS * 1000);
      const memoryAtEnd = ended.then(() => redisMemory());
      const cpu = await sampleOurs(ended, steadyFromS);
      clearTimeout(atSteady);
      const codes = await ended;
      const bytes = await Promise.all(Array.from({ length: n }, async (_, i) => (await channel(`${prefix}${i}`)).status.ingest?.bytes ?? 0));
      const short = bytes.filter((b) => b < 1e6).length;
      if (codes.some((c) => c !== 0) || short > 0) throw new Error(`the ${n} publishes did not all go through (sender exits ${codes.join(',')}; ${short} channels got under 1 MB)`);
      return { ...cpu, redisMemory: [memoryAtSteady, await memoryAtEnd] as [number, number] };
    };
    return { publish, publishMany, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** `n` ffmpeg receivers, one per channel, each fed by its own sender; their CPU summed. */
async function measureFfmpeg(file: string, n: number): Promise<PublishCpu> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const recvs = ports.map((port) => spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', `srt://127.0.0.1:${port}?mode=listener`, '-c', 'copy', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'ignore'] }));
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const senders = sendMany(file, ports.map((port) => `srt://127.0.0.1:${port}?pkt_size=1316`));
    const ended = Promise.all(senders.map((x) => exitOf(x, (SECONDS + 20) * 1000))).then(() => Promise.all(recvs.map((r) => exitOf(r, 10000))));
    return sumCpu(await sampleCpu(recvs.map((r) => r.pid as number), ended, STEADY_FROM_S * 1000));
  } finally {
    for (const r of recvs) r.kill('SIGKILL');
  }
}

export const ingestBench: Bench = {
  name: 'ingest',
  description: `CPU of 6 Mbps 1080p30 SRT channels into Redis vs ffmpeg -c copy receiving them: one channel (${ROUNDS} alternating rounds of ${SECONDS} s), then ${CHANNELS} at once${FULL_WINDOW ? `, on new channels and with their DVR window full` : ''}`,
  async run(): Promise<BenchRow[]> {
    if (ROUNDS === 0 && CHANNELS === 0) throw new Error('INGEST_BENCH_ROUNDS and INGEST_BENCH_CHANNELS are both 0: nothing to measure');
    const dir = mkdtempSync(join(tmpdir(), 'beamline-ingest-bench-'));
    let ours: OurServer | null = null;
    try {
      const file = makeSource(dir);
      ours = await startOurs(dir);
      // The server's first publish after it started (V8 compiling the packet path, lazy set-up) on its own line;
      // the rounds are later publishes on the same server.
      const first = ROUNDS > 0 ? await ours.publish(file) : null;
      // Rounds alternate ours and ffmpeg so the machine's other load falls on both alike; sums over the rounds.
      const sum = { node: { whole: 0, steady: 0 }, redis: { whole: 0, steady: 0 }, ref: { whole: 0, steady: 0 }, threads: new Map<string, number>() };
      const perRound: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const mine = await ours.publish(file);
        const ref = await measureFfmpeg(file, 1);
        for (const [k, v] of [['node', mine.node], ['redis', mine.redis], ['ref', ref]] as const) {
          sum[k].whole += v.whole;
          sum[k].steady += v.steady;
        }
        for (const [group, s] of mine.node.threads ?? []) sum.threads.set(group, (sum.threads.get(group) ?? 0) + s);
        perRound.push(`${((mine.node.steady + mine.redis.steady) / Math.max(ref.steady, 1e-6)).toFixed(1)}x`);
      }
      const steadyS = (SECONDS - STEADY_FROM_S) * ROUNDS;
      const wholeS = SECONDS * ROUNDS;
      const refName = 'ffmpeg -i srt://…?mode=listener -c copy -f null -';
      const steadyNote = `${ROUNDS} alternating rounds of a ${SECONDS} s publish, each from ${STEADY_FROM_S} s in to its end (start-up left out, for both); per round ${perRound.join(', ')}`;
      const manyRows: BenchRow[] = [];
      if (CHANNELS > 0) {
        // Many channels at once: what a box is judged by. Ours in one process; the reference one ffmpeg per channel.
        // New channels once (they are new only once); then rounds alternating the ffmpeg receivers and our
        // window-full publish, so that the machine's drift over the minutes falls on both alike: the ratios are of sums.
        const mine = await ours.publishMany(file, CHANNELS);
        const refs: PublishCpu[] = [];
        const fulls: { node: PublishCpu; redis: PublishCpu; redisMemory: [number, number] }[] = [];
        for (let round = 0; round < MANY_ROUNDS; round++) {
          refs.push(await measureFfmpeg(file, CHANNELS));
          if (FULL_WINDOW) fulls.push(await ours.publishMany(file, CHANNELS, FULL_WINDOW));
        }
        const ref = sumCpu(refs);
        const perChannelS = (SECONDS - STEADY_FROM_S) * CHANNELS * MANY_ROUNDS;
        const ourNewS = (SECONDS - STEADY_FROM_S) * CHANNELS;
        const label = `${CHANNELS} channels at once`;
        /** One many-channel publish's rows: ours per channel against the ffmpeg receivers, by thread, per core. */
        const rowsOf = (label: string, cpu: { node: PublishCpu; redis: PublishCpu }, ourS: number, cpuNote: string, threadNote: string): BenchRow[] => [
          { bench: 'ingest', metric: `${label}: CPU s per channel per media s, steady (+ its redis-server)`, ours: (cpu.node.steady + cpu.redis.steady) / ourS, reference: ref.steady / perChannelS, referenceName: `${CHANNELS} × ${refName}`, unit: 'CPU s/s', note: `lower is better; ${cpuNote}; the issue's goal is <= 1.5x` },
          ...threadRows(cpu.node.threads, ourS, threadNote),
          { bench: 'ingest', metric: '  its redis-server', ours: cpu.redis.steady / ourS, unit: 'CPU s/s', note: threadNote },
          { bench: 'ingest', metric: `${label}: 6 Mbps 1080p30 channels per core`, ours: ourS / Math.max(cpu.node.steady + cpu.redis.steady, 1e-6), reference: perChannelS / Math.max(ref.steady, 1e-6), referenceName: `${CHANNELS} × ${refName}`, unit: 'channels', note: 'higher is better; from the line above (process + redis-server)' },
        ];
        const refNote = `the reference: ${MANY_ROUNDS} publish${MANY_ROUNDS > 1 ? 'es' : ''} of each, ${FULL_WINDOW ? 'alternating with ours with the window full' : 'after ours'}, from ${STEADY_FROM_S} s in`;
        manyRows.push(...rowsOf(label, mine, ourNewS, `one ${SECONDS} s publish of each on new channels, from ${STEADY_FROM_S} s in (Redis still taking fresh memory: ${mb(mine.redisMemory[0])} → ${mb(mine.redisMemory[1])}); ${refNote}`, 'steady, per channel'));
        if (FULL_WINDOW) {
          // The same channels' load on a server past its DVR window: Redis frees as much as it stores.
          const full = { node: { ...sumCpu(fulls.map((f) => f.node)), threads: sumThreads(fulls.map((f) => f.node.threads)) }, redis: sumCpu(fulls.map((f) => f.redis)) };
          const fullRoundS = (FULL_WINDOW.seconds - FULL_WINDOW.steadyFromS) * CHANNELS;
          const fullS = fullRoundS * MANY_ROUNDS;
          const perRound = fulls.map((f, i) => `${((f.node.steady + f.redis.steady) / fullRoundS / ((refs[i] as PublishCpu).steady / ourNewS)).toFixed(2)}x`);
          const memory = fulls.map((f) => `${mb(f.redisMemory[0])} → ${mb(f.redisMemory[1])}`).join(', ');
          manyRows.push(...rowsOf(`${label}, DVR window full`, full, fullS, `${FULL_WINDOW.dvrWindowSeconds} s DVR windows, ${MANY_ROUNDS} publish${MANY_ROUNDS > 1 ? 'es' : ''} of ${FULL_WINDOW.seconds} s of each, from ${FULL_WINDOW.steadyFromS} s in (Redis memory ${memory}), alternating with the reference's; per round ${perRound.join(', ')}`, 'steady, per channel, window full'));
        }
      }
      const singleRows: BenchRow[] = ROUNDS === 0 ? [] : [
        { bench: 'ingest', metric: 'CPU s per media s, steady (Beamline process)', ours: sum.node.steady / steadyS, reference: sum.ref.steady / steadyS, referenceName: refName, unit: 'CPU s/s', note: `lower is better; ${steadyNote}; ours demuxes, segments and writes to Redis` },
        ...threadRows(sum.threads, steadyS, 'steady, our process split by thread'),
        { bench: 'ingest', metric: '  its redis-server', ours: sum.redis.steady / steadyS, unit: 'CPU s/s', note: 'steady' },
        { bench: 'ingest', metric: 'CPU s per media s, steady (+ its redis-server)', ours: (sum.node.steady + sum.redis.steady) / steadyS, reference: sum.ref.steady / steadyS, referenceName: refName, unit: 'CPU s/s', note: `lower is better; the issue's goal is <= 1.5x` },
        { bench: 'ingest', metric: "CPU s per media s, steady, the server's first publish (+ its redis-server)", ours: ((first?.node.steady ?? 0) + (first?.redis.steady ?? 0)) / (SECONDS - STEADY_FROM_S), reference: sum.ref.steady / steadyS, referenceName: refName, unit: 'CPU s/s', note: 'lower is better; the first publish after the process started' },
        { bench: 'ingest', metric: 'CPU s per media s, whole publish (+ its redis-server)', ours: (sum.node.whole + sum.redis.whole) / wholeS, reference: sum.ref.whole / wholeS, referenceName: refName, unit: 'CPU s/s', note: 'lower is better; start-up included (demuxer probing, first segment), for both' },
        { bench: 'ingest', metric: '6 Mbps 1080p30 channels per core (steady, one channel)', ours: steadyS / Math.max(sum.node.steady + sum.redis.steady, 1e-6), unit: 'channels', note: 'from the steady line with redis-server: one channel alone carries the process\'s fixed costs' },
      ];
      return [...singleRows, ...manyRows];
    } finally {
      await ours?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
