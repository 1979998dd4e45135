/**
 * Redis Cluster for real: a 6-node cluster on loopback (3 primaries + 3 replicas, created by the test) and
 * Beamline's roles as separate processes: two ingest, two engine, one transcoder. Channels sit on every
 * primary. Faults: a primary killed during a publish, an ingest process killed and its publisher moved,
 * the same key offered to two ingest processes. After every fault the bytes of every segment fetched
 * before it are fetched again and compared: published media never changes.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startTestCluster, type TestCluster } from '../../helpers/redis-cluster';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { waitFor } from '../../helpers/process';
import { AUTH } from '../../helpers/app';
import { startRole, type RoleProcess } from './roles';

let cluster: TestCluster;
const procs: RoleProcess[] = [];
const publishers: Publisher[] = [];
let engineA: RoleProcess;
let engineB: RoleProcess;
let ingestA: RoleProcess;
let ingestB: RoleProcess;
/** Channel name per primary port (one channel whose keys live on each primary). */
const onPrimary = new Map<number, string>();
const streamKeys = new Map<string, string>();
/** url → sha256 of the bytes first fetched. */
const seen = new Map<string, string>();

const sha = (b: ArrayBuffer) => createHash('sha256').update(Buffer.from(b)).digest('hex');

async function api(base: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, { ...init, headers: { 'content-type': 'application/json', ...AUTH, ...(init.headers ?? {}) } });
}

/** Segment URIs (not parts) of a media playlist. */
async function segmentsOf(base: string, channel: string, playlist: string): Promise<{ uris: string[]; text: string }> {
  const res = await fetch(`${base}/live/${channel}/${playlist}`);
  const text = res.ok ? await res.text() : '';
  return { uris: text.split('\n').filter((l) => l && !l.startsWith('#')), text };
}

/** Fetch every listed segment of the source playlist once, remembering its hash; compare with earlier fetches. */
async function checkImmutable(base: string, channel: string): Promise<number> {
  const { uris } = await segmentsOf(base, channel, 'v-source.m3u8');
  let compared = 0;
  for (const uri of uris) {
    const url = `/live/${channel}/${uri}`;
    const res = await fetch(`${base}${url}`);
    if (!res.ok) continue;
    const h = sha(await res.arrayBuffer());
    const before = seen.get(url);
    if (before === undefined) seen.set(url, h);
    else {
      assert.equal(h, before, `${url} changed bytes (served by ${base})`);
      compared++;
    }
  }
  return compared;
}

async function lastSegmentIndex(base: string, channel: string): Promise<number> {
  return lastIndexOf(base, channel, 'v-source.m3u8');
}

/** Indexes of the segments of a media playlist that are not marked EXT-X-GAP. */
function madeSegments(text: string): number[] {
  const made: number[] = [];
  let gap = false;
  for (const line of text.split('\n')) {
    if (line === '#EXT-X-GAP') gap = true;
    else if (line && !line.startsWith('#')) {
      const k = Number(/-(\d+)\.m4s$/.exec(line)?.[1] ?? NaN);
      if (!gap && Number.isInteger(k)) made.push(k);
      gap = false;
    }
  }
  return made;
}

async function lastIndexOf(base: string, channel: string, playlist: string): Promise<number> {
  const { uris } = await segmentsOf(base, channel, playlist);
  const last = uris[uris.length - 1];
  return last ? Number(/-(\d+)\.m4s$/.exec(last)?.[1] ?? -1) : -1;
}

beforeAll(async () => {
  // A failover (10-11 s) longer than the channel lease (6 s), as with Redis's default node timeout (15 s): the
  // publish holding through it finds its lease expired, and must go on all the same.
  cluster = await startTestCluster({ masters: 3, nodeTimeoutMs: 6000 });
  // Pick channel names so that one channel lives on each primary.
  const primaries = new Set<number>();
  for (let i = 0; primaries.size < 3 || onPrimary.size < 3; i++) {
    const name = `ch${i}`;
    const port = await cluster.primaryOf(`beam:{${name}}:format`);
    primaries.add(port);
    if (!onPrimary.has(port)) onPrimary.set(port, name);
    if (i > 200) throw new Error('could not spread channels over the primaries');
  }
  engineA = await startRole(cluster.url, ['engine']);
  procs.push(engineA);
  engineB = await startRole(cluster.url, ['engine']);
  procs.push(engineB);
  ingestA = await startRole(cluster.url, ['ingest']);
  procs.push(ingestA);
  ingestB = await startRole(cluster.url, ['ingest']);
  procs.push(ingestB);
  procs.push(await startRole(cluster.url, ['transcoder']));
  for (const name of onPrimary.values()) {
    const res = await api(engineA.http as string, '/api/channels', { method: 'POST', body: JSON.stringify({ name, ladder: [{ name: '144p', width: 256, height: 144, videoBitrate: 150000 }] }) });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    streamKeys.set(name, (JSON.parse(text) as { streamKey: string }).streamKey);
  }
}, 120_000);

afterAll(async () => {
  if (process.env.CLUSTER_DEBUG_DIR) {
    const { writeFileSync } = await import('node:fs');
    procs.forEach((p, i) => writeFileSync(`${process.env.CLUSTER_DEBUG_DIR}/${i}-${p.roles.join('-')}.log`, p.output()));
  }
  for (const p of publishers) p.stop();
  await Promise.allSettled(procs.map((p) => p.stop()));
  await cluster?.close();
});

const srtUrl = (ingest: RoleProcess, channel: string) => `srt://127.0.0.1:${ingest.srtPort}?streamid=${encodeURIComponent(`#!::r=${streamKeys.get(channel)}`)}`;

describe('a Redis Cluster with the roles as separate processes', () => {
  it('channels on every primary: every process starts, lists them, and serves the same bytes', { timeout: 90_000 }, async () => {
    assert.equal(new Set(onPrimary.keys()).size, 3, 'three primaries hold channels');
    for (const e of [engineA, engineB]) {
      const res = await api(e.http as string, '/api/channels');
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const names = (JSON.parse(text) as { name: string }[]).map((c) => c.name);
      for (const n of onPrimary.values()) assert.ok(names.includes(n), `${n} listed by ${e.http}`);
    }
    const names = [...onPrimary.values()];
    // Two channels through ingest A, one through ingest B.
    names.forEach((n, i) => publishers.push(publishSrt(srtUrl(i < 2 ? ingestA : ingestB, n), { seconds: 80, gopFrames: 25 })));
    for (const n of names) {
      await waitFor(`${n} to have 3 segments`, async () => (await lastSegmentIndex(engineA.http as string, n)) >= 3, 40_000, 500).catch((e: Error) => {
        throw new Error(`${e.message}\n${procs.map((p) => `--- ${p.roles}:\n${p.output().slice(-1500)}`).join('\n')}\n--- publishers:\n${publishers.map((p) => p.stderr()).join('\n')}`);
      });
    }
    await waitFor('the rung of ch on the first primary', async () => (await segmentsOf(engineB.http as string, names[0] as string, 'v-144p.m3u8')).uris.length >= 2, 40_000, 500);
    for (const n of names) {
      await checkImmutable(engineA.http as string, n);
      assert.ok((await checkImmutable(engineB.http as string, n)) >= 3, 'the second engine serves the same bytes');
    }
    for (const p of procs) assert.ok(p.alive(), `${p.roles} is running:\n${p.output().slice(-2000)}`);
  });

  it('a primary killed during a publish: no process dies, engines answer (503 while down, never 500), the channel continues, nothing published changes', { timeout: 90_000 }, async () => {
    const [port, victim] = [...onPrimary.entries()][0] as [number, string];
    const before = await lastSegmentIndex(engineA.http as string, victim);
    cluster.kill(port);
    const statuses = new Set<number>();
    const t0 = Date.now();
    await waitFor('the cluster to fail over', async () => {
      for (const e of [engineA, engineB]) {
        const r = await fetch(`${e.http}/live/${victim}/v-source.m3u8`).catch(() => null);
        if (r) statuses.add(r.status);
      }
      return cluster.waitHealthy(1).then(() => true, () => false);
    }, 30_000, 250);
    const failoverMs = Date.now() - t0;
    assert.ok(!statuses.has(500), `no 500 while the primary was down (saw ${[...statuses]}):\n${[engineA, engineB].map((e) => e.output().split('\n').filter((l) => /"level":50/.test(l)).slice(-3).join('\n')).join('\n')}`);
    await waitFor(`${victim} to move forward after the failover`, async () => (await lastSegmentIndex(engineA.http as string, victim)) > before + 2, 40_000, 500).catch(async (e: Error) => {
      // Why it stopped: the channel's playlist, what the ingest processes said about it, and its publisher.
      const said = [ingestA, ingestB].map((p) => `--- ingest ${p.srtPort}:\n${p.output().split('\n').filter((l) => l.includes(victim) || /"level":(4|5)0/.test(l)).slice(-25).join('\n')}`);
      const publisher = publishers[[...onPrimary.values()].indexOf(victim)];
      throw new Error(`${e.message} (segment ${before} before the kill)\n--- playlist:\n${await playlist(engineA.http as string, victim)}\n${said.join('\n')}\n--- publisher:\n${publisher?.stderr().slice(-1500) ?? ''}`);
    });
    for (const n of onPrimary.values()) {
      await checkImmutable(engineA.http as string, n);
      await checkImmutable(engineB.http as string, n);
    }
    for (const p of procs) assert.ok(p.alive(), `${p.roles} survived the failover:\n${p.output().slice(-3000)}`);
    console.log(`failover: ${failoverMs} ms until every slot was served again; statuses seen meanwhile: ${[...statuses].join(', ')}`);
  });
});

/** A channel's source media playlist text. */
async function playlist(base: string, channel: string): Promise<string> {
  return (await segmentsOf(base, channel, 'v-source.m3u8')).text;
}

describe('ingest processes on a cluster', () => {
  it('an ingest process killed and its publisher moved: the channel continues after the last announced segment with a discontinuity, nothing published changes, the rung goes on', { timeout: 120_000 }, async () => {
    const victim = [...onPrimary.values()][1] as string; // published through ingest A
    await checkImmutable(engineA.http as string, victim);
    const before = await lastSegmentIndex(engineA.http as string, victim);
    const rungBefore = await lastIndexOf(engineA.http as string, victim, 'v-144p.m3u8');
    ingestA.kill('SIGKILL');
    // The killed process comes back (as systemd would restart it) while its publisher moves to ingest B.
    const restarted = startRole(cluster.url, ['ingest']).then((p) => {
      procs.push(p);
      ingestA = p;
    });
    publishers[1]?.stop();
    const killedAt = Date.now();
    const moved = publishSrt(srtUrl(ingestB, victim), { seconds: 60, gopFrames: 25 });
    publishers.push(moved);
    await waitFor(`${victim} to take its next segment through ingest B`, async () => (await lastSegmentIndex(engineB.http as string, victim)) > before, 60_000, 200).catch(() => undefined);
    console.log(`ingest kill: the moved publisher's first new segment listed ${Date.now() - killedAt} ms after the kill`);
    await waitFor(`${victim} to continue through ingest B`, async () => (await lastSegmentIndex(engineB.http as string, victim)) > before + 3, 60_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n--- ingest B:\n${ingestB.output().slice(-3000)}\n--- publisher:\n${moved.stderr()}`);
    });
    const text = await playlist(engineB.http as string, victim);
    assert.match(text, /#EXT-X-DISCONTINUITY/, 'the moved publisher starts a discontinuity');
    assert.ok((await checkImmutable(engineB.http as string, victim)) >= 1, 'segments published before the kill compared');
    await checkImmutable(engineA.http as string, victim);
    // The rung goes on with media, not only gaps: a segment after the kill made for real. (Gaps before it are
    // expected: the segment the kill cut, and the primary's failover just before, when no job could be enqueued.)
    let rung = { uris: [] as string[], text: '' };
    await waitFor('the rung to make a segment after the kill', async () => {
      rung = await segmentsOf(engineA.http as string, victim, 'v-144p.m3u8');
      return madeSegments(rung.text).some((k) => k > rungBefore);
    }, 40_000, 500).catch((e: Error) => {
      // A gap says why only in the transcoders' log (late behind the live edge, or left partly published by a job that died).
      const why = procs
        .filter((p) => p.roles.includes('transcoder'))
        .flatMap((p) => p.output().split('\n').filter((l) => l.includes(victim) && /problems|gap|late|orphan|failed/i.test(l)).slice(-12));
      throw new Error(`${e.message} (rung at ${rungBefore} before the kill):\n${rung.text}\n--- the transcoders' warnings for ${victim}:\n${why.join('\n')}`);
    });
    await restarted;
  });

  it('the same key offered to two ingest processes: the newer publisher takes the channel over, one writer at a time', { timeout: 120_000 }, async () => {
    const channel = [...onPrimary.values()][2] as string; // published through ingest B
    const before = await lastSegmentIndex(engineA.http as string, channel);
    const second = publishSrt(srtUrl(ingestA, channel), { seconds: 40, gopFrames: 25 });
    publishers.push(second);
    await waitFor(`${channel} to continue through ingest A`, async () => (await lastSegmentIndex(engineA.http as string, channel)) > before + 3, 60_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n--- ingest A:\n${ingestA.output().slice(-3000)}\n--- ingest B:\n${ingestB.output().slice(-3000)}`);
    });
    const first = publishers[2] as Publisher;
    assert.notEqual(await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('running'), 15_000))]), 'running', 'the replaced publisher was disconnected');
    const res = await api(engineA.http as string, `/api/channels/${channel}`);
    const st = ((await res.json()) as { status: { state: string; lastDisconnectCode: string | null } }).status;
    assert.equal(st.state, 'live', `the status is the new holder's: ${JSON.stringify(st)}`);
    for (const n of onPrimary.values()) await checkImmutable(engineB.http as string, n);
    for (const p of procs.filter((x) => x !== ingestA || x.alive())) assert.ok(p.alive() || p.roles.includes('ingest'), `${p.roles} running`);
  });
});

describe('transcoder processes on a cluster', () => {
  it('a transcoder killed: another takes its jobs, the rung playlist never goes backwards and goes on', { timeout: 120_000 }, async () => {
    const channel = [...onPrimary.values()][2] as string; // live through ingest A since the takeover
    const transcoder = procs.find((p) => p.roles.includes('transcoder') && p.alive()) as RoleProcess;
    const second = await startRole(cluster.url, ['transcoder']);
    procs.push(second);
    const seen: number[] = [];
    const sample = async () => {
      const last = await lastIndexOf(engineA.http as string, channel, 'v-144p.m3u8');
      if (last >= 0) seen.push(last);
      return last;
    };
    await sample();
    transcoder.kill('SIGKILL');
    const killedAt = await sample();
    await waitFor('the rung to go on after the kill', async () => (await sample()) > killedAt + 3, 60_000, 250);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) >= (seen[i - 1] as number), `the rung playlist went backwards: ${seen.join(' ')}`);
    const rung = await segmentsOf(engineA.http as string, channel, 'v-144p.m3u8');
    console.log(`transcoder kill: rung ${seen[0]} → ${seen[seen.length - 1]}, EXT-X-GAP in the window now: ${(rung.text.match(/#EXT-X-GAP/g) ?? []).length}`);
  });
});
