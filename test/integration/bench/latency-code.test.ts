/**
 * The latency bench's picture code survives the real path: ffmpeg paints frame numbers into 640x360,
 * x264 encodes the picture scaled to a small rendition at a low bit rate, and decoding it back and
 * sampling the block centres gives every frame's number.
 */

import { describe, it, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeLumas, defaultCode, paintFilter, samplePoints } from '../../bench/latency-code';

const dir = mkdtempSync(join(tmpdir(), 'beamline-latency-code-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FRAMES = 40;

function roundTrip(width: number, height: number, bitrate: string): number[] {
  const code = defaultCode(640);
  const file = join(dir, `${width}.ts`);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-frames:v', String(FRAMES),
    '-vf', `${paintFilter(code)},scale=${width}:${height}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', bitrate, '-pix_fmt', 'yuv420p', file,
  ], { timeout: 20000 });
  const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { timeout: 20000, maxBuffer: 64 << 20 });
  const size = width * height;
  const points = samplePoints(code, width);
  const numbers: number[] = [];
  for (let f = 0; f * size < raw.length; f++) {
    numbers.push(decodeLumas(points.map((p) => raw[f * size + p.y * width + p.x] as number)));
  }
  return numbers;
}

describe('painted frame numbers read back', () => {
  for (const [w, h, rate] of [[640, 360, '1000k'], [426, 240, '400k'], [320, 180, '250k']] as const) {
    it(`at ${w}x${h} ${rate}`, { timeout: 30000 }, () => {
      assert.deepEqual(roundTrip(w, h, rate), Array.from({ length: FRAMES }, (_, i) => i));
    });
  }
});
