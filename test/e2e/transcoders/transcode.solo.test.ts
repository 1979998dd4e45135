/**
 * ABR transcoding end to end: a real ffmpeg SRT publisher into ingest (in-process), ingest enqueueing each
 * opened segment on a real BullMQ queue (as the product does), sandboxed transcode workers writing rung renditions back to the store.
 * Checks every rung has every closed segment with a keyframe first at the source's pts (ffprobe decodes each
 * rung segment), parts are announced as they are made, a ladder edit applies from a later segment only, and a
 * SIGKILLed worker process is survived (gaps, never rewrites) with the next segments made by another worker;
 * and a 1080p30 5 Mbps publish gets the default ladder (720p, 480p, 360p) live, every segment aligned.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { waitForOutput, exitOf, waitFor } from '../../helpers/process';
import { built, transcodeProcessorFile } from '../../helpers/paths';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { decodeEvent, type SegmentRecord } from '../../../core/model/live';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { createTranscodeQueue, type TranscodeQueue } from '../../../transcoders/queue';
import { createTranscodeWorker, type TranscodeWorker } from '../../../transcoders/worker';
import { DEFAULT_SEGMENT_JOB_CONFIG } from '../../../transcoders/segment-job';
import type { TranscodeChildConfig } from '../../../transcoders/transcode-processor';

let redis: TestRedis;
let app: FastifyInstance;
let store: OwnedStore;
let live: LiveStore;
let ingest: IngestService;
let queue: TranscodeQueue;
let bull: RedisClient;
let childConfig: TranscodeChildConfig;
let srtPort = 0;
let dir = '';
const bullPrefix = `${uniquePrefix()}-bull`;
const registry = new Registry();
const publishers: Publisher[] = [];
const workers: TranscodeWorker[] = [];
const processes: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-transcode-'));
  redis = await startTestRedis();
  const client = redis.connect();
  const prefix = uniquePrefix();
  store = createStore({ redis: client }, { prefix, packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  bull = connectRedis(parseRedisUrl(redis.url), { maxRetriesPerRequest: null });
  queue = createTranscodeQueue({ connection: bull }, { prefix: bullPrefix });
  const tq = queue;
  ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }), enqueueSegment: (c, s) => tq.enqueueSegment(c, s) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: null },
  );
  await ingest.start();
  srtPort = ingest.srtPort() as number;
  app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: 'http://127.0.0.1:8080', srtPort, rtmpPort: 1935 } })],
    },
    TEST_APP_CONFIG,
  ));
  childConfig = { redisUrl: redis.url, storePrefix: prefix, packetTtlMs: 600000, frameTtlMs: 60000, eventsMaxLen: 10000, job: DEFAULT_SEGMENT_JOB_CONFIG };
});

afterAll(async () => {
  for (const p of publishers) p.stop();
  for (const c of processes) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const w of workers) await w.close();
  await queue?.close();
  await bull?.quit().catch(() => undefined);
  await ingest?.close();
  await app?.close();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});


async function createChannel(name: string, ladder: object[]): Promise<{ srt: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name, ladder } });
  assert.equal(res.statusCode, 201, res.body);
  const srt = (res.json() as { ingest: { srt: string } }).ingest.srt;
  return { srt: srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`) };
}

function startWorker(name: string): TranscodeWorker {
  const w = createTranscodeWorker({ connection: bull, registry, log: pino({ level: 'silent' }) }, { prefix: bullPrefix, name, concurrency: 3, child: childConfig, processorFile: transcodeProcessorFile() });
  workers.push(w);
  return w;
}

const closedSegments = async (ch: string): Promise<SegmentRecord[]> => (await live.segments(ch, 1, 10000)).filter((s) => s.durationPts !== null);

/** Every closed segment has an outcome (made or gap) for each rung. */
async function allDecided(ch: string, rungs: string[]): Promise<boolean> {
  const segs = await closedSegments(ch);
  if (segs.length === 0) return false;
  for (const r of rungs) {
    const done = new Set([...(await live.rungMade(ch, r, 1, 10000)), ...(await live.rungGaps(ch, r, 1, 10000))]);
    if (!segs.every((s) => done.has(s.index))) return false;
  }
  return true;
}

/** ffprobe decodes a rung segment written as Annex-B (extradata first): frame count and key flags. */
async function probeRungSegment(ch: string, rung: string, seg: SegmentRecord): Promise<{ keys: number[]; frames: number; packets: number; firstPts: number; firstKey: boolean; pts: number[] }> {
  const packets = await store.readPackets(`${ch}.${rung}`, 0, seg.startPts, seg.startPts + (seg.durationPts as number));
  const fmt = await store.getFormat(`${ch}.${rung}`);
  const extradata = Buffer.from(String(fmt?.streams[0]?.codecpar.extradata ?? ''), 'base64');
  const file = join(dir, `${ch}-${rung}-${seg.index}.h264`);
  writeFileSync(file, Buffer.concat([extradata, ...packets.map((p) => p.data)]));
  const out = execFileSync('ffprobe', ['-v', 'error', '-f', 'h264', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', file], { timeout: 10000 }).toString();
  const flags = out.trim().split('\n').filter(Boolean).map((l) => Number(l.split(',')[0]));
  return {
    keys: flags.flatMap((f, i) => (f === 1 ? [i] : [])),
    frames: flags.length,
    packets: packets.length,
    firstPts: packets[0]?.meta.pts ?? -1,
    firstKey: packets[0]?.meta.flags.KEY ?? false,
    pts: packets.map((p) => p.meta.pts),
  };
}

/** pts of the source's keyframes inside a segment. */
async function sourceKeyframes(ch: string, seg: SegmentRecord): Promise<number[]> {
  const packets = await store.readPackets(ch, 0, seg.startDts, seg.startDts + (seg.durationPts as number));
  return packets.filter((p) => p.meta.flags.KEY).map((p) => p.meta.pts).sort((a, b) => a - b);
}

async function eventsOf(ch: string): Promise<{ id: string; event: ReturnType<typeof decodeEvent> }[]> {
  const raw = (await redis.connect().xrange(store.keys.events(ch), '-', '+')) as [string, string[]][];
  return raw.map(([id, fields]) => ({ id, event: decodeEvent(fields) }));
}

describe('ABR transcoding live', () => {
  it('every rung has every segment, aligned and keyframe-first; parts announced as made; a ladder edit applies later', { timeout: 90000 }, async () => {
    const ladder = [
      { name: '240p', width: 426, height: 240, videoBitrate: 400000 },
      { name: '180p', width: 320, height: 180, videoBitrate: 250000, profile: 'baseline' },
      // Thinned to 12.5 fps: a source keyframe it drops passes to its next frame.
      { name: '120p', width: 214, height: 120, videoBitrate: 100000, fps: 12.5 },
    ];
    const ch = await createChannel('abr', ladder);
    const worker = startWorker('steady');
    await worker.start();
    const pub = publishSrt(ch.srt, { seconds: 16, size: '640x360', fps: 25, gopFrames: 25 });
    publishers.push(pub);
    await waitFor('3 closed segments', async () => (await closedSegments('abr')).length >= 3, 20000);
    const patchedAt = (await live.lastSegments('abr', 1))[0]?.index as number;
    const patch = await app.inject({ method: 'PATCH', url: '/api/channels/abr', payload: { ladder: [...ladder, { name: '144p', width: 256, height: 144, videoBitrate: 150000 }] } });
    assert.equal(patch.statusCode, 200, patch.body);
    assert.equal(await pub.exited, 0, pub.stderr());
    await waitFor('every closed segment transcoded', () => allDecided('abr', ['240p', '180p', '120p']), 30000);

    const segs = await closedSegments('abr');
    assert.ok(segs.length >= 6, `at least 6 segments, got ${segs.length}`);
    let midSegmentKeys = 0;
    for (const rung of ['240p', '180p']) {
      assert.deepEqual(await live.rungGaps('abr', rung, 1, 10000), [], `${rung} has no gaps`);
      assert.deepEqual(await live.rungMade('abr', rung, 1, 10000), segs.map((s) => s.index), `${rung} has every closed segment`);
      for (const seg of segs) {
        const p = await probeRungSegment('abr', rung, seg);
        assert.equal(p.firstPts, seg.startPts, `${rung} segment ${seg.index} starts at the source's pts`);
        assert.ok(p.firstKey, `${rung} segment ${seg.index} starts with a keyframe`);
        assert.equal(p.frames, p.packets, `${rung} segment ${seg.index}: ffprobe decodes every packet`);
        assert.equal(p.keys[0], 0, `${rung} segment ${seg.index}: ffprobe sees a keyframe first`);
        assert.equal(p.packets, Math.round(((seg.durationPts as number) / 90000) * 25), `${rung} segment ${seg.index}: one frame per source frame`);
        // A keyframe wherever the source has one (1 s GOPs in 2 s segments): the packager marks the rung's parts
        // independent where the source's are, so a player may start on them.
        const keyPts = p.keys.map((i) => p.pts[i]);
        const sourceKeys = await sourceKeyframes('abr', seg);
        midSegmentKeys += sourceKeys.length - 1;
        for (const k of sourceKeys) assert.ok(keyPts.includes(k), `${rung} segment ${seg.index}: a keyframe at the source's ${k} (rung keyframes ${keyPts.join(', ')})`);
      }
    }
    assert.ok(midSegmentKeys > 0, 'the source had keyframes inside segments');
    assert.deepEqual(await live.rungGaps('abr', '120p', 1, 10000), [], '120p has no gaps');
    for (const seg of segs) {
      const p = await probeRungSegment('abr', '120p', seg);
      assert.equal(p.frames, p.packets, `120p segment ${seg.index}: ffprobe decodes every packet`);
      const keyPts = p.keys.map((i) => p.pts[i]);
      // The source's keyframe, or the rung's first frame after it (in the same 0.2 s part).
      for (const k of await sourceKeyframes('abr', seg)) {
        const at = p.pts.find((x) => x >= k);
        assert.ok(at !== undefined && at - k < 0.2 * 90000 && keyPts.includes(at), `120p segment ${seg.index}: a keyframe at or just after the source's ${k} (rung keyframes ${keyPts.join(', ')})`);
      }
    }
    const fmt = await store.getFormat('abr.240p');
    assert.equal(fmt?.streams[0]?.codecpar.width, 426);
    assert.ok(fmt?.streams[0]?.codecpar.extradata, 'rendition codecpar carries extradata');
    const relations = await store.getRelations('abr');
    assert.deepEqual(relations.renditions.map((r) => r.target), ['abr.120p', 'abr.144p', 'abr.180p', 'abr.240p']);

    // The ladder edit: 144p exists from a segment after the edit on, never before.
    const made144 = await live.rungMade('abr', '144p', 1, 10000);
    const first144 = made144[0] as number;
    assert.ok(first144 > 1 && first144 <= patchedAt + 1, `144p starts after the edit (edit during segment ${patchedAt}, 144p from ${first144})`);
    assert.deepEqual(made144, segs.filter((s) => s.index >= first144).map((s) => s.index), '144p has every segment from then on');
    for (const seg of segs.filter((s) => s.index < first144)) {
      assert.equal((await store.readPackets('abr.144p', 0, seg.startPts, seg.startPts + (seg.durationPts as number))).length, 0, `no 144p in segment ${seg.index}`);
    }

    // Parts are announced one by one, soon after the source's.
    const events = await eventsOf('abr');
    const partReady = new Map<string, number>();
    for (const { id, event } of events) if (event?.type === 'part:ready') partReady.set(`${event.segment}/${event.part}`, Number(id.split('-')[0]));
    const delays: number[] = [];
    let rungParts = 0;
    for (const { id, event } of events) {
      if (event?.type !== 'rendition:ready' || event.rendition !== '240p' || event.part === undefined) continue;
      rungParts++;
      const at = partReady.get(`${event.segment}/${event.part}`);
      if (at !== undefined) delays.push(Number(id.split('-')[0]) - at);
    }
    const sourceParts = events.filter((e) => e.event?.type === 'part:ready' && segs.some((s) => s.index === (e.event as { segment: number }).segment)).length;
    assert.ok(rungParts >= sourceParts, `a rendition:ready per part (${rungParts} for ${sourceParts} source parts)`);
    delays.sort((a, b) => a - b);
    const median = delays[Math.floor(delays.length / 2)] as number;
    const p95 = delays[Math.floor(delays.length * 0.95)] as number;
    console.log(`# 240p part delay after the source part: median ${median} ms, p95 ${p95} ms over ${delays.length} parts`);
    assert.ok(median < 333, `median part delay ${median} ms is under one part`);

    const metrics = await registry.getSingleMetricAsString('beam_transcode_alignment_errors_total');
    assert.doesNotMatch(metrics, /rung="240p"} [1-9]/, 'no alignment errors');
    await worker.close();
  });

  it('a 1080p30 publish yields the default ladder live: 720p, 480p and 360p, every segment aligned', { timeout: 90000 }, async () => {
    const ch = await createChannel('hd', DEFAULT_LADDER);
    const worker = startWorker('hd');
    await worker.start();
    const t0 = Date.now();
    const pub = publishSrt(ch.srt, { seconds: 12, size: '1920x1080', fps: 30, gopFrames: 60, bitrate: '5M' });
    publishers.push(pub);
    assert.equal(await pub.exited, 0, pub.stderr());
    const rungs = ['720p', '480p', '360p'];
    await waitFor('every closed segment transcoded', () => allDecided('hd', rungs), 40000);
    const caughtUp = (Date.now() - t0) / 1000;
    const segs = await closedSegments('hd');
    assert.ok(segs.length >= 4, `at least 4 segments, got ${segs.length}`);
    const sizes: string[] = [];
    const warnings = (await eventsOf('hd')).flatMap(({ event }) => (event?.type === 'warning' ? [event.message] : []));
    for (const rung of rungs) {
      assert.deepEqual(await live.rungGaps('hd', rung, 1, 10000), [], `${rung} has no gaps (warnings: ${warnings.join('; ') || 'none'})`);
      assert.deepEqual(await live.rungMade('hd', rung, 1, 10000), segs.map((s) => s.index), `${rung} has every closed segment`);
      for (const seg of segs) {
        const p = await probeRungSegment('hd', rung, seg);
        assert.equal(p.firstPts, seg.startPts, `${rung} segment ${seg.index} starts at the source's pts`);
        assert.equal(p.keys[0], 0, `${rung} segment ${seg.index}: ffprobe sees a keyframe first`);
        assert.equal(p.frames, p.packets, `${rung} segment ${seg.index}: ffprobe decodes every packet`);
        assert.equal(p.packets, Math.round(((seg.durationPts as number) / 90000) * 30), `${rung} segment ${seg.index}: one frame per source frame`);
      }
      const c = (await store.getFormat(`hd.${rung}`))?.streams[0]?.codecpar;
      sizes.push(`${rung} ${String(c?.width)}x${String(c?.height)}`);
    }
    assert.deepEqual(sizes, ['720p 1280x720', '480p 854x480', '360p 640x360']);
    console.log(`# 1080p30 default ladder: ${segs.length} segments, every rung made ${caughtUp.toFixed(1)} s after a 12 s publish began`);
    await worker.close();
  });

  it('a SIGKILLed worker process: another resumes within two segments, gaps instead of rewrites', { timeout: 90000 }, async () => {
    const ch = await createChannel('kill', [{ name: '240p', width: 426, height: 240, videoBitrate: 400000 }]);
    const victim = spawn(process.execPath, ['--enable-source-maps', built('test', 'e2e', 'transcoders', 'transcode-worker-main.js'), JSON.stringify({ redisUrl: redis.url, bullPrefix, name: 'victim', concurrency: 2, child: childConfig })], { stdio: ['ignore', 'pipe', 'pipe'] });
    processes.push(victim);
    await waitForOutput(victim, /worker ready/, 15000);
    const pub = publishSrt(ch.srt, { seconds: 18, size: '640x360', fps: 25, gopFrames: 25 });
    publishers.push(pub);
    await waitFor('2 segments made by the victim', async () => (await live.rungMade('kill', '240p', 1, 10000)).length >= 2, 25000);
    // Kill it while it holds a job (its children are the sandboxes).
    await waitFor('the victim holds a job', async () => (await queue.queue.getActive()).some((j) => j.processedBy === 'victim' && j.data.channel === 'kill'), 10000);
    const children = execFileSync('pgrep', ['-P', String(victim.pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
    const before = await closedSegments('kill');
    const snapshot = new Map<number, string>();
    for (const s of before) {
      const pk = await store.readPackets('kill.240p', 0, s.startPts, s.startPts + (s.durationPts as number));
      snapshot.set(s.index, pk.map((p) => `${p.meta.pts}:${p.data.length}`).join(','));
    }
    const killedAt = (await live.lastSegments('kill', 1))[0]?.index as number;
    victim.kill('SIGKILL');
    await exitOf(victim, 5000);
    const rescuer = startWorker('rescuer');
    await rescuer.start();

    await waitFor("the victim's sandboxes exit", async () => children.every((pid) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }), 10000);
    assert.equal(await pub.exited, 0, pub.stderr());
    await waitFor('every closed segment decided', () => allDecided('kill', ['240p']), 30000);

    const segs = await closedSegments('kill');
    const made = new Set(await live.rungMade('kill', '240p', 1, 10000));
    const gaps = new Set(await live.rungGaps('kill', '240p', 1, 10000));
    console.log(`# killed during segment ${killedAt}; gaps: [${[...gaps].join(', ')}]; made: ${made.size} of ${segs.length}`);
    for (const s of segs) {
      assert.ok(made.has(s.index) !== gaps.has(s.index), `segment ${s.index} is made or a gap, not both or neither`);
      if (s.index >= killedAt + 2) assert.ok(made.has(s.index), `segment ${s.index} (two after the kill at ${killedAt}) is made`);
    }
    for (const [index, was] of snapshot) {
      if (!made.has(index)) continue;
      const s = segs.find((x) => x.index === index) as SegmentRecord;
      const pk = await store.readPackets('kill.240p', 0, s.startPts, s.startPts + (s.durationPts as number));
      assert.equal(pk.map((p) => `${p.meta.pts}:${p.data.length}`).join(','), was, `published segment ${index} never changes`);
    }
    // Every gap this process's workers were told of is a pipeline fault with the code its dropped-segment label comes from.
    const counted = async (metric: string, labels: Record<string, string>): Promise<number> => {
      const m = registry.getSingleMetric(metric);
      if (!m) return 0;
      return (await m.get()).values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((n, v) => n + v.value, 0);
    };
    for (const [code, reason] of [['TRANSCODE_LATE', 'late'], ['TRANSCODE_ORPHANED', 'orphaned'], ['TRANSCODE_SEGMENT_FAILED', 'failed']] as const) {
      assert.equal(
        await counted('beam_pipeline_errors_total', { component: 'transcoder', code }),
        await counted('beam_transcode_dropped_segments_total', { reason }),
        `${code} faults match the ${reason} dropped segments`,
      );
    }
  });
});
