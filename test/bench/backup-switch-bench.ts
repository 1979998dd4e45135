/**
 * The switch gap of redundant publishers: two ffmpeg encoders publish one channel over SRT (25 fps, 2 s GOPs),
 * the primary on air, the backup in standby. Each round stops the primary — killed (SIGKILL: the SRT peer
 * says nothing, the stall bound finds it) or ended cleanly (SIGTERM: ffmpeg closes its SRT socket, the
 * disconnect is told) — and later brings it back (the return after BEAM_BACKUP_RETURN_SECONDS).
 *
 * Figures, from the channel's events stream (Redis stream ids: when each event was stored):
 * - output gap: the last part announced from the input leaving air while its media flowed → the first part of
 *   the input taking over (how long the output got no new media, wall clock; the leaving input's final short
 *   part, announced with its segment's close at the switch, is not counted);
 * - on air after the stop: the primary stopped → the backup's first part announced;
 * - timeline gap: the end of the last segment of the input leaving air → the start of the new input's first
 *   segment, on the channel's timeline (by construction about one frame).
 * - content gap: from the frame numbers both encoders paint into the picture (latency-code.ts) and their send
 *   clocks: the last frame of the leaving input on the output and the first frame of the new one, decoded from
 *   the two segments around the cut, as the send times of those frames: positive, that much of the programme
 *   was skipped; negative, repeated (the new input starts at its newest keyframe, up to one GOP back).
 * Prints figures only.
 */
import { spawn } from 'node:child_process';

import { AUTH } from '../helpers/app';
import { startStack, waitFor, type Stack } from '../e2e/player/stack';
import type { Bench, BenchRow } from './harness';
import { decodeLumas, defaultCode, percentile, samplePoints, streamIdMs } from './latency-code';
import { FRAME_MS, HEIGHT, publishPainted, WIDTH, type ClockedPublisher } from './latency-bench';
import { TIMELINE_HZ, type ChannelEvent } from '../../core/model/live';

const CH = 'bench-switch';
const ROUNDS = 3;
const STALL_MS = 1000;
const RETURN_MS = 3000;

interface Timed { atMs: number; event: ChannelEvent }

const CODE = defaultCode(WIDTH);

/** An encoder painting its frame numbers, with its send clock (25 fps, 1 s GOPs as the latency bench's). */
function encoder(url: string): ClockedPublisher {
  return publishPainted(url, 'mpegts', CODE, 600);
}

/** The frame numbers painted in a segment of the source, in order (init + segment decoded by ffmpeg). */
async function paintedFrames(base: string, segment: number): Promise<number[]> {
  const [init, media] = await Promise.all([`v-source-init.mp4`, `v-source-${segment}.m4s`].map(async (f) => {
    const r = await fetch(`${base}/live/${CH}/${f}`);
    if (r.status !== 200) throw new Error(`${f}: ${r.status}`);
    return Buffer.from(await r.arrayBuffer());
  }));
  const gray = await new Promise<Buffer>((resolve, reject) => {
    const c = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-vf', `scale=${WIDTH}:${HEIGHT},format=gray`, '-f', 'rawvideo', 'pipe:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg exited ${code}`))));
    c.stdin.on('error', () => undefined);
    c.stdin.end(Buffer.concat([init as Buffer, media as Buffer]));
  });
  const frame = WIDTH * HEIGHT;
  const points = samplePoints(CODE, WIDTH);
  const numbers: number[] = [];
  for (let off = 0; off + frame <= gray.length; off += frame) numbers.push(decodeLumas(points.map((p) => gray[off + p.y * WIDTH + p.x] as number)));
  return numbers;
}

/**
 * The content gap at a cut (ms): the send time of the new input's first frame on the output less the leaving
 * input's last frame's, less one frame (a seamless cut is 0; positive: skipped; negative: repeated).
 */
async function contentGap(base: string, cut: { closed: number; opened: number }, leaving: ClockedPublisher, coming: ClockedPublisher): Promise<number | null> {
  const [before, after] = await Promise.all([paintedFrames(base, cut.closed), paintedFrames(base, cut.opened)]);
  const last = before[before.length - 1];
  const first = after[0];
  const s1 = leaving.start();
  const s2 = coming.start();
  if (last === undefined || first === undefined || s1 === null || s2 === null) return null;
  return s2 + first * FRAME_MS - (s1 + last * FRAME_MS) - FRAME_MS;
}

async function redundancy(stack: Stack): Promise<{ onAir: string | null; switchCount: number; inputs: Record<string, { health: string } | null> } | null> {
  const res = await fetch(`${stack.baseUrl}/api/channels/${CH}`, { headers: AUTH });
  const body = (await res.json()) as { status: { redundancy: { onAir: string | null; switchCount: number; inputs: Record<string, { health: string } | null> } | null } };
  return body.status.redundancy;
}

/** The switch after `fromMs`: the segment opened with a discontinuity, the parts around it, the timeline gap. */
function switchFigures(events: Timed[], fromMs: number): { outputGapMs: number; onAirMs: number; timelineGapMs: number; cut: { closed: number; opened: number } } | null {
  const idx = events.findIndex((e) => e.atMs >= fromMs && e.event.type === 'segment:opened' && e.event.discontinuity);
  if (idx < 0) return null;
  const opened = events[idx]?.event;
  if (opened?.type !== 'segment:opened') return null;
  const firstPart = events.slice(idx).find((e) => e.event.type === 'part:ready' && e.event.segment === opened.segment);
  const before = events.slice(0, idx).reverse();
  const closed = before.find((e) => e.event.type === 'segment:closed');
  if (!firstPart || closed?.event.type !== 'segment:closed') return null;
  // The last part announced while media flowed: the leaving input's final (short) part is announced with its
  // segment's close, at the switch, not when its last frame came.
  const lastPart = before.find((e) => e.event.type === 'part:ready' && e.atMs < closed.atMs);
  if (!lastPart) return null;
  const end = closed.event.startPts + closed.event.durationPts;
  return {
    outputGapMs: firstPart.atMs - lastPart.atMs,
    onAirMs: firstPart.atMs - fromMs,
    timelineGapMs: ((opened.startPts - end) / TIMELINE_HZ) * 1000,
    cut: { closed: closed.event.segment, opened: opened.segment },
  };
}

export const backupSwitchBench: Bench = {
  name: 'backup',
  description: 'redundant publishers: the switch gap (primary killed or ended → backup on air, and the return)',
  async run(): Promise<BenchRow[]> {
    const stack = await startStack({ live: true, redundancy: { stallMs: STALL_MS, returnMs: RETURN_MS } });
    const publishers: ClockedPublisher[] = [];
    const reader = stack.connect();
    const events: Timed[] = [];
    let reading = true;
    try {
      const res = await fetch(`${stack.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: CH, ladder: [] }) });
      if (res.status !== 201) throw new Error(`channel: ${res.status} ${await res.text()}`);
      const ingest = ((await res.json()) as { ingest: { srt: string; backup: { srt: string } } }).ingest;
      await new Promise((r) => setTimeout(r, 200));
      let lastId = '0-0';
      const pump = (async () => {
        while (reading) {
          const r = await stack.live.readEvents(reader, CH, lastId, 500).catch(() => null);
          if (!r) continue;
          lastId = r.lastId;
          for (const e of r.events) events.push({ atMs: streamIdMs(e.id), event: e.event });
        }
      })();
      let primary = encoder(ingest.srt);
      const backup = encoder(ingest.backup.srt);
      publishers.push(primary, backup);
      const gaps: Record<string, number[]> = { killed: [], ended: [], 'return': [] };
      let seen: unknown = null;
      const healthy = () => waitFor('both inputs healthy, the primary on air', async () => {
        const r = await redundancy(stack);
        seen = r;
        return r && r.onAir === 'primary' && r.inputs.primary?.health === 'healthy' && r.inputs.backup?.health === 'healthy' ? r : null;
      }, 60000).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(seen)}; primary: ${primary.stderr()}; backup: ${backup.stderr()}`);
      });
      const figures: Record<string, { outputGapMs: number; onAirMs: number; timelineGapMs: number }[]> = { killed: [], ended: [], 'return': [] };
      for (let round = 0; round < ROUNDS * 2; round++) {
        const mode = round % 2 === 0 ? 'killed' : 'ended';
        const before = await healthy();
        await new Promise((r) => setTimeout(r, 2500)); // a few parts from the primary
        const stoppedAt = Date.now();
        await primary.end?.(mode === 'killed' ? 'SIGKILL' : 'SIGTERM');
        const leaving = primary;
        await waitFor('the backup on air', async () => (await redundancy(stack))?.onAir === 'backup', 30000);
        await waitFor('the backup\'s first part', async () => switchFigures(events, stoppedAt), 20000);
        const away = switchFigures(events, stoppedAt);
        if (away) {
          figures[mode]?.push(away);
          const g = await contentGap(stack.baseUrl, away.cut, leaving, backup).catch(() => null);
          if (g !== null) gaps[mode]?.push(g);
        }
        await new Promise((r) => setTimeout(r, 2000));
        const restartedAt = Date.now();
        primary = encoder(ingest.srt);
        publishers.push(primary);
        await waitFor('the primary back on air', async () => {
          const r = await redundancy(stack);
          return r && r.onAir === 'primary' && r.switchCount >= before.switchCount + 2;
        }, 60000);
        await waitFor('the primary\'s first part', async () => switchFigures(events, restartedAt), 20000);
        const back = switchFigures(events, restartedAt);
        if (back) {
          figures.return?.push({ ...back, onAirMs: back.onAirMs });
          const g = await contentGap(stack.baseUrl, back.cut, backup, primary).catch(() => null);
          if (g !== null) gaps.return?.push(g);
        }
      }
      const rows: BenchRow[] = [];
      const add = (label: string, values: number[], unit: string, note: string) => {
        if (values.length) rows.push({ bench: 'backup', metric: label, ours: percentile(values, 50), unit, note: `p50 of ${values.length}; max ${Math.max(...values).toFixed(0)}; ${note}` });
      };
      add('output gap, primary killed (stall bound 1 s)', figures.killed?.map((f) => f.outputGapMs) ?? [], 'ms', 'last primary part → first backup part');
      add('output gap, primary ended (disconnect told)', figures.ended?.map((f) => f.outputGapMs) ?? [], 'ms', 'last primary part → first backup part');
      add('output gap, primary returning', figures.return?.map((f) => f.outputGapMs) ?? [], 'ms', 'last backup part → first primary part');
      add('backup on air after the kill', figures.killed?.map((f) => f.onAirMs) ?? [], 'ms', 'SIGKILL → first backup part');
      add('backup on air after the end', figures.ended?.map((f) => f.onAirMs) ?? [], 'ms', 'SIGTERM → first backup part');
      add('content gap, primary killed', gaps.killed ?? [], 'ms', 'painted frames: + skipped, - repeated (0: seamless)');
      add('content gap, primary ended', gaps.ended ?? [], 'ms', 'painted frames: + skipped, - repeated');
      add('content gap, primary returning', gaps.return ?? [], 'ms', 'painted frames: + skipped, - repeated');
      add('timeline gap at a switch', [...Object.values(figures).flat()].map((f) => f.timelineGapMs), 'ms', 'one frame is 40 ms');
      reading = false;
      await pump;
      return rows;
    } finally {
      reading = false;
      for (const p of publishers) await p.stop();
      await reader.quit().catch(() => undefined);
      await stack.close();
    }
  },
};
