import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { parseMediaRef, secondsRangeToPts, type MediaRef } from '../../../core/model/media-ref';
import { BeamError } from '../../../core/model/errors';
import { planQuery } from '../../../core/model/query-plan';
import type { Stream } from '../../../core/model/media';

type Case = [name: string, ref: string, data: string | undefined, expected: MediaRef];

const OK: Case[] = [
  // Every form in the original README.
  ['README single packet', 'packet_108000', undefined, { kind: 'direct', element: 'packet', pts: 108000 }],
  ['README uncompressed frame', 'frame_108000', undefined, { kind: 'direct', element: 'frame', pts: 108000 }],
  ['README fuzzy 107950f finds 108000', '107950f', undefined, { kind: 'fuzzy', pts: 107950 }],
  ['README timestamp range inclusive', '108000-144000', undefined, { kind: 'ptsRange', from: 108000, to: 144000 }],
  ['README index range 751st-760th', '751st-760th', undefined, { kind: 'indexRange', from: { kind: 'nth', n: 751 }, to: { kind: 'nth', n: 760 } }],
  ['README time range 30s-31s', '30s-31s', undefined, { kind: 'secondsRange', from: 30, to: 31 }],
  ['README to the end 1080th-last', '1080th-last', undefined, { kind: 'indexRange', from: { kind: 'nth', n: 1080 }, to: { kind: 'last' } }],
  ['README first is an index', 'first', undefined, { kind: 'index', at: { kind: 'first' } }],
  ['README last is an index', 'last', undefined, { kind: 'index', at: { kind: 'last' } }],
  ['README latest redirects', 'latest', undefined, { kind: 'redirect', to: 'latest' }],
  ['README end is latest', 'end', undefined, { kind: 'redirect', to: 'latest' }],
  ['README start redirects to first', 'start', undefined, { kind: 'redirect', to: 'start' }],
  ['README exact pts 7200', '7200', undefined, { kind: 'pts', pts: 7200 }],
  ['README range 7200-43200', '7200-43200', undefined, { kind: 'ptsRange', from: 7200, to: 43200 }],
  ['README 1st', '1st', undefined, { kind: 'index', at: { kind: 'nth', n: 1 } }],
  ['README 2nd', '2nd', undefined, { kind: 'index', at: { kind: 'nth', n: 2 } }],
  ['README 3rd', '3rd', undefined, { kind: 'index', at: { kind: 'nth', n: 3 } }],
  ['README 41st', '41st', undefined, { kind: 'index', at: { kind: 'nth', n: 41 } }],
  ['README 42nd', '42nd', undefined, { kind: 'index', at: { kind: 'nth', n: 42 } }],
  ['README first-last', 'first-last', undefined, { kind: 'indexRange', from: { kind: 'first' }, to: { kind: 'last' } }],
  ['README 345th-723rd', '345th-723rd', undefined, { kind: 'indexRange', from: { kind: 'nth', n: 345 }, to: { kind: 'nth', n: 723 } }],
  ['README real time 1.4s', '1.4s', undefined, { kind: 'seconds', seconds: 1.4 }],
  ['README real range 1.2s-2.2s', '1.2s-2.2s', undefined, { kind: 'secondsRange', from: 1.2, to: 2.2 }],
  ['README relative 7200+1d', '7200+1d', undefined, { kind: 'relative', pts: 7200, offset: 1 }],
  ['README relative 7200-1d', '7200-1d', undefined, { kind: 'relative', pts: 7200, offset: -1 }],
  ['README relative 3600+1d', '3600+1d', undefined, { kind: 'relative', pts: 3600, offset: 1 }],
  // Payload forms.
  ['data sub-path', 'packet_108000', 'data', { kind: 'direct', element: 'packet', pts: 108000, data: { plane: 'all' } }],
  ['data_1 sub-path', 'frame_7200', 'data_1', { kind: 'direct', element: 'frame', pts: 7200, data: { plane: 1 } }],
  ['.raw extension', 'frame_7200.raw', undefined, { kind: 'direct', element: 'frame', pts: 7200, data: { plane: 'all' } }],
  ['.raw_2 extension', 'frame_7200.raw_2', undefined, { kind: 'direct', element: 'frame', pts: 7200, data: { plane: 2 } }],
  // .json is optional everywhere.
  ['.json on a direct ref', 'packet_5.json', undefined, { kind: 'direct', element: 'packet', pts: 5 }],
  ['.json on a range', '1st-3rd.json', undefined, { kind: 'indexRange', from: { kind: 'nth', n: 1 }, to: { kind: 'nth', n: 3 } }],
  ['.json on latest', 'latest.json', undefined, { kind: 'redirect', to: 'latest' }],
  // Edge cases.
  ['ordinal suffix 11th', '11th', undefined, { kind: 'index', at: { kind: 'nth', n: 11 } }],
  ['ordinal suffix 12th', '12th', undefined, { kind: 'index', at: { kind: 'nth', n: 12 } }],
  ['ordinal suffix 13th', '13th', undefined, { kind: 'index', at: { kind: 'nth', n: 13 } }],
  ['ordinal suffix 21st', '21st', undefined, { kind: 'index', at: { kind: 'nth', n: 21 } }],
  ['ordinal suffix 22nd', '22nd', undefined, { kind: 'index', at: { kind: 'nth', n: 22 } }],
  ['ordinal suffix 23rd', '23rd', undefined, { kind: 'index', at: { kind: 'nth', n: 23 } }],
  ['ordinal suffix 101st', '101st', undefined, { kind: 'index', at: { kind: 'nth', n: 101 } }],
  ['unconventional suffix accepted (1th)', '1th', undefined, { kind: 'index', at: { kind: 'nth', n: 1 } }],
  ['mixed first-10th', 'first-10th', undefined, { kind: 'indexRange', from: { kind: 'first' }, to: { kind: 'nth', n: 10 } }],
  ['pts 0', '0', undefined, { kind: 'pts', pts: 0 }],
  ['fuzzy 0f', '0f', undefined, { kind: 'fuzzy', pts: 0 }],
  ['degenerate range a-a', '5-5', undefined, { kind: 'ptsRange', from: 5, to: 5 }],
  ['negative direct pts (pre-roll)', 'packet_-3003', undefined, { kind: 'direct', element: 'packet', pts: -3003 }],
  ['seconds without integer part', '.5s', undefined, { kind: 'seconds', seconds: 0.5 }],
  ['zero seconds', '0s', undefined, { kind: 'seconds', seconds: 0 }],
  ['relative by many', '7200+25d', undefined, { kind: 'relative', pts: 7200, offset: 25 }],
  ['largest safe pts', String(Number.MAX_SAFE_INTEGER), undefined, { kind: 'pts', pts: Number.MAX_SAFE_INTEGER }],
  // The original engine's behaviours (its mediaSpec and app tests), issue 16.
  ['negative pts', '-1024', undefined, { kind: 'pts', pts: -1024 }],
  ['negative direct packet_-1024', 'packet_-1024', undefined, { kind: 'direct', element: 'packet', pts: -1024 }],
  ['negative to positive range', '-15-15', undefined, { kind: 'ptsRange', from: -15, to: 15 }],
  ['negative to negative range', '-42--39', undefined, { kind: 'ptsRange', from: -42, to: -39 }],
  ['signs in range', '-5-10', undefined, { kind: 'ptsRange', from: -5, to: 10 }],
  ['negative fuzzy', '-17f', undefined, { kind: 'fuzzy', pts: -17 }],
  ['far negative fuzzy', '-99999f', undefined, { kind: 'fuzzy', pts: -99999 }],
  ['fuzzy start of a range', '105000f-111600', undefined, { kind: 'fuzzyRange', from: 105000, to: 111600 }],
  ['negative fuzzy start of a range', '-17f-17', undefined, { kind: 'fuzzyRange', from: -17, to: 17 }],
  ['fuzzy range with f on both ends (the end is taken as is)', '-17f-17f', undefined, { kind: 'fuzzyRange', from: -17, to: 17 }],
  ['negative seconds', '-0.04s', undefined, { kind: 'seconds', seconds: -0.04 }],
  ['negative zero seconds is zero', '-0s', undefined, { kind: 'seconds', seconds: 0 }],
  ['seconds with a trailing point', '1.s', undefined, { kind: 'seconds', seconds: 1 }],
  ['real-time range without the end s', '1.2s-1.28', undefined, { kind: 'secondsRange', from: 1.2, to: 1.28 }],
  ['real-time range 0s-1', '0s-1', undefined, { kind: 'secondsRange', from: 0, to: 1 }],
  ['negative real-time range', '-1.0s-10s', undefined, { kind: 'secondsRange', from: -1, to: 10 }],
  ['negative-negative real-time range', '-42.42s--24.24', undefined, { kind: 'secondsRange', from: -42.42, to: -24.24 }],
  ['relative +0d is the element itself', '7200+0d', undefined, { kind: 'relative', pts: 7200, offset: 0 }],
  ['relative -0d is the element itself', '7200-0d', undefined, { kind: 'relative', pts: 7200, offset: 0 }],
  ['relative from a negative pts', '-7200+1d', undefined, { kind: 'relative', pts: -7200, offset: 1 }],
  ['relative back from a negative pts', '-42-13d', undefined, { kind: 'relative', pts: -42, offset: -13 }],
];

const BAD: [name: string, ref: string, data?: string][] = [
  ['empty', ''],
  ['absurd number in a range', '99999999999999999999-1st'],
  ['absurd pts', '99999999999999999999'],
  ['absurd ordinal', '99999999999999999999th'],
  ['absurd fuzzy', '99999999999999999999f'],
  ['absurd direct pts', 'packet_99999999999999999999'],
  ['zero-th index is not 1-based', '0th'],
  ['reversed pts range', '200-100'],
  ['reversed index range', '10th-2nd'],
  ['reversed seconds range', '3s-1s'],
  ['range from last to an earlier index', 'last-3rd'],
  ['leading zeros', '007'],
  ['unknown word', 'middle'],
  ['unknown element type', 'sample_100'],
  ['data ref on a query', '100', 'data'],
  ['bad data ref', 'packet_1', 'payload'],
  ['both .raw and /data', 'packet_1.raw', 'data'],
  ['relative without d', '100+1'],
  ['spaces', '1 2'],
  ['fuzzy only on the end of a range', '1-2f'],
  ['reversed fuzzy range', '200f-100'],
  ['time marker on the end of a pts range', '42-43s'],
  ['zero-th index in a range', '0th-3rd'],
  ['range from last to last', 'last-last'],
  ['leading zeros in an index', '01st'],
  ['negative zero pts', '-0'],
  ['negative index', '-1st'],
  ['fuzzy relative is not supported', '0f+1d'],
  ['absurd negative pts', '-99999999999999999999'],
  ['suffix without number', 'th'],
  ['too long', '1'.repeat(300)],
  ['exponent seconds', '1e3s'],
  ['absurd seconds', '9999999999999s'],
];

describe('parseMediaRef', () => {
  for (const [name, ref, data, expected] of OK) {
    it(`accepts ${name}: ${ref}${data ? '/' + data : ''}`, () => assert.deepEqual(parseMediaRef(ref, data), expected));
  }
  for (const [name, ref, data] of BAD) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseMediaRef(ref, data),
        (e: unknown) => e instanceof BeamError && e.statusCode === 400 && e.code === 'BEAM_ERR_BAD_MEDIA_REF' && e.message.length > 20,
      );
    });
  }
});

describe('real time via the time base', () => {
  const tb25: [number, number] = [1, 25];
  it('README: at 25 fps, 1.2s-2.2s is frames 30-55', () => assert.deepEqual(secondsRangeToPts(1.2, 2.2, tb25), [30, 55]));
  it('90 kHz: 30s-31s', () => assert.deepEqual(secondsRangeToPts(30, 31, [1, 90000]), [2700000, 2790000]));
  it('non-integer bounds round inwards', () => assert.deepEqual(secondsRangeToPts(0.01, 0.03, tb25), [1, 0]));
});

describe('planQuery', () => {
  const stream: Stream = { index: 0, time_base: [1, 25], codecpar: { codec_type: 'video' } };
  const paging = { offset: 2, limit: 5 };
  const cases: [string, MediaRef, unknown][] = [
    ['README: 1.4s at 25 fps resolves to the element presented at frame 35', { kind: 'seconds', seconds: 1.4 }, { mode: 'covering', pts: 35 }],
    ['negative real time', { kind: 'seconds', seconds: -0.04 }, { mode: 'covering', pts: -1 }],
    ['fuzzy range starts at the nearest element and pages', { kind: 'fuzzyRange', from: 105000, to: 111600 }, { mode: 'nearFrom', pts: 105000, max: 111600, offset: 2, limit: 5 }],
    ['relative +0d is the element at that pts', { kind: 'relative', pts: 100, offset: 0 }, { mode: 'score', min: 100, max: 100, offset: 0, limit: 1 }],
    ['exact pts pages', { kind: 'pts', pts: 7 }, { mode: 'score', min: 7, max: 7, offset: 2, limit: 5 }],
    ['ordinal 3rd is rank 2', { kind: 'index', at: { kind: 'nth', n: 3 } }, { mode: 'rank', from: 2, to: 2, offset: 0, limit: 1 }],
    ['last is rank -1', { kind: 'index', at: { kind: 'last' } }, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 }],
    ['1080th-last pages', { kind: 'indexRange', from: { kind: 'nth', n: 1080 }, to: { kind: 'last' } }, { mode: 'rank', from: 1079, to: -1, offset: 2, limit: 5 }],
    ['relative before', { kind: 'relative', pts: 100, offset: -2 }, { mode: 'before', pts: 100, n: 2 }],
    ['relative after', { kind: 'relative', pts: 100, offset: 1 }, { mode: 'after', pts: 100, n: 1 }],
    ['start is the first rank', { kind: 'redirect', to: 'start' }, { mode: 'rank', from: 0, to: 0, offset: 0, limit: 1 }],
    ['fuzzy is nearest', { kind: 'fuzzy', pts: 99 }, { mode: 'near', pts: 99 }],
  ];
  for (const [name, ref, want] of cases) {
    it(name, () => assert.deepEqual(planQuery(ref as Exclude<MediaRef, { kind: 'direct' }>, stream, paging), want));
  }
});
