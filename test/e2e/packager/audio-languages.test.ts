/**
 * Audio languages end to end: an SRT publisher (ffmpeg) sends one video and two audio tracks tagged English
 * (a 440 Hz tone) and French (880 Hz, in MP2, so made AAC at ingest). The multivariant playlist lists one
 * EXT-X-MEDIA per language, the MPD one AdaptationSet each with its `lang`; ffprobe sees both languages through
 * the multivariant playlist, and each language's segments decode to its own tone.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { closedSegments, createRigChannel, httpGet, run, startPackagerRig, type PackagerRig } from './rig';
import { wrapFfmpeg } from '../../helpers/publishers';
import { waitFor } from '../../helpers/process';
import { parseM3u8 } from '../../unit/packager/parsers';

let rig: PackagerRig;
const CH = 'langs';
const get = (path: string) => httpGet(rig.base, path);

beforeAll(async () => {
  rig = await startPackagerRig('main', new Registry());
  const url = await createRigChannel(rig.app, rig.ingest, CH);
  rig.publishers.push(wrapFfmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000',
    '-t', '30', '-map', '0:v', '-map', '1:a', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p',
    '-c:a:0', 'aac', '-b:a:0', '64k', '-c:a:1', 'mp2', '-b:a:1', '128k',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre',
    '-f', 'mpegts', url,
  ]));
  await waitFor('3 closed segments of the channel', async () => (await closedSegments(rig.live, CH)) >= 3, 30000);
}, 60000);

afterAll(async () => {
  await rig?.close();
});

/** The dominant frequency of decoded audio (Hz), from its zero crossings (a pure tone here). */
async function toneOf(url: string): Promise<number> {
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', url, '-t', '3', '-map', '0:a:0', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'], { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 20000 });
  const pcm = r.stdout as unknown as Buffer;
  const samples = pcm.length / 2;
  let crossings = 0;
  for (let i = 1; i < samples; i++) if ((pcm.readInt16LE(2 * (i - 1)) < 0) !== (pcm.readInt16LE(2 * i) < 0)) crossings++;
  return crossings / 2 / (samples / 48000);
}

describe('audio languages', () => {
  it('one EXT-X-MEDIA per language, the main one default; ffprobe sees both through the multivariant playlist', async () => {
    const master = await get(`/live/${CH}/master.m3u8`);
    assert.equal(master.status, 200, master.text);
    const media = master.text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    assert.equal(media.length, 2, master.text);
    assert.match(media[0] as string, /LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES.*URI="audio\.m3u8"/);
    assert.match(media[1] as string, /LANGUAGE="fr",NAME="French",DEFAULT=NO,AUTOSELECT=YES.*URI="audio2\.m3u8"/);
    const { warnings } = parseM3u8(master.text);
    assert.deepEqual(warnings, []);
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:stream_tags=language', '-of', 'json', `${rig.base}/live/${CH}/master.m3u8`], { timeout: 30000 });
    const streams = (JSON.parse(probe.stdout) as { streams: { codec_type: string; codec_name: string; tags?: { language?: string } }[] }).streams;
    const audio = streams.filter((s) => s.codec_type === 'audio');
    assert.deepEqual([...new Set(audio.map((s) => `${s.codec_name}:${s.tags?.language ?? ''}`))].sort(), ['aac:en', 'aac:fr'], probe.stdout);
  });

  it('each language plays its own track: the English segments carry the 440 Hz tone, the French (made AAC) the 880 Hz', async () => {
    const text = (await get(`/live/${CH}/audio2.m3u8`)).text;
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, [], text);
    assert.ok(manifest.segments.length >= 2, text);
    const en = await toneOf(`${rig.base}/live/${CH}/audio.m3u8`);
    const fr = await toneOf(`${rig.base}/live/${CH}/audio2.m3u8`);
    assert.ok(Math.abs(en - 440) < 20, `English: ${en} Hz`);
    assert.ok(Math.abs(fr - 880) < 20, `French: ${fr} Hz`);
    // LL-HLS parts of the second track are announced like the main one's.
    assert.ok(text.includes('#EXT-X-PART:') && text.includes('URI="audio2-'), text);
    assert.equal((await get(`/live/${CH}/audio3.m3u8`)).status, 404, 'no third track');
  });

  it('the MPD has one audio AdaptationSet per language, with its lang and files', async () => {
    const mpd = (await get(`/live/${CH}/manifest.mpd`)).text;
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>/g)].map((m) => m[0]);
    assert.equal(sets.length, 2, mpd);
    assert.match(sets[0] as string, /lang="en"/);
    assert.match(sets[1] as string, /lang="fr"/);
    assert.match(mpd, /initialization="audio2-init\.mp4"/);
    assert.equal((await get(`/live/${CH}/audio2-init.mp4`)).status, 200);
  });
});
