import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULTS, effectiveRedisUrl, loadConfig, mergeConfig } from '../../../core/config/config';
import { parseRedisUrl } from '../../../core/store/redis-connection';
import { banner, parseCli } from '../../../beamline';
import { createChannel } from '../../../core/model/channel';
import type { ApiToken } from '../../../core/config/api-token';

describe('config merge (as the original engine)', () => {
  it('objects merge, scalars replace, null deletes', () => {
    const out = mergeConfig({ a: { x: 1, y: 2 }, jobs: { r1: { q: 1 }, r2: { q: 2 } } }, { a: { y: 3 }, jobs: { r1: null } });
    assert.deepEqual(out, { a: { x: 1, y: 3 }, jobs: { r2: { q: 2 } } });
  });
});

describe('loadConfig', () => {
  it('defaults', () => {
    const c = loadConfig(null, {});
    assert.equal(c.app.port, 8080);
    assert.equal(c.srt.port, 9000);
    assert.equal(c.srt.latency, 200);
    assert.equal(loadConfig(null, { BEAM_SRT_LATENCY: '1200' }).srt.latency, 1200);
    assert.equal(c.live.partTarget, 0.2);
    assert.equal(loadConfig(null, { BEAM_PART_TARGET: '0.25' }).live.partTarget, 0.25);
    assert.equal(c.rtmp.port, 1935);
    assert.equal(c.redis.url, null);
    assert.equal(c.app.apiToken, null);
  });
  it('media queries page by 10 by default, as the original engine; BEAM_MEDIA_DEFAULT_LIMIT changes it', () => {
    assert.equal(loadConfig(null, {}).app.mediaDefaultLimit, 10);
    assert.equal(loadConfig(null, { BEAM_MEDIA_DEFAULT_LIMIT: '1000' }).app.mediaDefaultLimit, 1000);
  });
  it('file overrides defaults, env overrides file', () => {
    const c = loadConfig({ app: { port: 9999 }, redis: { port: 9876, host: '10.1.1.1', password: 'auth' } }, { BEAM_APP_PORT: '8008' });
    assert.equal(c.app.port, 8008);
    assert.equal(c.redis.port, 9876);
    assert.equal(effectiveRedisUrl(c.redis), 'redis://:auth@10.1.1.1:9876/0');
  });
  it('the original BEAM_TEST_* names work with NODE_ENV=test and win over BEAM_*', () => {
    const c = loadConfig(null, { NODE_ENV: 'test', BEAM_TEST_APP_PORT: '8008', BEAM_APP_PORT: '7000', BEAM_DEV_APP_PORT: '6000' });
    assert.equal(c.app.port, 8008);
  });
  it('BEAM_DEV_* applies when NODE_ENV is unset', () => assert.equal(loadConfig(null, { BEAM_DEV_REDIS_PREPEND: 'x' }).redis.prepend, 'x'));
  it('BEAM_PROD_* applies in production', () => assert.equal(loadConfig(null, { NODE_ENV: 'production', BEAM_PROD_REDIS_DB: '3' }).redis.db, 3));
  it('booleans and nulls from env', () => {
    const c = loadConfig(null, { BEAM_REDIS_PERSISTENCE: 'yes', BEAM_API_TOKEN: 's3cret', BEAM_REDIS_URL: 'redis://h:1' });
    assert.equal(c.redis.persistence, true);
    assert.equal(c.app.apiToken, 's3cret');
    assert.equal(c.redis.url, 'redis://h:1');
  });
  it('a rule set to null in a file is removed', () => {
    const base = { jobs: { jpeg: { method: 'GET', pathPattern: '^/x$', queue: 'q', function: 'f' } } };
    assert.ok(loadConfig(base, {}).jobs.jpeg);
    assert.equal(loadConfig(mergeConfig(base, { jobs: { jpeg: null } }), {}).jobs.jpeg, undefined);
  });
  const bad: [string, Record<string, unknown> | null, NodeJS.ProcessEnv, RegExp][] = [
    ['port not a number names the field and variable', null, { BEAM_APP_PORT: 'eighty' }, /app\.port .*BEAM_APP_PORT.*integer port/],
    ['port out of range', { app: { port: 70000 } }, {}, /app\.port = 70000 .*config file/],
    ['bad log level', null, { BEAM_LOG_LEVEL: 'loud' }, /app\.logLevel/],
    ['bad prefix', null, { BEAM_REDIS_PREPEND: 'a b' }, /redis\.prepend/],
    ['bad boolean', null, { BEAM_REDIS_PERSISTENCE: 'maybe' }, /redis\.persistence.*true or false/],
    ['removed required field', { app: { port: null } }, {}, /app\.port is missing/],
    ['bad rule regex', { jobs: { r: { method: 'GET', pathPattern: '(', queue: 'q', function: 'f' } } }, {}, /jobs\.r\.pathPattern/],
    ['rule without queue', { jobs: { r: { method: 'GET', pathPattern: 'x', function: 'f' } } }, {}, /jobs\.r\.queue/],
    ['bad public URL', null, { BEAM_PUBLIC_URL: 'ftp://x' }, /app\.publicUrl/],
    ['SRT latency below what retransmission needs', null, { BEAM_SRT_LATENCY: '5' }, /srt\.latency .*BEAM_SRT_LATENCY.*20 to 8000/],
    ['SRT latency not a number', { srt: { latency: 'low' } }, {}, /srt\.latency/],
    ['part target below 0.1 s', null, { BEAM_PART_TARGET: '0.05' }, /live\.partTarget .*BEAM_PART_TARGET.*0\.1 to 1/],
    ['part target not a number', { live: { partTarget: 'short' } }, {}, /live\.partTarget/],
  ];
  for (const [name, file, env, re] of bad) {
    it(`rejects: ${name}`, () => assert.throws(() => loadConfig(file, env), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message)));
  }
  it('does not mutate the defaults', () => {
    loadConfig({ app: { port: 1 } }, {});
    assert.equal(DEFAULTS.app.port, 8080);
  });
});

describe('redis URLs', () => {
  it('single', () => assert.deepEqual(parseRedisUrl('redis://h:6379/2'), { kind: 'single', urls: ['redis://h:6379/2'] }));
  it('tls', () => assert.equal(parseRedisUrl('rediss://h:6380').kind, 'single'));
  it('unix socket', () => assert.equal(parseRedisUrl('unix:///tmp/r.sock').kind, 'single'));
  it('cluster list', () => assert.deepEqual(parseRedisUrl('redis://a:1, redis://b:2').urls, ['redis://a:1', 'redis://b:2']));
  for (const bad of ['', 'http://h', 'not a url', 'unix:///a,redis://b:1']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseRedisUrl(bad), /redis\.url/));
  }
});

describe('command line', () => {
  it('config file and roles', () => {
    const c = parseCli(['my_config.json', '--roles', 'engine,ingest']);
    assert.equal(c.configFile, 'my_config.json');
    assert.deepEqual([...c.roles], ['engine', 'ingest']);
  });
  it('all roles by default', () => assert.equal(parseCli([]).roles.size, 3));
  it('--roles=all', () => assert.equal(parseCli(['--roles=all']).roles.size, 3));
  it('unknown role', () => assert.throws(() => parseCli(['--roles', 'chef']), /unknown role/));
  it('two config files', () => assert.throws(() => parseCli(['a.json', 'b.json']), /only one/));
  it('unknown option', () => assert.throws(() => parseCli(['--verbose']), /unknown option/));
});

describe('banner secrets (issue 10: keys only on a terminal)', () => {
  const config = loadConfig({ app: { host: '127.0.0.1' } }, {});
  const ch = createChannel({ name: 'main', passphrase: 'a-long-passphrase' }, (l) => l as never, []);
  const generated: ApiToken = { token: 'generated-token-abcdefghijklmnop', origin: 'file', file: '/data/api-token', generated: true };
  const input = { config, redisWhere: 'embedded', roles: new Set(['engine'] as const), channels: [ch], createdDefault: true };

  it('off a terminal: neither the token, nor a stream key, nor an ingest URL, nor the passphrase', () => {
    const text = banner({ ...input, apiToken: generated, tty: false });
    for (const secret of [generated.token, ch.streamKey, 'a-long-passphrase', 'srt://', 'rtmp://']) assert.ok(!text.includes(secret), secret);
    assert.match(text, /API token:\s+in \/data\/api-token \(not printed/);
    assert.match(text, /HLS \/ DASH:/, 'playback stays');
  });

  it('on a terminal: the generated token and the paste-ready keys', () => {
    const text = banner({ ...input, apiToken: generated, tty: true });
    assert.ok(text.includes(generated.token));
    assert.ok(text.includes(ch.streamKey));
  });

  it('an operator-set token is never printed', () => {
    const text = banner({ ...input, apiToken: { token: 'operator-secret', origin: 'config', file: null, generated: false }, tty: true });
    assert.ok(!text.includes('operator-secret'));
    assert.match(text, /API token:\s+BEAM_API_TOKEN/);
  });
});

describe('banner per role (a role with no HTTP port prints no URL)', () => {
  const config = loadConfig({ app: { host: '127.0.0.1' } }, {});
  const ch = createChannel({ name: 'main' }, (l) => l as never, []);
  const of = (roles: ('engine' | 'ingest' | 'transcoder')[]) => banner({ config, redisWhere: 'redis://r:6379', roles: new Set(roles), channels: [ch], createdDefault: false, apiToken: null, tty: false });

  it('transcoder alone: no URL, no channel, says it has no port', () => {
    const text = of(['transcoder']);
    assert.ok(!/https?:\/\//.test(text), text);
    assert.doesNotMatch(text, /Channel 'main'/);
    assert.match(text, /HTTP:\s+none/);
    assert.match(text, /no listening port/);
  });

  it('ingest alone: its SRT and RTMP listeners, no HTTP URL', () => {
    const text = of(['ingest']);
    assert.ok(!/https?:\/\//.test(text), text);
    assert.match(text, new RegExp(`SRT UDP ${config.srt.host}:${config.srt.port}, RTMP TCP ${config.rtmp.host}:${config.rtmp.port}`));
    assert.match(text, /from an engine process/);
  });

  it('engine: the URLs', () => {
    const text = of(['engine']);
    assert.match(text, /dashboard:\s+http:\/\//);
    assert.match(text, /HLS \/ DASH:/);
    assert.doesNotMatch(text, /ingest listens on/);
    assert.doesNotMatch(text, /private:/);
  });

  it('engine: a private channel says its URLs need a playback token, and never prints its secret', () => {
    const priv = { ...ch, private: true };
    const text = banner({ config, redisWhere: 'redis://r:6379', roles: new Set(['engine']), channels: [priv], createdDefault: false, apiToken: null, tty: false });
    assert.match(text, /private:\s+add \?token=… \(POST http:\/\/[^ ]+\/api\/channels\/main\/playback-tokens\)/);
    assert.ok(!text.includes(priv.playbackSecret as string));
  });
});
