/**
 * One channel's (or rendition's) live media for the WebRTC viewers of this process: follows the newest packets
 * in the store (a short poll of the stream indexes while anyone watches: ingest writes a batch at least every
 * 50 ms, and the part events come only every ~0.33 s, too coarse for sub-second viewing), turns video packets
 * into Annex-B access units with parameter sets on keyframes, and audio into Opus once for every viewer.
 * Subscribers get frames in decode order from the moment they subscribe.
 */

import type { Format, Stream } from '../core/model/media';
import type { Store } from '../core/store/store';
import { accessUnit, parameterSetsOf, type ParameterSets } from './h264-frames';
import { createOpusMaker, type OpusMaker } from './opus-maker';
import { AUDIO_STREAM, VIDEO_STREAM } from '../core/model/live';

export type FeedFrame =
  | { kind: 'video'; pts: number; dts: number; keyframe: boolean; data: Buffer }
  | { kind: 'audio'; pts: number; data: Buffer };

export interface FeedInfo {
  /** The SPS profile_idc (66 baseline, 77 main, 100 high), null when unknown. */
  profileIdc: number | null;
  hasAudio: boolean;
}

export interface ChannelFeed {
  readonly content: string;
  info(): FeedInfo;
  subscribe(fn: (f: FeedFrame) => void): () => void;
  subscribers(): number;
  close(): void;
}

export interface FeedLog {
  warn(obj: object, msg?: string): void;
}

export interface ChannelFeedDeps {
  store: Store;
  log: FeedLog;
  createOpus?: (aac: Stream) => OpusMaker;
}

export interface ChannelFeedConfig {
  /** How often the store is asked for new packets, ms. */
  pollMs: number;
  /** How often the format (parameter sets, audio) is re-read, ms. */
  formatMs: number;
}

export const DEFAULT_FEED_CONFIG: ChannelFeedConfig = { pollMs: 20, formatMs: 2000 };

const FAR = 2 ** 50;

function profileOf(ps: ParameterSets): number | null {
  const sps = ps.sps[0];
  return sps && sps.length > 1 ? (sps[1] as number) : null;
}

/** Opens the feed: reads the format, then follows from the newest packet. Rejects when the content has no H.264 video. */
export async function openChannelFeed(deps: ChannelFeedDeps, config: ChannelFeedConfig, content: string, audioContent = content): Promise<ChannelFeed> {
  const { store, log } = deps;
  let format: Format | null = await store.getFormat(content);
  let audioFormat: Format | null = audioContent === content ? format : await store.getFormat(audioContent);
  const videoOf = (f: Format | null) => f?.streams.find((s) => s.index === VIDEO_STREAM && s.codecpar.codec_type === 'video' && s.codecpar.name === 'h264');
  if (!videoOf(format)) throw new Error(`${content} has no H.264 video`);
  let ps = parameterSetsOf(extradataOf(videoOf(format)));
  let audioStream: Stream | undefined = audioFormat?.streams.find((s) => s.index === AUDIO_STREAM && s.codecpar.codec_type === 'audio' && s.codecpar.name === 'aac');
  let opus: OpusMaker | null = null;
  const makeOpus = (s: Stream) => {
    try {
      return (deps.createOpus ?? createOpusMaker)(s);
    } catch (err) {
      log.warn({ content, err: (err as Error).message }, 'WebRTC: cannot make Opus from the channel audio; video only');
      return null;
    }
  };
  if (audioStream) opus = makeOpus(audioStream);

  const newest = async (s: number) => (await store.query(content, s, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 }))[0]?.meta;
  const v = await newest(0);
  const a = audioStream ? (await store.query(audioContent, AUDIO_STREAM, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 }))[0]?.meta : undefined;
  let videoCursor = v && typeof v.dts === "number" ? v.dts + 1 : 0;
  let audioCursor = a && typeof a.dts === "number" ? a.dts + 1 : 0;

  const subs = new Set<(f: FeedFrame) => void>();
  let closed = false;
  let lastFormatAt = Date.now();
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;

  const emit = (f: FeedFrame) => {
    for (const fn of subs) {
      try {
        fn(f);
      } catch (err) {
        log.warn({ content, err: (err as Error).message }, 'WebRTC: a viewer failed on a frame');
      }
    }
  };

  async function refreshFormat(): Promise<void> {
    lastFormatAt = Date.now();
    const f = await store.getFormat(content);
    if (!f) return;
    format = f;
    const next = parameterSetsOf(extradataOf(videoOf(f)));
    if (next.sps.length > 0) ps = next;
    audioFormat = audioContent === content ? f : await store.getFormat(audioContent);
    const nextAudio = audioFormat?.streams.find((s) => s.index === AUDIO_STREAM && s.codecpar.codec_type === 'audio' && s.codecpar.name === 'aac');
    if (nextAudio && JSON.stringify(nextAudio.codecpar) !== JSON.stringify(audioStream?.codecpar)) {
      opus?.close();
      audioStream = nextAudio;
      opus = makeOpus(nextAudio);
    }
  }

  async function poll(): Promise<void> {
    if (Date.now() - lastFormatAt >= config.formatMs) await refreshFormat();
    const [video, audio] = await Promise.all([
      store.readPackets(content, VIDEO_STREAM, videoCursor, FAR),
      audioStream && opus ? store.readPackets(audioContent, AUDIO_STREAM, audioCursor, FAR) : Promise.resolve([]),
    ]);
    for (const p of video) {
      videoCursor = p.meta.dts + 1;
      const data = accessUnit(p.data, p.meta.flags.KEY, ps);
      if (data) emit({ kind: 'video', pts: p.meta.pts, dts: p.meta.dts, keyframe: p.meta.flags.KEY, data });
    }
    const maker = opus;
    for (const p of audio) {
      audioCursor = p.meta.dts + 1;
      if (!maker) continue;
      for (const o of await maker.push({ pts: p.meta.pts, data: p.data })) emit({ kind: 'audio', pts: o.pts, data: o.data });
    }
  }

  function schedule(delay: number): void {
    if (closed) return;
    timer = setTimeout(() => {
      poll()
        .then(() => {
          failures = 0;
          schedule(config.pollMs);
        })
        .catch((err: Error) => {
          // Redis away: keep the viewers, retry with a growing pause (at most 2 s), log once per streak.
          if (failures++ === 0) log.warn({ content, err: err.message }, 'WebRTC: cannot read the channel; retrying');
          schedule(Math.min(2000, config.pollMs * 2 ** Math.min(failures, 7)));
        });
    }, delay);
  }
  schedule(0);

  return {
    content,
    info: () => ({ profileIdc: profileOf(ps), hasAudio: !!audioStream && !!opus }),
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
    subscribers: () => subs.size,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      subs.clear();
      opus?.close();
    },
  };
}

function extradataOf(s: Stream | undefined): Buffer | null {
  const e = s?.codecpar.extradata;
  return typeof e === 'string' && e.length > 0 ? Buffer.from(e, 'base64') : null;
}
