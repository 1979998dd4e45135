/**
 * Real media through the CMAF writer: ffmpeg makes an MPEG-TS (H.264 with B-frames, AAC in
 * ADTS), beamcoder demuxes it, we package Annex-B video and ADTS audio into init + fragments
 * (some split into LL-HLS-sized parts) and ffprobe/ffmpeg must read back every packet with the
 * source timestamps, decode every frame, and play an HLS playlist over the files.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildInitSegment, buildMediaSegment } from '../../../packager/cmaf/boxes';
import { resolveTrack, toCmafSamples } from '../../../packager/cmaf/prepare';
import { renderMediaPlaylist } from '../../../packager/hls/media-playlist';
import type { CmafSample, CmafTrack, Sample, TrackInfo } from '../../../packager/model';

const run = promisify(execFile);

interface BeamPacket {
  stream_index: number;
  pts: number;
  dts: number;
  duration: number;
  size: number;
  flags: { KEY: boolean };
  data: Buffer;
}
interface BeamDemuxer {
  streams: Array<{ time_base: [number, number]; codecpar: { name: string; sample_rate: number; channels: number } }>;
  read(): Promise<BeamPacket | null>;
}
interface Beamcoder {
  demuxer(url: string): Promise<BeamDemuxer>;
}

const beamcoder = require('beamcoder') as Beamcoder;

async function sh(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { timeout: 20_000, maxBuffer: 32 * 1024 * 1024 });
  return stdout;
}

interface ProbedPacket {
  pts: number;
  dts: number;
  flags: string;
}

async function probePackets(file: string, stream: string): Promise<ProbedPacket[]> {
  const out = await sh('ffprobe', ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts,dts,flags',
    '-of', 'json', file]);
  return (JSON.parse(out) as { packets: Array<{ pts: number; dts: number; flags: string }> }).packets;
}

async function decodedFrames(file: string, stream: string, extra: string[] = []): Promise<number> {
  const out = await sh('ffprobe', ['-v', 'error', ...extra, '-select_streams', stream, '-count_frames',
    '-show_entries', 'stream=nb_read_frames', '-of', 'json', file]);
  const streams = (JSON.parse(out) as { streams: Array<{ nb_read_frames: string }> }).streams;
  return Number(streams[0]?.nb_read_frames);
}

/** Cuts samples into groups starting at each keyframe (video) or every `n` samples (audio). */
function groupAtKeyframes(samples: CmafSample[]): CmafSample[][] {
  const groups: CmafSample[][] = [];
  for (const s of samples) {
    if (s.keyframe || groups.length === 0) groups.push([]);
    groups[groups.length - 1]?.push(s);
  }
  return groups;
}

function groupEvery(samples: CmafSample[], n: number): CmafSample[][] {
  const groups: CmafSample[][] = [];
  for (let i = 0; i < samples.length; i += n) groups.push(samples.slice(i, i + n));
  return groups;
}

/** Fragments of a track: the second group is written as two parts, the rest whole. */
function fragments(track: CmafTrack, groups: CmafSample[][]): Buffer[] {
  let seq = 1;
  const out: Buffer[] = [];
  groups.forEach((g, i) => {
    if (i === 1 && g.length > 2) {
      const half = Math.ceil(g.length / 2);
      const a = buildMediaSegment(track, g.slice(0, half), seq++);
      const b = buildMediaSegment(track, g.slice(half), seq++, undefined, { styp: false });
      out.push(Buffer.concat([a, b]));
    } else out.push(buildMediaSegment(track, g, seq++, g[0]?.dts));
  });
  return out;
}

test('CMAF from Annex-B H.264 and ADTS AAC plays back in ffprobe/ffmpeg with exact timestamps', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'beamline-cmaf-'));
  try {
    const ts = path.join(dir, 'x.ts');
    await sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
      '-f', 'lavfi', '-i', 'sine', '-t', '4', '-c:v', 'libx264', '-g', '25', '-bf', '2', '-c:a', 'aac', '-f', 'mpegts', ts]);

    const dm = await beamcoder.demuxer(`file:${ts}`);
    const video: Sample[] = [];
    const audio: Sample[] = [];
    for (let p = await dm.read(); p; p = await dm.read()) {
      // beamcoder's data buffer carries FFmpeg's input padding: the packet is its first `size` bytes.
      const s: Sample = { pts: p.pts, dts: p.dts, duration: p.duration, keyframe: p.flags.KEY, data: p.data.subarray(0, p.size) };
      (p.stream_index === 0 ? video : audio).push(s);
    }
    assert.equal(video.length, 100);
    assert.ok(audio.length > 150);

    const vInfo: TrackInfo = { id: 1, kind: 'video', codec: 'h264', timescale: 90000 };
    const aInfo: TrackInfo = { id: 2, kind: 'audio', codec: 'aac', timescale: 90000 };
    const vTrack = resolveTrack(vInfo, video);
    const aTrack = resolveTrack(aInfo, audio);
    assert.equal(vTrack.config.codec, 'h264');
    if (vTrack.config.codec === 'h264') {
      assert.deepEqual([vTrack.config.width, vTrack.config.height], [320, 240]);
      assert.equal(vTrack.config.frameRate, 25);
      assert.match(vTrack.config.codecString, /^avc1\.64/);
    }
    assert.equal(aTrack.timescale, 44100);
    assert.equal(aTrack.config.codecString, 'mp4a.40.2');

    const vSamples = toCmafSamples(vInfo, vTrack, video);
    const aSamples = toCmafSamples(aInfo, aTrack, audio);
    const vGroups = groupAtKeyframes(vSamples);
    assert.equal(vGroups.length, 4);
    const vFrags = fragments(vTrack, vGroups);
    const aFrags = fragments(aTrack, groupEvery(aSamples, 43));

    const vFile = path.join(dir, 'video.mp4');
    const aFile = path.join(dir, 'audio.mp4');
    await writeFile(vFile, Buffer.concat([buildInitSegment([vTrack]), ...vFrags]));
    await writeFile(aFile, Buffer.concat([buildInitSegment([aTrack]), ...aFrags]));

    const vPackets = await probePackets(vFile, 'v:0');
    assert.equal(vPackets.length, video.length);
    assert.deepEqual(vPackets.map((p) => p.pts), video.map((s) => s.pts), 'video pts');
    assert.deepEqual(vPackets.map((p) => p.dts), video.map((s) => s.dts), 'video dts');
    assert.deepEqual(vPackets.map((p) => p.flags.startsWith('K')), video.map((s) => s.keyframe), 'keyframe flags');
    assert.equal(await decodedFrames(vFile, 'v:0'), video.length);

    const aPackets = await probePackets(aFile, 'a:0');
    assert.equal(aPackets.length, audio.length);
    assert.deepEqual(aPackets.map((p) => p.pts), aSamples.map((s) => s.dts), 'audio pts (44.1 kHz)');
    for (const [i, p] of aPackets.entries()) {
      assert.ok(Math.abs((p.pts * 90000) / 44100 - (audio[i]?.pts ?? 0)) <= 1, `audio packet ${i} keeps its time`);
    }
    assert.equal(await decodedFrames(aFile, 'a:0'), audio.length);

    // An HLS media playlist over separate init and segment files.
    await writeFile(path.join(dir, 'init.mp4'), buildInitSegment([vTrack]));
    const segments = await Promise.all(vFrags.map(async (f, i) => {
      const uri = `seg${i}.m4s`;
      await writeFile(path.join(dir, uri), f);
      const g = vGroups[i] ?? [];
      return { uri, duration: g.reduce((t, s) => t + s.duration, 0) / 90000, programDateTime: Date.UTC(2024, 0, 1) + i * 1000 };
    }));
    const playlist = path.join(dir, 'video.m3u8');
    await writeFile(playlist, renderMediaPlaylist({ kind: 'vod', mediaSequence: 0, map: 'init.mp4', segments }));
    assert.equal(await decodedFrames(playlist, 'v:0'), video.length);
    await sh('ffmpeg', ['-v', 'error', '-i', playlist, '-f', 'null', '-']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
