/**
 * Role tuning in the configuration: every DEFAULT_*_CONFIG setting of the roles (and the events stream length)
 * is read from the config file and from its BEAM_* variable, validated with a message naming the field, and
 * reaches the role's config through the composition root's pure slicing functions.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULTS, FIELDS, loadConfig, type BeamConfig } from '../../../core/config/config';
import { X264_PRESET_NAMES } from '../../../core/config/setting-kinds';
import { ingestTuning, packagerTuning, segmentJobTuning } from '../../../beamline';
import { DEFAULT_INGEST_CONFIG } from '../../../ingest/ingest-service';
import { DEFAULT_SESSION_CONFIG } from '../../../ingest/publish-session';
import { DEFAULT_SEGMENT_JOB_CONFIG } from '../../../transcoders/segment-job';
import { DEFAULT_ENCODER_CONFIG, X264_PRESETS } from '../../../transcoders/encoder-settings';
import { DEFAULT_LIVE_PACKAGER_CONFIG } from '../../../packager/live-plugin';

/** Each role-tuning setting: its variable, a valid non-default value (as the environment gives it, and as JSON), and where it lands. */
const TUNING: { env: string; path: [keyof BeamConfig, string]; raw: string; value: number | string | boolean; lands: (c: BeamConfig) => unknown }[] = [
  { env: 'EVENTS_MAX_LEN', path: ['redis', 'eventsMaxLen'], raw: '5000', value: 5000, lands: (c) => c.redis.eventsMaxLen },
  { env: 'INGEST_IDLE_TIMEOUT', path: ['ingest', 'idleTimeout'], raw: '7000', value: 7000, lands: (c) => ingestTuning(c).idleTimeoutMs },
  { env: 'INGEST_REFRESH_INTERVAL', path: ['ingest', 'refreshInterval'], raw: '5000', value: 5000, lands: (c) => ingestTuning(c).refreshMs },
  { env: 'SEGMENT_SECONDS', path: ['ingest', 'segmentSeconds'], raw: '4', value: 4, lands: (c) => ingestTuning(c).session.segmentSeconds },
  { env: 'PART_TARGET', path: ['live', 'partTarget'], raw: '0.4', value: 0.4, lands: (c) => ingestTuning(c).session.partSeconds },
  { env: 'INGEST_FLUSH_INTERVAL', path: ['ingest', 'flushInterval'], raw: '20', value: 20, lands: (c) => ingestTuning(c).session.flushMs },
  { env: 'INGEST_MAX_BATCH', path: ['ingest', 'maxBatch'], raw: '128', value: 128, lands: (c) => ingestTuning(c).session.maxBatch },
  { env: 'INGEST_STREAMS_TIMEOUT', path: ['ingest', 'streamsTimeout'], raw: '3000', value: 3000, lands: (c) => ingestTuning(c).session.streamsTimeoutMs },
  { env: 'INGEST_STATS_INTERVAL', path: ['ingest', 'statsInterval'], raw: '1000', value: 1000, lands: (c) => ingestTuning(c).session.statsIntervalMs },
  { env: 'INGEST_LEASE_TTL', path: ['ingest', 'leaseTtl'], raw: '9000', value: 9000, lands: (c) => ingestTuning(c).session.leaseTtlMs },
  { env: 'INGEST_OUTAGE_HOLD', path: ['ingest', 'outageHold'], raw: '12000', value: 12000, lands: (c) => ingestTuning(c).session.outageHoldMs },
  { env: 'BACKUP_STALL', path: ['ingest', 'backupStall'], raw: '1500', value: 1500, lands: (c) => ingestTuning(c).redundancy?.stallMs },
  { env: 'BACKUP_RETURN_SECONDS', path: ['ingest', 'backupReturnSeconds'], raw: '4', value: 4, lands: (c) => (ingestTuning(c).redundancy?.returnMs ?? 0) / 1000 },
  { env: 'X264_PRESET', path: ['transcoder', 'preset'], raw: 'ultrafast', value: 'ultrafast', lands: (c) => segmentJobTuning(c).encoder.preset },
  { env: 'X264_THREADS', path: ['transcoder', 'threads'], raw: '2', value: 2, lands: (c) => segmentJobTuning(c).encoder.threads },
  { env: 'MAX_KEYFRAME_SECONDS', path: ['transcoder', 'maxKeyframeSeconds'], raw: '2.5', value: 2.5, lands: (c) => segmentJobTuning(c).encoder.maxKeyframeSeconds },
  { env: 'TRANSCODER_MAX_SEGMENTS_BEHIND', path: ['transcoder', 'maxSegmentsBehind'], raw: '3', value: 3, lands: (c) => segmentJobTuning(c).maxSegmentsBehind },
  { env: 'TRANSCODER_IDLE_TIMEOUT', path: ['transcoder', 'idleTimeout'], raw: '20000', value: 20000, lands: (c) => segmentJobTuning(c).idleTimeoutMs },
  { env: 'TRANSCODER_BLOCK_TIME', path: ['transcoder', 'blockTime'], raw: '250', value: 250, lands: (c) => segmentJobTuning(c).blockMs },
  { env: 'TRANSCODER_SOURCE_POLL', path: ['transcoder', 'sourcePoll'], raw: '0', value: 0, lands: (c) => segmentJobTuning(c).prefetchMs },
  { env: 'TRANSCODER_CONCURRENCY', path: ['transcoder', 'concurrency'], raw: '3', value: 3, lands: (c) => c.transcoder.concurrency },
  { env: 'LIVE_WINDOW_SEGMENTS', path: ['packager', 'liveWindowSegments'], raw: '10', value: 10, lands: (c) => packagerTuning(c).liveWindowSegments },
  { env: 'BLOCKING_TIMEOUT_TARGETS', path: ['packager', 'blockingTimeoutTargets'], raw: '2', value: 2, lands: (c) => packagerTuning(c).blockingTimeoutTargets },
  { env: 'PACKAGER_AUDIO_WAIT', path: ['packager', 'audioWait'], raw: '500', value: 500, lands: (c) => packagerTuning(c).audioWaitMs },
  { env: 'PACKAGER_SNAPSHOT_TTL', path: ['packager', 'snapshotTtl'], raw: '100', value: 100, lands: (c) => packagerTuning(c).snapshotTtlMs },
  { env: 'PACKAGER_SNAPSHOT_MAX_AGE', path: ['packager', 'snapshotMaxAge'], raw: '1000', value: 1000, lands: (c) => packagerTuning(c).snapshotMaxAgeMs },
  { env: 'PACKAGER_CACHE_BYTES', path: ['packager', 'cacheBytes'], raw: '1048576', value: 1048576, lands: (c) => packagerTuning(c).cacheBytes },
  { env: 'PACKAGER_FOLLOWER_BLOCK', path: ['packager', 'followerBlock'], raw: '2000', value: 2000, lands: (c) => packagerTuning(c).followerBlockMs },
  { env: 'PACKAGER_FOLLOWER_IDLE', path: ['packager', 'followerIdle'], raw: '30000', value: 30000, lands: (c) => packagerTuning(c).followerIdleMs },
  { env: 'PACKAGER_TS_OVERHEAD', path: ['packager', 'tsOverhead'], raw: '1.3', value: 1.3, lands: (c) => packagerTuning(c).tsOverhead },
  { env: 'HLS_MUXED_AUDIO', path: ['packager', 'muxedAudio'], raw: 'off', value: false, lands: (c) => packagerTuning(c).muxedAudio },
];

describe('role tuning: defaults are the roles\' own', () => {
  const c = loadConfig(null, {});
  it('ingest = DEFAULT_INGEST_CONFIG (with DEFAULT_SESSION_CONFIG)', () => {
    assert.deepEqual(ingestTuning(c), DEFAULT_INGEST_CONFIG);
    assert.deepEqual(ingestTuning(c).session, DEFAULT_SESSION_CONFIG);
  });
  it('segment jobs = DEFAULT_SEGMENT_JOB_CONFIG (with DEFAULT_ENCODER_CONFIG)', () => {
    assert.deepEqual(segmentJobTuning(c), DEFAULT_SEGMENT_JOB_CONFIG);
    assert.deepEqual(segmentJobTuning(c).encoder, DEFAULT_ENCODER_CONFIG);
  });
  it('packager = DEFAULT_LIVE_PACKAGER_CONFIG', () => assert.deepEqual(packagerTuning(c), DEFAULT_LIVE_PACKAGER_CONFIG));
  it('events stream length 10000, automatic transcoder concurrency', () => {
    assert.equal(c.redis.eventsMaxLen, 10000);
    assert.equal(c.transcoder.concurrency, 0);
  });
  it('the x264 presets the config accepts are the encoder\'s', () => assert.deepEqual(X264_PRESET_NAMES, [...X264_PRESETS]));
});

describe('role tuning: one table, every setting from a variable and from the file', () => {
  it('the table lists every tuning setting once', () => {
    for (const t of TUNING) {
      const f = FIELDS.filter((x) => x.env === t.env);
      assert.equal(f.length, 1, `BEAM_${t.env} is in FIELDS once`);
      assert.deepEqual(f[0]?.path, t.path, `BEAM_${t.env} sets ${t.path.join('.')}`);
    }
    for (const section of ['ingest', 'transcoder', 'packager'] as const) {
      for (const key of Object.keys(DEFAULTS[section])) {
        assert.ok(TUNING.some((t) => t.path[0] === section && t.path[1] === key), `${section}.${key} is tested here`);
      }
    }
  });
  for (const t of TUNING) {
    const at = t.path.join('.');
    it(`${at}: BEAM_${t.env}, the file, BEAM_TEST_${t.env}; refused when out of range`, () => {
      const [section, key] = t.path;
      assert.notDeepEqual(t.lands(loadConfig(null, {})), t.value, 'the test value is not the default');
      assert.deepEqual(t.lands(loadConfig(null, { [`BEAM_${t.env}`]: t.raw })), t.value, 'from the variable');
      const file = { [section]: { [key]: t.value } };
      assert.deepEqual(t.lands(loadConfig(file, {})), t.value, 'from the config file');
      assert.deepEqual(t.lands(loadConfig(null, { NODE_ENV: 'test', [`BEAM_${t.env}`]: 'junk', [`BEAM_TEST_${t.env}`]: t.raw })), t.value, 'the NODE_ENV name wins');
      const bad = typeof t.value === 'string' ? 'warp' : '-1';
      assert.throws(
        () => loadConfig(null, { [`BEAM_${t.env}`]: bad }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`${at} = `) && e.message.includes(`BEAM_${t.env}`) && /expected /.test(e.message),
      );
      assert.throws(() => loadConfig({ [section]: { [key]: 'x'.repeat(3) } }, {}, 'beam.json'), (e: unknown) => e instanceof ConfigError && e.message.includes(`${at} = "xxx" (from beam.json)`));
    });
  }
  it('bounds: a zero segment, a part outside LL-HLS\'s 0.33-0.5 s (the segmenter\'s range), a 2-segment window, a 0.5 overhead, fractional milliseconds are refused', () => {
    for (const [env, raw] of [['SEGMENT_SECONDS', '0'], ['PART_TARGET', '0.05'], ['PART_TARGET', '1.5'], ['LIVE_WINDOW_SEGMENTS', '2'], ['PACKAGER_TS_OVERHEAD', '0.5'], ['INGEST_FLUSH_INTERVAL', '2.5'], ['EVENTS_MAX_LEN', '10'], ['X264_THREADS', '1000']] as const) {
      assert.throws(() => loadConfig(null, { [`BEAM_${env}`]: raw }), ConfigError, `BEAM_${env}=${raw}`);
    }
  });
  it('a part as long as the segment is refused, naming both fields', () => {
    assert.throws(
      () => loadConfig(null, { BEAM_SEGMENT_SECONDS: '0.5', BEAM_PART_TARGET: '0.5' }),
      /live\.partTarget = 0\.5 \(from BEAM_PART_TARGET\) must be below ingest\.segmentSeconds = 0\.5 \(from BEAM_SEGMENT_SECONDS\)/,
    );
    assert.equal(loadConfig(null, { BEAM_SEGMENT_SECONDS: '1', BEAM_PART_TARGET: '0.4' }).live.partTarget, 0.4);
  });
});
