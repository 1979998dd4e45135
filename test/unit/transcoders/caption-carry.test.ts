/** Captions in thinned rungs: dropped pictures' cc_data joined to the kept picture's caption SEI (pure). */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { a53SeiNal, addCcToPicture, joinCcData, MAX_CC_TRIPLETS } from '../../../transcoders/caption-carry';
import { sampleHasCea608 } from '../../../packager/codecs/captions';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const START = hex('00000001');
/** The caption SEI libx264 (FFmpeg 5.1, `a53cc`) wrote for one RCL pair. */
const X264_SEI = hex('06040eb5003147413934034100fc9420ff80');
const SLICE = hex('65888040ffff');
const AUD = hex('09f0');

/** The cc_data triplets of the first caption SEI in an Annex-B picture, as hex. */
function ccOf(picture: Buffer): string {
  const at = picture.indexOf(hex('b5003147413934 03'));
  const count = (picture[at + 8] as number) & 0x1f;
  return picture.subarray(at + 10, at + 10 + 3 * count).toString('hex');
}

describe('joining cc_data', () => {
  test('runs are joined in order', () => {
    assert.equal(joinCcData([hex('fc9420'), hex('fcc849 fccccf')]).toString('hex'), 'fc9420fcc849fccccf');
    assert.equal(joinCcData([]).length, 0);
    assert.equal(joinCcData([hex('fc94')]).length, 0, 'a partial triplet is dropped');
  });

  test('over 31 triplets, padding goes first, then the newest', () => {
    const pad = hex('fc8080');
    const invalid = hex('f80000');
    const runs = [...Array.from({ length: 20 }, () => pad), hex('fcc849'), ...Array.from({ length: 20 }, () => invalid), hex('fccccf')];
    assert.equal(joinCcData(runs).toString('hex'), 'fcc849fccccf');
    const many = Array.from({ length: 40 }, (_, i) => Buffer.from([0xfc, 0xc1 + (i % 10), 0xc1]));
    const joined = joinCcData(many);
    assert.equal(joined.length, 3 * MAX_CC_TRIPLETS);
    assert.deepEqual(joined.subarray(0, 3), many[0]);
  });
});

describe('adding cc_data to an encoded picture', () => {
  test("x264's caption SEI takes the extra triplets after its own; the rest of the picture is unchanged", () => {
    const picture = Buffer.concat([START, AUD, START, X264_SEI, START, SLICE]);
    const out = addCcToPicture(picture, hex('fcc849 fccccf'));
    assert.equal(ccOf(out), 'fc9420fcc849fccccf');
    assert.deepEqual(out.subarray(0, 10), picture.subarray(0, 10), 'AUD first');
    assert.deepEqual(out.subarray(out.length - SLICE.length - 4), Buffer.concat([START, SLICE]), 'the slice last');
    assert.equal(out.length, picture.length + 6);
    assert.equal(sampleHasCea608(out), true, 'the packager still sees captions');
  });

  test('other SEI messages in the same NAL are kept', () => {
    const payload = X264_SEI.subarray(3, X264_SEI.length - 1); // the T.35 message's payload
    const nal = Buffer.concat([hex('06 06 01 84 04'), Buffer.from([payload.length]), payload, hex('80')]);
    const out = addCcToPicture(Buffer.concat([START, nal, START, SLICE]), hex('fcc849'));
    assert.equal(ccOf(out), 'fc9420fcc849');
    assert.deepEqual(out.subarray(4, 8), hex('06060184'), 'the recovery point message first, as it was');
  });

  test('a picture without a caption SEI gets one before its first slice', () => {
    const picture = Buffer.concat([START, AUD, START, SLICE, START, hex('0188')]);
    const out = addCcToPicture(picture, hex('fcc849'));
    assert.equal(ccOf(out), 'fcc849');
    const sei = out.indexOf(a53SeiNal(hex('fcc849')));
    assert.ok(sei > out.indexOf(AUD) && sei < out.indexOf(SLICE));
  });

  test('nothing to add, or no Annex-B picture: unchanged', () => {
    const picture = Buffer.concat([START, X264_SEI, START, SLICE]);
    assert.equal(addCcToPicture(picture, Buffer.alloc(0)), picture);
    const lengthPrefixed = hex('00000006 65888040ffff');
    assert.equal(addCcToPicture(lengthPrefixed, hex('fcc849')), lengthPrefixed);
  });

  test('emulation prevention: cc bytes making 00 00 0x are escaped and the SEI still reads back', () => {
    const out = addCcToPicture(Buffer.concat([START, X264_SEI, START, SLICE]), hex('fc0000 000000')); // an invalid triplet after a null one: 00 00 00 in the RBSP
    assert.ok(out.includes(hex('000003')), 'an emulation prevention byte was written');
    assert.equal(sampleHasCea608(out), true);
  });
});
