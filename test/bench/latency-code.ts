/**
 * The picture code of the glass-to-glass bench, pure: the publisher paints its frame number as a row of
 * white blocks on a black strip (one block per bit, least significant first) with ffmpeg drawbox filters,
 * the page samples the block centres; and the publisher's send clock is recovered from ffmpeg's
 * `-progress` reports (frame n leaves at start + n / fps, with `-re` pacing the input).
 * GPL-3.0-or-later.
 */

export interface BlockCode {
  /** Bits painted (the frame number modulo 2^bits). */
  bits: number;
  /** Block side and pitch in pixels of the painted picture (at `width`). */
  block: number;
  pitch: number;
  /** Left and top of the first block. */
  x0: number;
  y0: number;
  /** Width of the painted picture, to scale the sample points for a smaller rendition. */
  width: number;
}

/** 20 bits at 25 fps wrap after 11.6 hours; 28 px blocks survive a 320-wide rendition at 250 kb/s. */
export function defaultCode(width: number): BlockCode {
  const bits = 20;
  const pitch = Math.floor((width - 16) / bits);
  if (pitch < 8) throw new Error(`a ${width} px wide picture is too narrow for a ${bits}-bit block code`);
  return { bits, block: pitch - 4, pitch, x0: 8, y0: 8, width };
}

/** The ffmpeg filter chain painting the frame number `n` (drawbox with timeline `enable`). */
export function paintFilter(code: BlockCode): string {
  const strip = `drawbox=x=0:y=0:w=iw:h=${code.y0 * 2 + code.block}:color=black:t=fill`;
  const boxes = Array.from({ length: code.bits }, (_, i) =>
    `drawbox=x=${code.x0 + i * code.pitch}:y=${code.y0}:w=${code.block}:h=${code.block}:color=white:t=fill:enable='eq(mod(floor(n/${2 ** i}),2),1)'`);
  return [strip, ...boxes].join(',');
}

/** Sample points (block centres) for a rendition `videoWidth` wide. */
export function samplePoints(code: BlockCode, videoWidth: number): { x: number; y: number }[] {
  const k = videoWidth / code.width;
  return Array.from({ length: code.bits }, (_, i) => ({
    x: Math.round((code.x0 + i * code.pitch + code.block / 2) * k),
    y: Math.round((code.y0 + code.block / 2) * k),
  }));
}

/** The number from the luma (0..255) sampled at each block centre, least significant bit first. */
export function decodeLumas(lumas: number[]): number {
  return lumas.reduce((n, l, i) => (l >= 128 ? n + 2 ** i : n), 0);
}

/**
 * The wall time (ms) frame 0 left the publisher, from `-progress` reports: each report of output time
 * `outMs` arriving at `arrivedMs` bounds it from above (a frame leaves no earlier than its paced read),
 * so the smallest difference is the tightest estimate. Null without a usable report.
 */
export function sendClockStart(reports: { outMs: number; arrivedMs: number }[]): number | null {
  const usable = reports.filter((r) => Number.isFinite(r.outMs) && r.outMs > 0);
  if (usable.length === 0) return null;
  return Math.min(...usable.map((r) => r.arrivedMs - r.outMs));
}

/** Parse one `-progress` block's `out_time_us=` line (ffmpeg writes N/A before the first packet). */
export function progressOutMs(line: string): number | null {
  const m = /^out_time_us=(\d+)$/.exec(line.trim());
  return m ? Number(m[1]) / 1000 : null;
}

/**
 * Latencies (ms) from page samples `{ n, at }` (frame number read back, Date.now() when shown), for frames
 * sent at `start + n * frameMs`. The frame number wraps at 2^bits: it is unwrapped to the newest frame sent
 * by the sample's time (right while latency < 2^bits frames); implausible latencies (misreads) are dropped.
 */
export function latencies(samples: { n: number; at: number }[], start: number, frameMs: number, bits: number, maxMs = 60000): number[] {
  const period = 2 ** bits;
  const out: number[] = [];
  for (const s of samples) {
    // The newest frame that could have been sent by then (200 ms of clock slack).
    const newest = Math.floor((s.at - start + 200) / frameMs);
    const n = s.n + Math.floor((newest - s.n) / period) * period;
    const ms = s.at - (start + n * frameMs);
    if (ms > -200 && ms < maxMs) out.push(ms);
  }
  return out;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** One entry of a channel's event stream: the XADD id's milliseconds (Redis's clock) and the event. */
export interface TimedEvent {
  ms: number;
  event: { type: string; segment?: number; part?: number; startPts?: number; durationPts?: number; rendition?: string };
}

/** Milliseconds of an XADD id (`<ms>-<seq>`). */
export function streamIdMs(id: string): number {
  return Number(id.split('-')[0]);
}

/**
 * The server side of the budget, from a channel's events: for each `part:ready` after `fromMs`, how long
 * after its last frame was sent it was announced (`ready`: encoder + SRT latency + ingest), with frame n
 * at `firstFramePts + n * frameTicks` on the channel timeline and sent at `start + n * frameMs`; and for
 * each `rendition:ready` of a part, how long after the source part it came (`rung`).
 */
export function partReadyDelays(
  events: TimedEvent[], firstFramePts: number, start: number, frameTicks: number, frameMs: number, fromMs: number,
): { ready: number[]; rung: number[] } {
  const readyAt = new Map<string, number>();
  const ready: number[] = [];
  const rung: number[] = [];
  for (const { ms, event: e } of events) {
    if (e.type === 'part:ready' && e.startPts !== undefined && e.durationPts !== undefined) {
      readyAt.set(`${e.segment}.${e.part}`, ms);
      if (ms < fromMs) continue;
      const last = Math.round((e.startPts + e.durationPts - firstFramePts) / frameTicks) - 1;
      ready.push(ms - (start + last * frameMs));
    } else if (e.type === 'rendition:ready' && e.part !== undefined && ms >= fromMs) {
      const src = readyAt.get(`${e.segment}.${e.part}`);
      if (src !== undefined) rung.push(ms - src);
    }
  }
  return { ready, rung };
}
