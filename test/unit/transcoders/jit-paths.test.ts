/** Pure JIT request parsing, output sizing and ADTS handling. */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outputSize, parseClipRequest, parseImageRequest } from '../../../transcoders/jit/jit-paths';
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
