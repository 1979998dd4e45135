/**
 * Catch-up storage (tiered: a hot window in Redis, the rest in the archive), ratios measured in one run.
 *
 * 1. Redis memory: a real Beamline process (`--roles engine,ingest`, the archiver included, its embedded
 *    redis-server, a file:// archive) and a second one with the transcoder role on the same Redis; one channel
 *    with a one-rung ladder (360p, 800 kb/s) gets a 720p30 3 Mbps + AAC 128 kb/s MPEG-TS file (testsrc2 + sine,
 *    made once) over SRT in real time. Two such set-ups run side by side on the same file at the same time (the
 *    machine's other load falls on both alike): one with a 15 s hot window, one with archiving off (a hot window
 *    longer than the run, everything in RAM). Redis `used_memory` and the channel's keys are sampled once the
 *    hot window is full; the growth rate is the least-squares slope of the lowest sample of each archiver pass
 *    interval (payloads leave in passes, a sawtooth), as MB per channel-hour.
 * 2. Ingest CPU: each Beamline process's CPU seconds (from /proc) over that publish, archiving on vs off.
 * 3. Archived segments through the packager (in this process: a test redis-server, the store with a file
 *    archive, /live): a channel with a 7 h DVR window whose history is a real recording (ffmpeg over SRT into
 *    ingest) copied through the store and live-store APIs with its wall clock moved 6 h back, followed by the
 *    same recording as its present (hot) segments; the archiver, with its real clock, moves the 6-hour-old
 *    segments to the archive. Requests/s for archived segments (every request reads the archive, and with the
 *    packager's segment cache) against nginx serving the same bytes from files; time to first byte of a
 *    catch-up segment 6 h back (listed by a catch-up playlist) against a hot one, with the archive objects in
 *    the page cache and dropped from it before each request.
 * Benchmarks are never timed assertions in the test suite.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../engine/api/app';
import { createEngineMetrics } from '../../engine/api/metrics';
import { createStore, type PacketRead } from '../../core/store/store';
import { createChannelStore } from '../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../core/store/live-store';
import { createKeys } from '../../core/store/keys';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../core/store/redis-connection';
import { createFileArchive } from '../../core/archive/file-archive';
import { createArchiver } from '../../core/archive/archiver';
import { createChannel, type Rung } from '../../core/model/channel';
import { AUDIO_STREAM, VIDEO_STREAM, type SegmentRecord } from '../../core/model/live';
import { loadConfig } from '../../core/config/config';
import { createIngestService, DEFAULT_INGEST_CONFIG } from '../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../transcoders/ladder';
import { livePlugin } from '../../packager/live-plugin';
import { startTestRedis } from '../helpers/redis';
import { exitOf, freePort, waitFor, waitForOutput } from '../helpers/process';
import { AUTH, TEST_API_TOKEN, TEST_APP_CONFIG } from '../helpers/app';
import type { Bench, BenchRow } from './harness';
import { loadInTurns, percentile, startNginx, timeToFirstByte, type TtfbItem, type TtfbResult } from './http-load';
import { copySegments, lowerEnvelope, mbPerHour, slopePerSecond, type Sample } from './archive-figures';

const PUBLISH_SECONDS = 80;
/** Sampling starts once the hot window is full: 15 s + a 2 s segment + a pass interval, with margin. */
const SAMPLE_FROM_MS = 24_000;
const HOT_WINDOW_SECONDS = 15;
/** "Archiving off": a hot window longer than the run keeps everything in Redis. */
const OFF_HOT_WINDOW_SECONDS = 3600;
const CHANNEL = 'bench';
const RUNG: Rung = { name: '360p', width: 640, height: 360, videoBitrate: 800_000, maxBitrate: 880_000, profile: 'main' };
const SOURCE = '720p30 3 Mbps + AAC 128 kb/s, one 360p rung';

/** The catch-up part: seconds recorded, how far back the history is, and its channel's DVR window. */
const RECORD_SECONDS = 22;
const HISTORY_BACK_MS = 6 * 3600 * 1000;
const DVR_SECONDS = 7 * 3600;
const LOAD_CONNECTIONS = 8;
/** Per URL set: LOAD_ROUNDS turns adding up to LOAD_MS. */
const LOAD_MS = 4000;
const LOAD_ROUNDS = 4;
const TTFB_ROUNDS = 16;
const COLD_ROUNDS = 6;

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function makeSource(dir: string, seconds: number): string {
  const file = join(dir, 'src-720p30-3M.ts');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '3M', '-maxrate', '3M', '-bufsize', '3M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file,
  ]);
  return file;
}

/** ffmpeg sending the file over SRT in real time (stream copy), the first `seconds` of it when given. */
function send(file: string, url: string, seconds?: number): { child: ChildProcess; stderr: () => string } {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', file, ...(seconds ? ['-t', String(seconds)] : []), '-c', 'copy', '-f', 'mpegts', url], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return { child, stderr: () => err.trim() };
}

interface BeamProcess {
  child: ChildProcess;
  httpPort: number;
  srtPort: number;
  output(): string;
  stop(): Promise<void>;
}

async function startBeamline(roles: string, env: Record<string, string>): Promise<BeamProcess> {
  const [http, srt, rtmp] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [resolve(__dirname, '../../beamline.js'), '--roles', roles], {
    env: {
      PATH: process.env.PATH ?? '', BEAM_APP_PORT: String(http), BEAM_APP_HOST: '127.0.0.1', BEAM_SRT_PORT: String(srt), BEAM_SRT_HOST: '127.0.0.1',
      BEAM_RTMP_PORT: String(rtmp), BEAM_RTMP_HOST: '127.0.0.1', BEAM_LOG_LEVEL: 'warn', BEAM_API_TOKEN: TEST_API_TOKEN, ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exitOf(child, 15000);
  };
  try {
    await waitForOutput(child, /Beamline is running/, 30000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, httpPort: http, srtPort: srt, output: () => out, stop };
}

/** What one publish into a real Beamline process gave. */
interface PublishRun {
  memory: Sample[];
  keys: Sample[];
  /** CPU seconds of the Beamline process (engine + ingest + archiver) and of its redis-server over the publish. */
  beamCpu: number;
  redisCpu: number;
  endMemory: number;
  lastSegment: number;
  archived: number;
  rungMade: number;
}

/** A Beamline process (engine, ingest and the archiver; its embedded redis-server) and a transcoder process on that Redis, one channel ready. */
interface Setup {
  main: BeamProcess;
  procs: BeamProcess[];
  redis: RedisClient;
  live: LiveStore;
  streamKey: string;
  beamPid: number;
  redisPid: number;
  info(section: string, field: string): Promise<number>;
  countKeys(): Promise<number>;
}

async function setUp(dir: string, hotWindowSeconds: number, procs: BeamProcess[], clients: RedisClient[]): Promise<Setup> {
  const data = join(dir, `beam-${hotWindowSeconds}`);
  const archiveUrl = `file://${join(data, 'archive')}`;
  const main = await startBeamline('engine,ingest', { BEAM_DATA_DIR: data, BEAM_HOT_WINDOW_SECONDS: String(hotWindowSeconds), BEAM_ARCHIVE_URL: archiveUrl });
  procs.push(main);
  const socket = join(data, 'redis.sock');
  procs.push(await startBeamline('transcoder', { BEAM_DATA_DIR: join(dir, `transcoder-${hotWindowSeconds}`), BEAM_REDIS_URL: `unix://${socket}`, BEAM_ARCHIVE_URL: archiveUrl }));
  const redis = connectRedis(parseRedisUrl(`unix://${socket}`));
  clients.push(redis);
  const keys = createKeys('beam');
  const created = await fetch(`http://127.0.0.1:${main.httpPort}/api/channels`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ name: CHANNEL, ladder: [RUNG] }) });
  const ch = (await created.json()) as { streamKey?: string };
  if (created.status !== 201 || !ch.streamKey) throw new Error(`could not create the channel (${created.status}): ${JSON.stringify(ch)}`);
  const info = async (section: string, field: string) => Number(new RegExp(`${field}:(\\d+)`).exec(await redis.info(section))?.[1]);
  return {
    main, procs, redis, streamKey: ch.streamKey, info,
    live: createLiveStore({ redis, keys }, { eventsMaxLen: 10000 }),
    beamPid: main.child.pid as number,
    redisPid: await info('server', 'process_id'),
    async countKeys() {
      let n = 0;
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}:{${CHANNEL}*`, 'COUNT', 2000);
        n += found.length;
        cursor = next;
      } while (cursor !== '0');
      return n;
    },
  };
}

/**
 * The same file published in real time into every set-up at once (the machine's other load falls on all of
 * them alike), Redis sampled from SAMPLE_FROM_MS to the end of the publish.
 */
async function publishSideBySide(file: string, setups: Setup[]): Promise<PublishRun[]> {
  const senders = setups.map((s) => send(file, `srt://127.0.0.1:${s.main.srtPort}?streamid=${s.streamKey}&pkt_size=1316`));
  try {
    const n0 = setups.map((s) => cpuSeconds(s.beamPid));
    const r0 = setups.map((s) => cpuSeconds(s.redisPid));
    const t0 = Date.now();
    const codes: (number | null | undefined)[] = senders.map(() => undefined);
    senders.forEach((s, i) => void exitOf(s.child, (PUBLISH_SECONDS + 30) * 1000).then((c) => (codes[i] = c)));
    const memory: Sample[][] = setups.map(() => []);
    const keyCounts: Sample[][] = setups.map(() => []);
    for (let tick = 0; codes.some((c) => c === undefined); tick++) {
      const t = Date.now() - t0;
      if (t >= SAMPLE_FROM_MS) {
        for (const [i, s] of setups.entries()) {
          (memory[i] as Sample[]).push({ t, v: await s.info('memory', 'used_memory') });
          if (tick % 2 === 0) (keyCounts[i] as Sample[]).push({ t, v: await s.countKeys() });
        }
      }
      await sleep(500);
    }
    const elapsed = Date.now() - t0;
    await sleep(500);
    const beamCpu = setups.map((s, i) => cpuSeconds(s.beamPid) - (n0[i] as number));
    const redisCpu = setups.map((s, i) => cpuSeconds(s.redisPid) - (r0[i] as number));
    const out: PublishRun[] = [];
    for (const [i, s] of setups.entries()) {
      const lastSegment = (await s.live.lastSegments(CHANNEL, 1))[0]?.index ?? 0;
      if (codes[i] !== 0 || elapsed < PUBLISH_SECONDS * 900 || lastSegment < PUBLISH_SECONDS / 2 - 6) {
        throw new Error(`the publish did not go through (sender exit ${String(codes[i])}, ${elapsed} ms, ${lastSegment} segments): ${senders[i]?.stderr()}\n${s.main.output()}`);
      }
      out.push({
        memory: memory[i] as Sample[], keys: keyCounts[i] as Sample[], beamCpu: beamCpu[i] as number, redisCpu: redisCpu[i] as number, lastSegment,
        endMemory: await s.info('memory', 'used_memory'),
        archived: (await s.live.archiveProgress(CHANNEL))[CHANNEL] ?? 0,
        rungMade: (await s.live.rungMade(CHANNEL, RUNG.name, 1, lastSegment)).length,
      });
    }
    return out;
  } finally {
    for (const s of senders) s.child.kill('SIGKILL');
  }
}

/** Archiving on (a HOT_WINDOW_SECONDS hot window) and off, published side by side. */
async function publishRuns(file: string, dir: string): Promise<{ on: PublishRun; off: PublishRun }> {
  const procs: BeamProcess[] = [];
  const clients: RedisClient[] = [];
  try {
    const on = await setUp(dir, HOT_WINDOW_SECONDS, procs, clients);
    const off = await setUp(dir, OFF_HOT_WINDOW_SECONDS, procs, clients);
    await sleep(300);
    const [a, b] = await publishSideBySide(file, [on, off]);
    return { on: a as PublishRun, off: b as PublishRun };
  } finally {
    for (const c of clients) c.disconnect();
    for (const p of procs.reverse()) await p.stop();
  }
}

/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/** Bytes of `files` resident in the page cache (util-linux fincore), or null when it cannot tell. */
function residentBytes(files: string[]): number | null {
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files]).toString();
    return out.trim().split('\n').reduce((a, l) => a + Number(l.trim() || 0), 0);
  } catch {
    return null;
  }
}

function latencyRows(what: string, ours: TtfbResult[], hot: TtfbResult[], note: string): BenchRow[] {
  const a = ours.map((r) => r.ttfbMs).sort((x, y) => x - y);
  const h = hot.map((r) => r.ttfbMs).sort((x, y) => x - y);
  const ref = 'hot segment (payloads in Redis)';
  return [
    { bench: 'archive', metric: `TTFB p50, catch-up segment 6 h back, ${what}`, ours: percentile(a, 50), reference: percentile(h, 50), referenceName: ref, unit: 'ms', note: `${note}; ${a.length} vs ${h.length} requests` },
    { bench: 'archive', metric: `TTFB p99, catch-up segment 6 h back, ${what}`, ours: percentile(a, 99), reference: percentile(h, 99), referenceName: ref, unit: 'ms', note: 'lower is better; nearest rank' },
  ];
}

/**
 * The catch-up rows (archived segment requests/s, TTFB 6 h back): an archived DVR history 6 h back, served by
 * /live in this process, against nginx and against hot segments.
 */
async function catchUpRows(file: string, dir: string): Promise<BenchRow[]> {
  const redis = await startTestRedis();
  const archiveDir = join(dir, 'archive');
  const client = redis.connect();
  const store = createStore({ redis: client, archive: createFileArchive({ dir: archiveDir }) }, { prefix: 'bench', packetTtlMs: DVR_SECONDS * 1000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  const live: LiveStore = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  const ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: silent },
    { ...DEFAULT_INGEST_CONFIG, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  const archiver = createArchiver({ store, live, channels, log: silent }, { hotWindowMs: OFF_HOT_WINDOW_SECONDS * 1000, intervalMs: 60_000 });
  const apps: FastifyInstance[] = [];
  let nginx: ChildProcess | null = null;
  let sender: ReturnType<typeof send> | null = null;
  try {
    await ingest.start();
    // The recording: a real publish of the same file into a channel of its own.
    const rec = createChannel({ name: 'rec', ladder: [] }, validateLadder, DEFAULT_LADDER);
    await channels.create(rec);
    await sleep(200);
    sender = send(file, `srt://127.0.0.1:${ingest.srtPort() as number}?streamid=${rec.streamKey}&pkt_size=1316`, RECORD_SECONDS);
    const code = await exitOf(sender.child, (RECORD_SECONDS + 30) * 1000);
    if (code !== 0) throw new Error(`the recording's publisher failed (${String(code)}): ${sender.stderr()}`);
    await sleep(1000);
    const closed = (await live.segments('rec', 1, 1000)).filter((s) => s.durationPts !== null);
    if (closed.length < LOAD_CONNECTIONS) throw new Error(`the recording has ${closed.length} closed segments, ${LOAD_CONNECTIONS} wanted`);
    const first = closed[0] as SegmentRecord;
    const last = closed[closed.length - 1] as SegmentRecord & { durationPts: number };
    const end = last.startDts + last.durationPts;
    const packets = new Map<number, PacketRead[]>([
      [VIDEO_STREAM, await store.readPackets('rec', VIDEO_STREAM, first.startDts, end)],
      [AUDIO_STREAM, await store.readPackets('rec', AUDIO_STREAM, first.startPts - 90000, end + 90000)],
    ]);
    const parts = await live.parts('rec', first.index, last.index);
    const recorded = closed.map((segment) => ({ segment, parts: parts.filter((p) => p.segment === segment.index) }));
    const format = await store.getFormat('rec');
    if (!format) throw new Error('the recording has no format');

    // The DVR channel: the recording 6 h back (history), then again as its present, one session later.
    const dvr = createChannel({ name: 'dvr', ladder: [], dvrWindowSeconds: DVR_SECONDS }, validateLadder, DEFAULT_LADDER);
    await channels.create(dvr);
    await store.createContent({ ...format, url: 'dvr' });
    const history = copySegments(recorded, packets, { indexOffset: 0, ptsOffset: 0, wallOffsetMs: -HISTORY_BACK_MS, newSession: false });
    const present = copySegments(recorded, packets, { indexOffset: last.index, ptsOffset: end - first.startDts, wallOffsetMs: 0, newSession: true });
    for (const seg of [...history, ...present]) {
      const w = await store.writePackets('dvr', seg.packets, DVR_SECONDS * 1000);
      if (w.written !== seg.packets.length) throw new Error(`segment ${seg.segment.index}: ${w.written} of ${seg.packets.length} packets written (${w.refused} refused, ${w.duplicates} duplicates)`);
      await live.writeBoundaries('dvr', { segments: [seg.segment], parts: seg.parts, retainMs: DVR_SECONDS * 1000 });
    }
    const pass = await archiver.runOnce();
    const archivedTo = (await live.archiveProgress('dvr')).dvr ?? 0;
    if (pass.failures > 0 || archivedTo !== last.index) throw new Error(`the archiver archived the history up to ${archivedTo} of ${last.index} (${pass.failures} failures)`);
    const objects = filesUnder(archiveDir);

    const server = async (config: { cacheBytes: number } | undefined): Promise<string> => {
      const app = await buildApp({ store, metrics: createEngineMetrics(undefined, false), log: silent, plugins: [(s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect() }, ...(config ? { config } : {}) })] }, TEST_APP_CONFIG);
      apps.push(app);
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/live/dvr`;
    };
    // Every request builds its segment (reads its packets) again: a cache of 1 byte keeps nothing.
    const uncached = await server({ cacheBytes: 1 });
    const cached = await server(undefined);

    // The catch-up playlist of the history lists the archived segments.
    const from = Math.floor((history[0] as (typeof history)[number]).segment.wallClockMs / 1000);
    const to = Math.ceil((last.wallClockMs - HISTORY_BACK_MS) / 1000) + 2;
    const pl = await fetch(`${uncached}/v-source.m3u8?start=${from}&end=${to}`);
    const plText = await pl.text();
    const listed = [...plText.matchAll(/^v-source-(\d+)\.m4s/gm)].map((m) => Number(m[1]));
    if (pl.status !== 200 || listed.length < closed.length - 1 || listed.some((i) => i > last.index)) throw new Error(`the catch-up playlist 6 h back (${pl.status}) does not list the history:\n${plText.slice(0, 2000)}`);
    const archivedUrls = listed.map((i) => `${uncached}/v-source-${i}.m4s`);
    const hotUrls = listed.map((i) => `${uncached}/v-source-${i + last.index}.m4s`);

    // Time to first byte, one request at a time: archived and hot alternate, the archive in the page cache;
    // then again with the archive's objects dropped from the page cache before each request (hot ones too, so
    // both pay the same for the eviction's processes).
    const items: TtfbItem[] = [];
    for (let r = 0; r < TTFB_ROUNDS; r++) {
      listed.forEach((_, i) => items.push({ label: 'archived', url: archivedUrls[i] as string }, { label: 'hot', url: hotUrls[i] as string }));
    }
    const warm = await timeToFirstByte([...items.slice(0, 4), ...items], 120_000);
    const timed = warm.slice(4);
    const failed = timed.filter((r) => r.status !== 200);
    if (failed.length) throw new Error(`${failed.length} segment requests failed (${failed[0]?.label}: ${failed[0]?.status})`);
    const archivedTtfb = timed.filter((r) => r.label === 'archived');
    const hotTtfb = timed.filter((r) => r.label === 'hot');
    const sizes = (rs: TtfbResult[]) => rs.slice(0, listed.length).map((r) => r.bytes);
    if (sizes(archivedTtfb).some((b, i) => Math.abs(b - (sizes(hotTtfb)[i] as number)) > 64)) throw new Error(`archived and hot copies of one recording differ in size: ${sizes(archivedTtfb).join(',')} vs ${sizes(hotTtfb).join(',')}`);
    const coldItems: TtfbItem[] = [];
    for (let r = 0; r < COLD_ROUNDS; r++) listed.forEach((_, i) => coldItems.push({ label: 'cold', url: archivedUrls[i] as string, evict: objects }, { label: 'hot', url: hotUrls[i] as string, evict: objects }));
    execFileSync('sync', objects); // written back, so DONTNEED can drop their pages
    const residentBefore = residentBytes(objects);
    const coldRound = await timeToFirstByte(coldItems, 120_000);
    if (coldRound.some((r) => r.status !== 200)) throw new Error('a segment request failed in the page-cache round');
    const cold = coldRound.filter((r) => r.label === 'cold');
    const hotBesideCold = coldRound.filter((r) => r.label === 'hot');
    execFileSync('sh', ['-c', 'for f; do dd if="$f" iflag=nocache count=0 status=none; done', 'sh', ...objects]);
    const residentAfter = residentBytes(objects);
    const evicted = residentAfter === 0 ? 'the archive dropped from the page cache (posix_fadvise DONTNEED) before each request, hot ones included; a VM\'s host may still cache its disk' : `eviction not confirmed (fincore: ${residentAfter ?? '?'} bytes resident after DONTNEED, ${residentBefore ?? '?'} before)`;

    // Requests/s: each connection asks for its own segment again and again (no two share a build), nginx
    // serving the same bytes as files.
    const www = join(dir, 'www');
    mkdirSync(www);
    chmodSync(dir, 0o755); // nginx's worker runs unprivileged and must read the files
    const pick = listed.slice(0, LOAD_CONNECTIONS);
    let segBytes = 0;
    for (const i of pick) {
      const a = Buffer.from(await (await fetch(`${uncached}/v-source-${i}.m4s`)).arrayBuffer());
      segBytes += a.length;
      await writeFile(join(www, `a-${i}.m4s`), a);
    }
    const ng = await startNginx(www, dir);
    nginx = ng.child;
    const ngBase = `http://127.0.0.1:${ng.port}`;
    const [oursArchived, ngArchived, oursCached, oursHot] = (await loadInTurns([
      pick.map((i) => `${uncached}/v-source-${i}.m4s`),
      pick.map((i) => `${ngBase}/a-${i}.m4s`),
      pick.map((i) => `${cached}/v-source-${i}.m4s`),
      pick.map((i) => `${uncached}/v-source-${i + last.index}.m4s`),
    ], LOAD_CONNECTIONS, LOAD_ROUNDS, LOAD_MS / LOAD_ROUNDS)) as [number, number, number, number];

    const kib = Math.round(segBytes / pick.length / 1024);
    const loadNote = `${LOAD_CONNECTIONS} keep-alive connections, each on its own segment, ${LOAD_MS / 1000} s in ${LOAD_ROUNDS} turns with the rows below; load generator in a worker thread; goal ≥ 0.5×`;
    const simulated = `simulated: a recording of ${closed.length} segments copied 6 h back in a 7 h DVR window (the index holds these segments, not 6 h of them)`;
    return [
      { bench: 'archive', metric: `archived 2 s segment (${kib} KiB), every request reads the archive`, ours: oursArchived, reference: ngArchived, referenceName: 'nginx static file', unit: 'req/s', note: loadNote },
      { bench: 'archive', metric: 'archived 2 s segment, packager segment cache (256 MiB)', ours: oursCached, reference: ngArchived, referenceName: 'nginx static file', unit: 'req/s', note: 'the same segments after their first build' },
      { bench: 'archive', metric: 'archived 2 s segment vs a hot one, every request builds it', ours: oursArchived, reference: oursHot, referenceName: 'hot segment (payloads in Redis)', unit: 'req/s', note: 'the archive read against the Redis read: the same recording one session later, same load' },
      ...latencyRows('archive in page cache', archivedTtfb, hotTtfb, `${simulated}; one request at a time, uncached builds`),
      ...latencyRows('archive not in page cache', cold, hotBesideCold, evicted),
    ];
  } finally {
    sender?.child.kill('SIGKILL');
    nginx?.kill('SIGTERM');
    for (const app of apps) await app.close();
    await archiver.close();
    await ingest.close();
    await redis.close();
  }
}

export const archiveBench: Bench = {
  name: 'archive',
  description: `catch-up storage: Redis growth and ingest CPU with a ${HOT_WINDOW_SECONDS} s hot window vs archiving off (side by side, ${PUBLISH_SECONDS} s real-time publishes, ${SOURCE}); archived segment requests/s vs nginx; TTFB 6 h back vs hot`,
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-archive-bench-'));
    try {
      const file = makeSource(dir, PUBLISH_SECONDS);
      const { on, off } = await publishRuns(file, dir);
      if (on.archived < (PUBLISH_SECONDS - HOT_WINDOW_SECONDS) / 2 - 8) throw new Error(`archiving did not run: segments archived up to ${on.archived} of ${on.lastSegment}`);
      if (off.archived !== 0) throw new Error(`the reference archived segments (${off.archived}): it is meant to keep everything in Redis`);
      // Loaded here, not at the top: the composition root sets UV_THREADPOOL_SIZE when imported, which the benches
      // that run before this one must not inherit.
      const { archiverTuning } = await import('../../beamline.js');
      const windowMs = archiverTuning(loadConfig(null, { BEAM_HOT_WINDOW_SECONDS: String(HOT_WINDOW_SECONDS) })).intervalMs;
      const growth = (s: Sample[]) => slopePerSecond(lowerEnvelope(s, windowMs));
      const span = `${SAMPLE_FROM_MS / 1000}–${PUBLISH_SECONDS} s of the publish`;
      const rung = `360p rung made for ${on.rungMade} of ${on.lastSegment} segments (${off.rungMade} of ${off.lastSegment} in the reference)`;
      const ref = 'archiving off (everything in RAM)';
      const rows: BenchRow[] = [
        { bench: 'archive', metric: 'Redis used_memory growth, hot window full', ours: mbPerHour(growth(on.memory)), reference: mbPerHour(growth(off.memory)), referenceName: ref, unit: 'MB/channel-hour', note: `goal: flat, < 50; ${SOURCE}, ${rung}; hot window ${HOT_WINDOW_SECONDS} s; slope of the lowest sample per archiver pass (${windowMs / 1000} s) over ${span}` },
        { bench: 'archive', metric: 'channel keys growth, hot window full', ours: growth(on.keys) * 3600, reference: growth(off.keys) * 3600, referenceName: ref, unit: 'keys/channel-hour', note: `keys of the channel and its rendition, same fit` },
        { bench: 'archive', metric: `Redis used_memory after the ${PUBLISH_SECONDS} s publish`, ours: on.endMemory / 1e6, reference: off.endMemory / 1e6, referenceName: ref, unit: 'MB', note: `archived up to segment ${on.archived} of ${on.lastSegment}` },
        { bench: 'archive', metric: 'ingest CPU s per media s (Beamline engine+ingest process)', ours: on.beamCpu / PUBLISH_SECONDS, reference: off.beamCpu / PUBLISH_SECONDS, referenceName: ref, unit: 'CPU s/s', note: 'goal < 1.10× (the archiver runs in this process; the transcoder is another); both set-ups publish at the same time' },
        { bench: 'archive', metric: 'its redis-server CPU s per media s', ours: on.redisCpu / PUBLISH_SECONDS, reference: off.redisCpu / PUBLISH_SECONDS, referenceName: ref, unit: 'CPU s/s', note: 'includes the bench sampling INFO every 0.5 s and SCANning the keys every 1 s' },
      ];
      rows.push(...(await catchUpRows(file, dir)));
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
