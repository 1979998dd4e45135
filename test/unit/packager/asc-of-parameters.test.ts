/** AAC stored without an AudioSpecificConfig (ADTS from MPEG-TS): the ASC its stream parameters imply (pure). */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { ascOfParameters } from '../../../packager/channel-reader';
import { ascFromAdts, parseAdtsHeader } from '../../../packager/codecs/aac';

describe('ascOfParameters', () => {
  it('the same ASC as the ADTS header of that stream would give', () => {
    // An ADTS header: AAC-LC, 48 kHz (index 3), 2 channels, frame length 7 bytes + payload.
    const adts = Buffer.from([0xff, 0xf1, 0x4c, 0x80, 0x01, 0x1f, 0xfc]);
    assert.deepEqual(ascOfParameters({ codec_type: 'audio', name: 'aac', profile: 'LC', sample_rate: 48000, channels: 2 }), ascFromAdts(parseAdtsHeader(adts)));
    assert.deepEqual([...(ascOfParameters({ codec_type: 'audio', name: 'aac', profile: 1, sample_rate: 44100, channels: 1 }) ?? [])], [0x12, 0x08]);
    assert.equal(ascOfParameters({ codec_type: 'audio', name: 'aac', profile: 'LC', sample_rate: 48000, channels: 8 })?.length, 2, '7.1 is channel configuration 7');
  });

  it('nothing when the parameters do not settle it: HE-AAC, no profile, an unknown layout or rate', () => {
    for (const cp of [
      { profile: 'HE-AAC', sample_rate: 48000, channels: 2 },
      { sample_rate: 48000, channels: 2 },
      { profile: 'LC', sample_rate: 48000, channels: 7 },
      { profile: 'LC', sample_rate: 0, channels: 2 },
    ]) assert.equal(ascOfParameters({ codec_type: 'audio', name: 'aac', ...cp }), undefined, JSON.stringify(cp));
  });
});
