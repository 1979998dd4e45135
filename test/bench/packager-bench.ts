/**
 * The /live packager under load, side by side with nginx serving the same bytes as static files:
 * requests/s for a cached 2 s segment and for a live media playlist (a load generator in a worker
 * thread: node:http keep-alive agents, N connections, a fixed duration), and blocking-reload fan-out:
 * 1,000 and 5,000 concurrent LL-HLS requests for a coming part, parked on warm keep-alive connections before
 * it is ready, p50/p99 from its `part:ready` (the event's XADD time) to each response.
 * The channel is published for real (ffmpeg over SRT through ingest into Redis).
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../engine/api/app';
import { createEngineMetrics } from '../../engine/api/metrics';
import { createStore } from '../../core/store/store';
import { createChannelStore } from '../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../core/store/live-store';
import { createChannel } from '../../core/model/channel';
import { createIngestService, DEFAULT_INGEST_CONFIG } from '../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../transcoders/ladder';
import { livePlugin } from '../../packager/live-plugin';
import { startTestRedis, type TestRedis } from '../helpers/redis';
import { publishSrt } from '../helpers/publishers';
import { TEST_APP_CONFIG } from '../helpers/app';
import type { Bench, BenchRow } from './harness';
import { inWorker, load, percentile, startNginx } from './http-load';

/** Parked LL-HLS requests measured, one fan-out each. */
const FAN_OUT = [1000, 5000];

/**
 * Fan-out: `n` keep-alive connections are opened first; right after a segment opens, each asks for the next
 * segment's first part (about a segment away), so every request is parked before its part is ready (the
 * requests sent too late are counted and left out). Latency runs from the XADD of that part's part:ready event
 * (the stream id is Redis's clock, the same machine's) to each response's arrival in the worker, so a busy
 * event loop here cannot flatter it.
 */
async function fanOut(live: LiveStore, redis: TestRedis, base: string, n: number): Promise<BenchRow[]> {
  const reader = redis.connect();
  try {
    let target: { msn: number } | null = null;
    let sent = 0;
    const fan = inWorker<{ done: { status: number; at: number; sentAt: number }[] }>({ mode: 'fanout', urls: [`${base}/v-source.m3u8`], connections: n, ms: 0 }, 60000, (send) => {
      void (async () => {
        let id = '$';
        for (;;) {
          const r = await live.readEvents(reader, 'bench', id, 3000);
          id = r.lastId;
          const opened = r.events.find(({ event }) => event.type === 'segment:opened');
          if (opened && opened.event.type === 'segment:opened') {
            target = { msn: opened.event.segment + 1 };
            break;
          }
        }
        sent = Date.now();
        send({ go: `${base}/v-source.m3u8?_HLS_msn=${target.msn}&_HLS_part=0` });
      })();
    });
    const result = await fan;
    const t = target as { msn: number } | null;
    if (!t) throw new Error('the fan-out never started');
    const events = (await live.readEvents(reader, 'bench', `${sent - 5000}-0`, 1, 10000)).events;
    const hit = events.find(({ event }) => event.type === 'part:ready' && event.segment >= t.msn);
    if (!hit) throw new Error(`no part:ready for ${t.msn}.0`);
    const ready = Number(hit.id.split('-')[0]);
    const parked = result.done.filter((d) => d.sentAt > 0 && d.sentAt < ready);
    const early = parked.filter((d) => d.at < ready).length;
    if (early > 0) throw new Error(`${early} fan-out responses came before their part was announced`);
    const ok = parked.filter((d) => d.status === 200);
    const lat = ok.map((d) => Math.max(0, d.at - ready)).sort((a, b) => a - b);
    const lastSent = Math.max(...result.done.map((d) => d.sentAt));
    const what = `${n.toLocaleString('en')} parked`;
    return [
      { bench: 'packager', metric: `blocking reload fan-out p50, ${what} (${ok.length} parked and answered 200)`, ours: percentile(lat, 50), unit: 'ms', note: `part:ready (XADD) → response; requests on warm keep-alive connections, all sent ${ready - lastSent} ms before the part was ready` },
      { bench: 'packager', metric: `blocking reload fan-out p99, ${what}`, ours: percentile(lat, 99), unit: 'ms', note: 'part:ready (XADD) → response' },
    ];
  } finally {
    reader.disconnect();
  }
}

export const packagerBench: Bench = {
  name: 'packager',
  description: '/live segment and playlist requests/s vs nginx static files; LL-HLS blocking-reload fan-out',
  async run(): Promise<BenchRow[]> {
    const redis = await startTestRedis();
    const dir = mkdtempSync(join(tmpdir(), 'beamline-pkbench-'));
    let app: FastifyInstance | null = null;
    let nginx: ChildProcess | null = null;
    const client = redis.connect();
    const store = createStore({ redis: client }, { prefix: 'bench', packetTtlMs: 600000, frameTtlMs: 60000 });
    const channels = createChannelStore({ redis: client, keys: store.keys });
    const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
    const ingest = createIngestService(
      { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }) },
      { ...DEFAULT_INGEST_CONFIG, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
    );
    const publisher = { stop: () => undefined as void };
    try {
      await ingest.start();
      const ch = createChannel({ name: 'bench' }, validateLadder, DEFAULT_LADDER);
      await channels.create(ch);
      await new Promise((r) => setTimeout(r, 200));
      app = await buildApp({ store, metrics: createEngineMetrics(undefined, false), log: pino({ level: 'silent' }), plugins: [(s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect() } })] }, TEST_APP_CONFIG);
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/live/bench`;
      const pub = publishSrt(`srt://127.0.0.1:${ingest.srtPort() as number}?streamid=${ch.streamKey}`, { seconds: 60, size: '1280x720', fps: 30, gopFrames: 60, bitrate: '3M' });
      publisher.stop = pub.stop;
      const end = Date.now() + 30000;
      while ((await live.lastSegments('bench', 10)).filter((s) => s.durationPts !== null).length < 3) {
        if (Date.now() > end) throw new Error(`no segments from the publisher: ${pub.stderr()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const segs = (await live.lastSegments('bench', 10)).filter((s) => s.durationPts !== null);
      const segFile = `v-source-${(segs[1] as { index: number }).index}.m4s`;
      const segBytes = Buffer.from(await (await fetch(`${base}/${segFile}`)).arrayBuffer());
      const plBytes = Buffer.from(await (await fetch(`${base}/v-source.m3u8`)).arrayBuffer());
      const www = join(dir, 'www');
      mkdirSync(www);
      chmodSync(dir, 0o755); // nginx's worker runs unprivileged and must read the files
      writeFileSync(join(www, segFile), segBytes);
      writeFileSync(join(www, 'v-source.m3u8'), plBytes);
      const ng = await startNginx(www, dir);
      nginx = ng.child;
      const ngBase = `http://127.0.0.1:${ng.port}`;

      const conns = 32;
      const ms = 4000;
      const oursSeg = await load(`${base}/${segFile}`, conns, ms);
      const ngSeg = await load(`${ngBase}/${segFile}`, conns, ms);
      const oursPl = await load(`${base}/v-source.m3u8`, conns, ms);
      const ngPl = await load(`${ngBase}/v-source.m3u8`, conns, ms);

      const fanRows: BenchRow[] = [];
      for (const n of FAN_OUT) fanRows.push(...(await fanOut(live, redis, base, n)));

      const note = `${conns} keep-alive connections, ${ms / 1000} s, load generator in a worker thread`;
      return [
        { bench: 'packager', metric: `cached 2 s segment (${Math.round(segBytes.length / 1024)} KiB, 720p 3 Mbps)`, ours: oursSeg, reference: ngSeg, referenceName: 'nginx static file', unit: 'req/s', note },
        { bench: 'packager', metric: 'live LL-HLS media playlist', ours: oursPl, reference: ngPl, referenceName: 'nginx static file', unit: 'req/s', note },
        ...fanRows,
      ];
    } finally {
      publisher.stop();
      nginx?.kill('SIGTERM');
      await app?.close();
      await ingest.close();
      await redis.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
