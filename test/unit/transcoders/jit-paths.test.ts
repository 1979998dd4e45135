/** Pure JIT request parsing, output sizing and ADTS handling. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { clipIdentity, imageIdentity, outputSize, parseClipRequest, parseImageRequest, sarOf } from '../../../transcoders/jit/jit-paths';
import { audioSpecificConfig, parseAdts, stripAdts } from '../../../transcoders/jit/adts';

describe('image requests', () => {
  it('frame and latest, jpg/jpeg/png, width', () => {
    assert.deepEqual(parseImageRequest('/beams/main/video/frame_3600.jpeg', { width: '160' }), { content: 'main', stream: 'video', at: { kind: 'pts', pts: 3600 }, format: 'jpeg', width: 160 });
    assert.deepEqual(parseImageRequest('/beams/main/stream_0/latest.png', {}).at, { kind: 'latest' });
    assert.equal(parseImageRequest('/beams/main/stream_0/latest.png', {}).format, 'png');
  });
  for (const [name, path, q] of [
    ['bad width', '/beams/a/video/latest.jpg', { width: '3' }],
    ['width not a number', '/beams/a/video/latest.jpg', { width: '1e3' }],
    ['not an image', '/beams/a/video/latest.gif', {}],
    ['huge pts', '/beams/a/video/frame_99999999999999999.jpg', {}],
  ] as const) {
    it(`refuses ${name} with 400`, () => assert.throws(() => parseImageRequest(path, q), (e: Error & { statusCode?: number }) => e.statusCode === 400));
  }
});

describe('clip requests', () => {
  it('media_ref range forms', () => {
    assert.deepEqual(parseClipRequest('/beams/main/all/90000-180000.mp4', {}).range, { kind: 'ptsRange', from: 90000, to: 180000 });
    assert.deepEqual(parseClipRequest('/beams/main/all/1.5s-3s.mp4', { accurate: '1' }), { content: 'main', range: { kind: 'secondsRange', from: 1.5, to: 3 }, accurate: true });
    assert.equal(parseClipRequest('/beams/main/all/10th-last.mp4', {}).range.kind, 'indexRange');
    assert.equal(parseClipRequest('/beams/main/all/9000+50d.mp4', {}).range.kind, 'relative');
  });
  it('refuses non-ranges and bad options', () => {
    assert.throws(() => parseClipRequest('/beams/main/all/latest.mp4', {}), /time range/);
    assert.throws(() => parseClipRequest('/beams/main/all/3-1.mp4', {}), /starts after it ends/);
    assert.throws(() => parseClipRequest('/beams/main/all/1-3.mp4', { accurate: 'yes' }), /accurate/);
  });
});

describe('output size', () => {
  it('keeps the display aspect, even sizes', () => {
    assert.deepEqual(outputSize(1920, 1080, [1, 1], 320), { width: 320, height: 180 });
    assert.deepEqual(outputSize(1440, 1080, [4, 3], 640), { width: 640, height: 360 });
    assert.deepEqual(outputSize(321, 241, undefined, null), { width: 322, height: 242 });
  });
  it('without a width, a source beyond 3840x2160 is scaled down to fit, aspect kept', () => {
    assert.deepEqual(outputSize(7680, 4320, [1, 1], null), { width: 3840, height: 2160 });
    assert.deepEqual(outputSize(1024, 36864, [1, 36], null), { width: 60, height: 2160 });
  });
  const bad = (e: Error & { statusCode?: number }, re: RegExp) => e.statusCode === 400 && re.test(e.message);
  for (const [name, args, re] of [
    // issue 10: ?width=7680 rendered 7680x4320 (1.75 CPU-s each)
    ['a width beyond 3840', [7680, 4320, [1, 1], 7680], /3840×2160/],
    ['a width beyond the source', [320, 240, [1, 1], 480], /320 px wide/],
    // issue 10: a 1024-wide request of a tall-SAR source gave 1024x36,864 and +260 MiB RSS
    ['a height beyond 2160 from a tall sample aspect ratio', [1024, 1024, [1, 36], 1024], /36864 px high.*2160/],
  ] as const) {
    it(`refuses ${name} with 400 naming the limit`, () => assert.throws(() => outputSize(args[0], args[1], [...args[2]], args[3]), (e: Error) => bad(e, re)));
  }
  it('the query refuses widths beyond 3840 before any job', () => {
    assert.throws(() => parseImageRequest('/beams/a/video/latest.jpg', { width: '3842' }), /3840/);
    assert.equal(parseImageRequest('/beams/a/video/latest.jpg', { width: '3840' }).width, 3840);
  });
  it('reads a stored sample aspect ratio', () => {
    assert.deepEqual(sarOf([1, 36]), [1, 36]);
    assert.deepEqual(sarOf({ num: 4, den: 3 }), [4, 3]);
    assert.equal(sarOf('1:1'), undefined);
  });
});

describe('request identity', () => {
  it('images: junk parameters, .jpg/.jpeg and one stream spelling give one identity; the query keeps width only', () => {
    const a = imageIdentity('/beams/main/video/frame_90.jpg', { width: '160', t: '1' });
    assert.deepEqual(a, imageIdentity('/beams/main/video_0/frame_90.jpeg', { cb: 'x', width: '160' }));
    assert.deepEqual(a.query, { width: '160' });
    assert.notEqual(a.key, imageIdentity('/beams/main/video/frame_90.jpg', {}).key);
    assert.notEqual(a.key, imageIdentity('/beams/main/video/frame_90.png', { width: '160' }).key);
    assert.notEqual(a.key, imageIdentity('/beams/main/video/frame_91.jpg', { width: '160' }).key);
    assert.deepEqual(imageIdentity('/beams/main/video/latest.jpg', { t: String(Date.now()) }).query, {});
  });
  it('clips: range and accurate flag; true and 1 are one', () => {
    const a = clipIdentity('/beams/main/all/1-2.mp4', { accurate: 'true', junk: '1' });
    assert.deepEqual(a, clipIdentity('/beams/main/all/1-2.mp4', { accurate: '1' }));
    assert.deepEqual(a.query, { accurate: '1' });
    assert.notEqual(a.key, clipIdentity('/beams/main/all/1-2.mp4', {}).key);
    assert.notEqual(a.key, clipIdentity('/beams/main/all/1-3.mp4', { accurate: '1' }).key);
  });
  it('a request the function would refuse is refused before it is a job', () => {
    assert.throws(() => imageIdentity('/beams/main/bogus/latest.jpg', {}), (e: Error & { statusCode?: number }) => e.statusCode === 400);
    assert.throws(() => clipIdentity('/beams/main/all/latest.mp4', {}), (e: Error & { statusCode?: number }) => e.statusCode === 400);
  });
});

describe('ADTS', () => {
  const header = Buffer.from([0xff, 0xf1, 0x4c, 0x40, 0x01, 0x7f, 0xfc]); // AAC LC, 48 kHz, mono, 11-byte frame
  const frame = Buffer.concat([header, Buffer.from([1, 2, 3, 4])]);
  it('parses the header and makes the AudioSpecificConfig', () => {
    const h = parseAdts(frame);
    assert.deepEqual(h && { o: h.objectType, f: h.frequencyIndex, c: h.channelConfig, hl: h.headerLength, fl: h.frameLength }, { o: 2, f: 3, c: 1, hl: 7, fl: 11 });
    assert.deepEqual([...audioSpecificConfig(h as NonNullable<typeof h>)], [0x11, 0x88]);
  });
  it('strips every ADTS header of a payload', () => {
    assert.deepEqual([...stripAdts(Buffer.concat([frame, frame]))], [1, 2, 3, 4, 1, 2, 3, 4]);
    assert.deepEqual([...stripAdts(Buffer.from([1, 2]))], [1, 2]);
  });
});
