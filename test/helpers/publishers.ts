/** Real publishers for tests: ffmpeg testsrc2 + sine over SRT or RTMP, and srt-live-transmit. */

import { spawn, type ChildProcess } from 'node:child_process';

export interface Publisher {
  child: ChildProcess;
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr(): string;
  stop(): void;
}

export interface PublishOptions {
  seconds: number;
  size?: string;
  fps?: number;
  gopFrames?: number;
  bitrate?: string;
  /** ffmpeg audio encoder, e.g. 'mp2', 'libmp3lame', 'ac3', 'libopus'. Default 'aac'. */
  audioCodec?: string;
  /** Audio sample rate (the sine source is 48 kHz; FLV takes MP3 only at 44.1/22.05/11.025 kHz). */
  audioRate?: number;
  /** Audio channels (the sine source is mono). */
  audioChannels?: number;
}

function encoderArgs(o: PublishOptions): string[] {
  const fps = o.fps ?? 25;
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '320x240'}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(o.gopFrames ?? fps), '-pix_fmt', 'yuv420p',
    ...(o.bitrate ? ['-b:v', o.bitrate] : []),
    '-c:a', o.audioCodec ?? 'aac', '-b:a', '64k',
    ...(o.audioRate ? ['-ar', String(o.audioRate)] : []),
    ...(o.audioChannels ? ['-ac', String(o.audioChannels)] : []),
  ];
}

function wrap(child: ChildProcess, group = false): Publisher {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (group && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
        return;
      } catch {
        // the group is gone already
      }
    }
    child.kill('SIGKILL');
  };
  return { child, exited, stderr: () => err, stop };
}

/** ffmpeg with arbitrary arguments (after the common flags), for unusual publishers. */
export function wrapFfmpeg(args: string[]): Publisher {
  return wrap(spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', ...args], { stdio: ['ignore', 'ignore', 'pipe'] }));
}

export function publishSrt(url: string, o: PublishOptions): Publisher {
  return wrap(spawn('ffmpeg', [...encoderArgs(o), '-f', 'mpegts', url], { stdio: ['ignore', 'ignore', 'pipe'] }));
}

export function publishRtmp(url: string, o: PublishOptions): Publisher {
  return wrap(spawn('ffmpeg', [...encoderArgs(o), '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] }));
}

/** ffmpeg encodes to stdout, srt-live-transmit (Debian srt-tools) is the SRT caller. */
export function publishSrtLiveTransmit(url: string, o: PublishOptions): Publisher {
  const cmd = `ffmpeg ${encoderArgs(o).map((a) => `'${a}'`).join(' ')} -f mpegts - | srt-live-transmit -q file://con '${url}'`;
  return wrap(spawn('bash', ['-o', 'pipefail', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], detached: true }), true);
}
