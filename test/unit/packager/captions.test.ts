/**
 * Closed captions: the A/53 SEI detector on real x264 output and on the test generator's, the `captions`
 * setting, and their declaration in the multivariant playlist and the MPD (read back by m3u8-parser and
 * mpd-parser, the parsers of video.js).
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { a53Captions, a53HasCea608, sampleCaptions, sampleHasCea608, seiHasCea608, type A53Seen } from '../../../packager/codecs/captions';
import { toLengthPrefixed } from '../../../packager/codecs/h264';
import { renderMultivariant } from '../../../packager/hls/multivariant';
import { captionAccessibility, cea608Value, renderMpd } from '../../../packager/dash/mpd';
import { buildManifest } from '../../../packager/live/dash-builder';
import { closedCaptionRenditions, CC_GROUP } from '../../../packager/live/manifests';
import { announcedCaptions, DETECTED_CAPTIONS, validateCaptions } from '../../../core/model/captions';
import { applyPatch, createChannel } from '../../../core/model/channel';
import { BeamError } from '../../../core/model/errors';
import { a53Payload, captionSeiNal, captionSchedule, DTVCC_PADDING, dtvccTriplets, escapeRbsp, insertCaptions, oddParity, popOnCaption } from '../../helpers/captions';
import { parseM3u8, parseMpd } from './parsers';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** SEI NAL units libx264 (FFmpeg 5.1, `a53cc`) wrote into a rung: one RCL pair, one PAC pair. */
const X264_CC_SEI = [hex('06040eb5003147413934034100fc9420ff80'), hex('06040eb5003147413934034100fc9470ff80')];
/** The start of libx264's own SEI (user_data_unregistered, its version string): no captions. */
const X264_VERSION_SEI = hex('0605ffffb8dc45e9bde6d948b7962cd820d923eeef78323634202d20636f72652031363420723330');
const START = Buffer.from([0, 0, 0, 1]);
const SLICE = hex('65888040ffff');

describe('A/53 caption SEI detection', () => {
  test('x264 output with captions is seen, in Annex-B and length-prefixed samples', () => {
    for (const sei of X264_CC_SEI) assert.equal(seiHasCea608(sei), true);
    const annexB = Buffer.concat([START, X264_CC_SEI[0] as Buffer, START, SLICE]);
    assert.equal(sampleHasCea608(annexB), true);
    assert.equal(sampleHasCea608(toLengthPrefixed([X264_CC_SEI[1] as Buffer, SLICE], 4)), true);
  });

  test('samples without caption SEI are not', () => {
    assert.equal(sampleHasCea608(Buffer.concat([START, X264_VERSION_SEI, START, SLICE])), false);
    assert.equal(sampleHasCea608(Buffer.concat([START, SLICE])), false);
    assert.equal(sampleHasCea608(Buffer.alloc(0)), false);
    assert.equal(sampleHasCea608(hex('00000009ffffff')), false, 'a length prefix overrunning the sample');
  });

  test('A/53 payloads: other providers, 708-only and invalid triplets are not 608 captions', () => {
    assert.equal(a53HasCea608(a53Payload([[0x94, 0x20]])), true);
    const p = a53Payload([[0x94, 0x20]]);
    assert.equal(a53HasCea608(Buffer.from([...p.subarray(0, 3), 0x44, ...p.subarray(4)])), false, 'not GA94');
    const dtvcc = Buffer.from(p);
    dtvcc[10] = 0xfe; // cc_type 2: a DTVCC packet, not 608
    assert.equal(a53HasCea608(dtvcc), false);
    const invalid = Buffer.from(p);
    invalid[10] = 0xf8; // cc_valid 0
    assert.equal(a53HasCea608(invalid), false);
    assert.equal(a53HasCea608(p.subarray(0, 11)), false, 'a truncated triplet');
  });

  test('truncated and oversized SEI sizes end the scan', () => {
    const sei = X264_CC_SEI[0] as Buffer;
    assert.equal(seiHasCea608(sei.subarray(0, 8)), false);
    assert.equal(seiHasCea608(Buffer.from([0x06, 0x04, 0xff, 0xff, 0xff, 0x10])), false);
    assert.equal(seiHasCea608(Buffer.from([0x06, 0xff, 0xff])), false);
  });

  test('SEI after another message in the same NAL, with emulation prevention bytes', () => {
    // a recovery point message (type 6, 1 byte) first, then captions whose pair makes 00 00 0x in the RBSP
    const payload = a53Payload([[0x80, 0x80]]);
    const rbsp = Buffer.concat([Buffer.from([6, 1, 0x84, 4, payload.length]), payload, Buffer.from([0x80])]);
    const nal = Buffer.concat([Buffer.from([0x06]), escapeRbsp(rbsp)]);
    assert.equal(seiHasCea608(nal), true);
    const zeros = Buffer.from([0x06, ...escapeRbsp(Buffer.from([5, 3, 0, 0, 1, 0x80]))]);
    assert.deepEqual([...zeros], [0x06, 5, 3, 0, 0, 3, 1, 0x80]);
    assert.equal(seiHasCea608(zeros), false);
  });
});

describe('the caption test stream generator', () => {
  test('608 bytes carry odd parity', () => {
    assert.equal(oddParity(0x14), 0x94);
    assert.equal(oddParity(0x20), 0x20);
    assert.equal(oddParity(0x00), 0x80);
    assert.equal(oddParity(0x48), 0xc8); // 'H'
  });

  test('a pop-on caption loads, places and shows its text', () => {
    const pairs = popOnCaption('HI!');
    assert.deepEqual(pairs.slice(0, 2), [[0x94, 0x20], [0x94, 0x20]]);
    assert.deepEqual(pairs.slice(-2), [[0x94, 0x2f], [0x94, 0x2f]]);
    assert.deepEqual(pairs.slice(6, 8), [[0xc8, 0x49], [0xa1, 0x80]]); // "HI", "!" + null
    assert.throws(() => popOnCaption('lower\ncase'), /printable/);
  });

  test('its SEI is what x264 writes for the same pair (em_data aside) and the detector sees it', () => {
    const nal = captionSeiNal([[0x94, 0x20]]);
    const x264 = X264_CC_SEI[0] as Buffer;
    assert.equal(nal.length, x264.length);
    assert.deepEqual([...nal.subarray(0, 12)], [...x264.subarray(0, 12)]);
    assert.equal(seiHasCea608(nal), true);
  });

  test('one SEI lands before the first slice of every access unit', () => {
    const aud = hex('09f0');
    const au = (slice: Buffer) => Buffer.concat([START, aud, START, slice]);
    const stream = Buffer.concat([au(SLICE), au(hex('41aa')), au(hex('41bb'))]);
    const schedule = captionSchedule(['A'], 2);
    const { stream: out, accessUnits } = insertCaptions(stream, schedule);
    assert.equal(accessUnits, 3);
    assert.equal(out.length, stream.length + 3 * (4 + captionSeiNal([[0x80, 0x80]]).length));
    const seiAt = out.indexOf(hex('0604'));
    assert.ok(seiAt > out.indexOf(aud) && seiAt < out.indexOf(SLICE), 'AUD, SEI, slice');
  });
});

describe('CEA-708 services in A/53 cc_data', () => {
  const fresh = (): A53Seen => ({ cea608: false, dtvcc: false, services: new Set() });
  test('the services whose blocks a DTVCC packet carries, standard and extended, beside 608 pairs', () => {
    const seen = fresh();
    a53Captions(a53Payload([[0x94, 0x20]], [...dtvccTriplets(1, [0x48, 0x49]), ...dtvccTriplets(10, [0x41, 0x42, 0x43], 1)]), seen);
    assert.deepEqual({ ...seen, services: [...seen.services].sort((a, b) => a - b) }, { cea608: true, dtvcc: true, services: [1, 10] });
    const only708 = fresh();
    a53Captions(a53Payload([], dtvccTriplets(2, [0x41])), only708);
    assert.deepEqual([only708.cea608, [...only708.services]], [false, [2]]);
    assert.equal(a53HasCea608(a53Payload([], dtvccTriplets(2, [0x41]))), false, 'a 608 check is not fooled by 708');
  });

  test('padding and malformed packets name no service', () => {
    const padding = fresh();
    a53Captions(a53Payload([], [DTVCC_PADDING, DTVCC_PADDING]), padding);
    assert.deepEqual([padding.dtvcc, padding.services.size], [true, 0], 'a silent service: DTVCC present, no service');
    const cut = fresh();
    a53Captions(a53Payload([], dtvccTriplets(3, [1, 2, 3, 4, 5, 6, 7, 8]).slice(0, 2)), cut);
    assert.equal(cut.services.size, 0, 'a block running past what arrived is not counted');
    const badExt = fresh();
    a53Captions(a53Payload([], [[0xff, 0x02, 0xe1], [0xfe, 0x03, 0x41]]), badExt);
    assert.equal(badExt.services.size, 0, 'an extended service number below 7 is malformed');
    const invalid = fresh();
    a53Captions(a53Payload([], dtvccTriplets(1, [0x41]).map(([h, a, b]) => [h & ~0x04, a, b] as const)), invalid);
    assert.equal(invalid.services.size, 0, 'cc_valid 0 triplets carry nothing');
  });

  test('in a whole sample, and in the generator\'s stream with padding between blocks', () => {
    const sei = captionSeiNal([[0x80, 0x80]], dtvccTriplets(1, [0x48]));
    const seen = fresh();
    sampleCaptions(Buffer.concat([START, sei, START, SLICE]), seen);
    assert.deepEqual([seen.cea608, [...seen.services]], [true, [1]]);
  });

  test('declared in the MPD: one Accessibility descriptor per standard', () => {
    assert.deepEqual(captionAccessibility([{ channel: 'CC1', language: 'en' }, { channel: 'SERVICE1', language: 'en' }, { channel: 'SERVICE2' }]), [
      { schemeIdUri: 'urn:scte:dash:cc:cea-608:2015', value: 'CC1=en' },
      { schemeIdUri: 'urn:scte:dash:cc:cea-708:2015', value: '1=lang:en;2' },
    ]);
    assert.deepEqual(captionAccessibility([{ channel: 'SERVICE5' }]), [{ schemeIdUri: 'urn:scte:dash:cc:cea-708:2015', value: '5' }]);
  });
});

describe('the captions setting', () => {
  test('valid services and the automatic default', () => {
    assert.deepEqual(validateCaptions([{ channel: 'CC1', language: 'en', name: 'English' }, { channel: 'CC3', name: 'Español', language: 'es-MX' }]), [
      { channel: 'CC1', language: 'en', name: 'English' },
      { channel: 'CC3', name: 'Español', language: 'es-MX' },
    ]);
    assert.equal(validateCaptions(null), null);
    assert.deepEqual(validateCaptions([]), []);
    const seen = (cea608: boolean, services: number[] = []) => ({ cea608, services });
    assert.deepEqual(announcedCaptions(undefined, seen(true)), DETECTED_CAPTIONS);
    assert.deepEqual(announcedCaptions(null, seen(false)), []);
    assert.deepEqual(announcedCaptions([], seen(true, [1])), []);
    assert.deepEqual(announcedCaptions([{ channel: 'CC2', name: 'B' }], seen(false)), [{ channel: 'CC2', name: 'B' }]);
    assert.deepEqual(announcedCaptions(null, seen(true, [2, 1, 2])), [...DETECTED_CAPTIONS, { channel: 'SERVICE1', name: 'SERVICE1' }, { channel: 'SERVICE2', name: 'SERVICE2' }], '708 services seen, in order, once');
    assert.deepEqual(announcedCaptions(null, seen(false, [64, 0, 3])), [{ channel: 'SERVICE3', name: 'SERVICE3' }]);
    assert.deepEqual(validateCaptions([{ channel: 'SERVICE1', name: 'English', language: 'en' }, { channel: 'SERVICE63', name: 'x' }]), [{ channel: 'SERVICE1', name: 'English', language: 'en' }, { channel: 'SERVICE63', name: 'x' }]);
  });

  test('bad settings are 400s naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['CC1', /must be null .* or an array/],
      [[{ channel: 'CC5', name: 'x' }], /captions\[0\]\.channel must be one of CC1, CC2, CC3, CC4 .* or SERVICE1..SERVICE63/],
      [[{ channel: 'SERVICE64', name: 'x' }], /captions\[0\]\.channel/],
      [[{ channel: 'SERVICE0', name: 'x' }], /captions\[0\]\.channel/],
      [[{ channel: 'CC1', name: 'a' }, { channel: 'CC1', name: 'b' }], /declared twice/],
      [[{ channel: 'CC1', name: 'a' }, { channel: 'CC3', name: 'a' }], /name 'a' is used twice/],
      [[{ channel: 'CC1', name: 'say "hi"' }], /captions\[0\]\.name/],
      [[{ channel: 'CC1', name: '' }], /captions\[0\]\.name/],
      [[{ channel: 'CC1', name: 'x', language: 'english!' }], /BCP 47/],
      [[{ channel: 'CC1', name: 'x', lang: 'en' }], /unknown field\(s\) lang/],
      [Array.from({ length: 17 }, (_, i) => ({ channel: `SERVICE${i + 1}`, name: `x${i}` })), /at most 16/],
    ];
    for (const [v, re] of cases) {
      assert.throws(() => validateCaptions(v), (e: unknown) => e instanceof BeamError && e.code === 'BEAM_ERR_BAD_REQUEST' && re.test(e.message), JSON.stringify(v));
    }
  });

  test('a channel takes it on create and patch', () => {
    const ladder = (l: unknown) => l as [];
    const ch = createChannel({ name: 'news', captions: [{ channel: 'CC1', name: 'English', language: 'en' }] }, ladder, []);
    assert.deepEqual(ch.captions, [{ channel: 'CC1', name: 'English', language: 'en' }]);
    assert.equal(applyPatch(ch, { captions: null }, ladder).captions, null);
    assert.equal(createChannel({ name: 'plain' }, ladder, []).captions, undefined);
  });
});

describe('declaring captions', () => {
  const services = [{ channel: 'CC1' as const, name: 'English', language: 'en' }, { channel: 'CC3' as const, name: 'Español', language: 'es' }];

  test('multivariant: one CLOSED-CAPTIONS group, named by every variant', () => {
    const text = renderMultivariant({
      variants: [
        { uri: 'a.m3u8', bandwidth: 2_000_000, codecs: ['avc1.64001f'], closedCaptionsGroup: CC_GROUP },
        { uri: 'b.m3u8', bandwidth: 900_000, codecs: ['avc1.4d401e'], closedCaptionsGroup: CC_GROUP },
      ],
      closedCaptions: closedCaptionRenditions(services),
    });
    assert.match(text, /^#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"$/m);
    assert.match(text, /^#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",LANGUAGE="es",NAME="Español",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC3"$/m);
    assert.equal(text.match(/CLOSED-CAPTIONS="cc"/g)?.length, 2);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    const groups = (manifest.mediaGroups as Record<string, Record<string, Record<string, { instreamId?: string; language?: string }>>>)['CLOSED-CAPTIONS'];
    assert.equal(groups?.cc?.English?.instreamId, 'CC1');
    assert.equal(groups?.cc?.['Español']?.language, 'es');
    assert.equal(manifest.playlists?.[0]?.attributes['CLOSED-CAPTIONS'], 'cc');
  });

  test('multivariant: a variant naming a missing group or a bad INSTREAM-ID is refused', () => {
    assert.throws(() => renderMultivariant({ variants: [{ uri: 'a.m3u8', bandwidth: 1, codecs: ['avc1.64001f'], closedCaptionsGroup: 'cc' }] }), /closed-captions group "cc"/);
    assert.throws(
      () => renderMultivariant({ variants: [{ uri: 'a.m3u8', bandwidth: 1, codecs: ['avc1.64001f'] }], closedCaptions: [{ groupId: 'cc', name: 'x', instreamId: 'CC9' }] }),
      /INSTREAM-ID "CC9"/,
    );
  });

  test('MPD: an Accessibility descriptor on the video adaptation set, read back by mpd-parser', () => {
    assert.equal(cea608Value(services), 'CC1=en;CC3=es');
    assert.equal(cea608Value([{ channel: 'CC1' }]), 'CC1');
    const segments = [0, 1, 2].map((i) => ({ index: 10 + i, startPts: i * 180000, startDts: i * 180000, durationPts: 180000, wallClockMs: Date.UTC(2024, 0, 1) + i * 2000 }));
    const input = (captions?: typeof services) => ({
      segments: segments as never,
      video: [{ rung: 'source', bandwidth: 2_000_000, codecs: 'avc1.64001f', width: 1280, height: 720 }],
      audio: null,
      complete: false,
      nowMs: Date.UTC(2024, 0, 1) + 10_000,
      utcTimingUrl: '/api/time',
      presentationDelay: 6,
      ...(captions ? { captions } : {}),
    });
    const manifest = buildManifest(input(services));
    const text = renderMpd(manifest);
    assert.match(text, /<AdaptationSet id="0" contentType="video"[^>]*>\n\s+<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=en;CC3=es"\/>\n\s+<SegmentTemplate/);
    const parsed = parseMpd(text, 'https://edge.example/live/ch/manifest.mpd') as unknown as { mediaGroups: Record<string, Record<string, Record<string, { instreamId: string; language: string }>>> };
    const cc = parsed.mediaGroups['CLOSED-CAPTIONS']?.cc ?? {};
    assert.deepEqual(Object.values(cc).map((s) => [s.instreamId, s.language]).sort(), [['CC1', 'en'], ['CC3', 'es']]);
    const none = renderMpd(buildManifest(input()));
    assert.doesNotMatch(none, /Accessibility/);
  });
});
