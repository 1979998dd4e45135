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
 * Prints figures only. (Not measured: the content skipped or repeated at the cut, which frame numbers painted
 * by the encoders would show; the new input starts at its newest keyframe, up to one GOP back.)
 */

import { AUTH } from '../helpers/app';
import { wrapFfmpeg, type Publisher } from '../helpers/publishers';
import { startStack, waitFor, type Stack } from '../e2e/player/stack';
import type { Bench, BenchRow } from './harness';
import { percentile, streamIdMs } from './latency-code';
import { TIMELINE_HZ, type ChannelEvent } from '../../core/model/live';

const CH = 'bench-switch';
const ROUNDS = 3;
const STALL_MS = 1000;
const RETURN_MS = 3000;

interface Timed { atMs: number; event: ChannelEvent }

function encoder(pattern: string, url: string): Publisher {
  return wrapFfmpeg([
    '-f', 'lavfi', '-i', `${pattern}=size=640x360:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '600', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p', '-b:v', '800k',
    '-c:a', 'aac', '-b:a', '64k', '-pes_payload_size', '0', '-f', 'mpegts', url,
  ]);
}

async function redundancy(stack: Stack): Promise<{ onAir: string | null; switchCount: number; inputs: Record<string, { health: string } | null> } | null> {
  const res = await fetch(`${stack.baseUrl}/api/channels/${CH}`, { headers: AUTH });
  const body = (await res.json()) as { status: { redundancy: { onAir: string | null; switchCount: number; inputs: Record<string, { health: string } | null> } | null } };
  return body.status.redundancy;
}

/** The switch after `fromMs`: the segment opened with a discontinuity, the parts around it, the timeline gap. */
function switchFigures(events: Timed[], fromMs: number): { outputGapMs: number; onAirMs: number; timelineGapMs: number } | null {
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
  };
}

export const backupSwitchBench: Bench = {
  name: 'backup',
  description: 'redundant publishers: the switch gap (primary killed or ended → backup on air, and the return)',
  async run(): Promise<BenchRow[]> {
    const stack = await startStack({ redundancy: { stallMs: STALL_MS, returnMs: RETURN_MS } });
    const publishers: Publisher[] = [];
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
      let primary = encoder('testsrc2', ingest.srt);
      publishers.push(primary, encoder('smptebars', ingest.backup.srt));
      const healthy = () => waitFor('both inputs healthy, the primary on air', async () => {
        const r = await redundancy(stack);
        return r && r.onAir === 'primary' && r.inputs.primary?.health === 'healthy' && r.inputs.backup?.health === 'healthy' ? r : null;
      }, 60000);
      const figures: Record<string, { outputGapMs: number; onAirMs: number; timelineGapMs: number }[]> = { killed: [], ended: [], 'return': [] };
      for (let round = 0; round < ROUNDS * 2; round++) {
        const mode = round % 2 === 0 ? 'killed' : 'ended';
        const before = await healthy();
        await new Promise((r) => setTimeout(r, 2500)); // a few parts from the primary
        const stoppedAt = Date.now();
        if (mode === 'killed') primary.child.kill('SIGKILL');
        else primary.child.kill('SIGTERM');
        await primary.exited;
        await waitFor('the backup on air', async () => (await redundancy(stack))?.onAir === 'backup', 30000);
        await waitFor('the backup\'s first part', async () => switchFigures(events, stoppedAt), 20000);
        const away = switchFigures(events, stoppedAt);
        if (away) figures[mode]?.push(away);
        await new Promise((r) => setTimeout(r, 2000));
        const restartedAt = Date.now();
        primary = encoder('testsrc2', ingest.srt);
        publishers.push(primary);
        await waitFor('the primary back on air', async () => {
          const r = await redundancy(stack);
          return r && r.onAir === 'primary' && r.switchCount >= before.switchCount + 2;
        }, 60000);
        await waitFor('the primary\'s first part', async () => switchFigures(events, restartedAt), 20000);
        const back = switchFigures(events, restartedAt);
        if (back) figures.return?.push({ ...back, onAirMs: back.onAirMs });
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
      add('timeline gap at a switch', [...Object.values(figures).flat()].map((f) => f.timelineGapMs), 'ms', 'one frame is 40 ms');
      reading = false;
      await pump;
      return rows;
    } finally {
      reading = false;
      for (const p of publishers) p.stop();
      await reader.quit().catch(() => undefined);
      await stack.close();
    }
  },
};
