/**
 * The ingest role: the SRT and RTMP listeners, an in-memory channel registry kept current from Redis
 * (this process's own changes synchronously, other processes' over pub/sub, a full reload as a safety net),
 * the SRT gate's key snapshot fed from it, one publish session per channel (a new connection with the
 * channel's key replaces a stale one), channel state and the reconnect window; the admission point (a
 * publish is asked of the webhooks that concern its channel before it may go live) and the publisher and
 * channel notifications.
 */

import { randomUUID } from 'node:crypto';
import type { Channel, ChannelState } from '../core/model/channel';
import type { Store } from '../core/store/store';
import type { LiveStore } from '../core/store/live-store';
import type { ChannelStore } from '../core/store/channel-store';
import type { RedisClient } from '../core/store/redis-connection';
import { fault, type PipelineErrorCode, type PipelineFault } from '../core/model/pipeline-errors';
import { createFaultReporter, type FaultReporter } from '../core/observe/fault-reporter';
import { createSrtServer, type SrtReadEntry, type SrtReader, type SrtServer, type SrtSession } from './srt/srt-server';
import { readerAccess, srtReadAccess } from './srt/read-access';
import { createRtmpServer, type RtmpServer, type RtmpServerConfig } from './rtmp/rtmp-server';
import type { RtmpDecision } from './rtmp/rtmp-connection';
import type { RtmpSession } from './rtmp/rtmp-session';
import { newHolderId } from '../core/store/holder-id';
import { resumeChannel } from './session/planned-run';
import { DEFAULT_SESSION_CONFIG, startPublishSession, type PublishSession, type PublishSessionConfig, type PublishSource, type SessionLog } from './publish-session';
import type { IngestMetrics } from './ingest-metrics';
import type { IngestDiagnostics } from './ingest-stats';
import { classifyStoreError, STORE_FAULT_CODES } from './store-errors';
import { parseRtmpStreamName, parseStreamId, type PublisherRole } from './streamid';
import { appendSwitch, decideSwitch, inputHealth, trackHealth, type InputActivity, type RedundancyConfig, type SwitchReason, type SwitchRecord } from './redundancy';
import type { Webhooks } from '../core/webhooks/webhooks';
import type { IngestProtocol } from '../core/webhooks/bodies';
import { holdSource, peerAddress } from './admission';
import { loadBeamcoder } from './demux-input';
import type { IntakeAdmission, PublishIntake } from '../core/model/publish-intake';
import { timingSafeEqual } from 'node:crypto';

export interface IngestLog extends SessionLog {
  error(obj: object, msg?: string): void;
}

export interface IngestServiceDeps {
  store: Store;
  live: LiveStore;
  channels: ChannelStore;
  /** A dedicated connection for the settings-change subscription. */
  subscriber: RedisClient;
  log: IngestLog;
  metrics?: IngestMetrics;
  /** Enqueue a channel segment for the ABR transcoders (skipped for channels without a ladder). */
  enqueueSegment?: (channel: string, segment: number) => Promise<unknown>;
  /** Where publish ends and refusals are reported (default: one on `metrics`' registry and `log`). */
  faults?: FaultReporter;
  /** Admission and notification webhooks (core/webhooks); without them every publish the key gate lets in goes live. */
  webhooks?: Webhooks;
  /**
   * SRT readers (m=request) the gate admitted (channel and rung exist, srt/read-access.ts): the composition
   * root hands them to the packager's SRT pull. Without it no channel is readable (readers are refused, 1404).
   */
  onReader?: (reader: SrtReader) => void;
}

export interface IngestServiceConfig {
  srt: { host: string; port: number; latencyMs?: number; readerBufferBytes?: number } | null;
  /** RTMP listener; the limits default to the server's (rtmp-server.ts, rtmp-limits.ts). */
  rtmp: (Pick<RtmpServerConfig, 'host' | 'port'> & Partial<Pick<RtmpServerConfig, 'maxConnections' | 'maxConnectionsPerAddress' | 'publishTimeoutMs' | 'maxMessageBytes'>>) | null;
  idleTimeoutMs: number;
  session: PublishSessionConfig;
  /** Full reload of the registry, as a safety net beside change notifications. */
  refreshMs: number;
  /** Redundant publishers: the stall bound and the primary's return time (BEAM_BACKUP_STALL, BEAM_BACKUP_RETURN_SECONDS). */
  redundancy?: RedundancyConfig;
}

/** Redundant publishers' defaults: 1 s without media or video is a stall; the primary returns after 10 s healthy. */
export const DEFAULT_REDUNDANCY_CONFIG: RedundancyConfig = { stallMs: 1000, returnMs: 10_000 };

/** How often the inputs of channels with a backup are checked, ms. */
const REDUNDANCY_BEAT_MS = 200;

/**
 * refreshMs: changes made in this process apply before the API answers, other processes' over pub/sub (re-
 * subscribed, and followed by a full reload, after every reconnect); the registry is also reloaded in full
 * this often (one SMEMBERS and one pipelined GET) as a safety net, and channel status writes Redis refused
 * are retried on the same beat.
 */
export const DEFAULT_INGEST_CONFIG: Omit<IngestServiceConfig, 'srt' | 'rtmp'> = { idleTimeoutMs: 10000, session: DEFAULT_SESSION_CONFIG, refreshMs: 2000, redundancy: DEFAULT_REDUNDANCY_CONFIG };

export interface IngestService {
  start(): Promise<void>;
  close(): Promise<void>;
  srtPort(): number | null;
  rtmpPort(): number | null;
  sessions(): { channel: string; protocol: string; role: PublisherRole; onAir: boolean; diagnostics: IngestDiagnostics | null }[];
  /** Publishers that reach Beamline over HTTP (WHIP): the key check, admission and publish sessions. */
  intake: PublishIntake;
}

/** Pure: a WHIP bearer token against the channel's stream key (constant time). */
export function keyMatches(given: string, streamKey: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(streamKey);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Pure: decide an RTMP publish. `query`: its parameters (`role=backup` for a backup input). */
export function decideRtmp(app: string, streamKey: string, byKey: ReadonlyMap<string, Channel>, query = ''): RtmpDecision {
  if (app !== 'live') return { ok: false, reason: `unknown application '${app}': publish to rtmp://<host>:<port>/live` };
  const parsed = parseRtmpStreamName(query ? `${streamKey}?${query}` : streamKey);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const ch = byKey.get(parsed.key);
  return ch ? { ok: true, channel: ch.name, role: parsed.role } : { ok: false, reason: 'unknown stream key' };
}

/** One input of a channel with redundant publishers, as the channel status shows it. */
interface InputView {
  protocol: string;
  peer: string;
  connectedAt: string;
  activity: InputActivity;
}

/** A channel's inputs in this process (the status shows them from its first backup on). */
interface Redundancy {
  onAir: PublisherRole | null;
  inputs: { primary: InputView | null; backup: InputView | null };
  switches: SwitchRecord[];
  switchCount: number;
  /** A switch under way (the next writer waits for the last): no other decision until it settles. */
  switching: boolean;
  /** The status last written (JSON): written again only when it changes. */
  written: string;
  /** A backup connected here once: the channel status shows its inputs from then on. */
  seenBackup: boolean;
}

type StatusExtra = { connected?: boolean; disconnected?: boolean; reason?: string; code?: PipelineErrorCode };

/** Pure: a status write kept for a retry, then a later one: the later wins, but a reason (with its code) is kept until replaced. */
export function mergeStatusExtra(earlier: StatusExtra, later: StatusExtra): StatusExtra {
  const merged: StatusExtra = { ...earlier, ...later };
  const why = later.reason === undefined ? earlier : later;
  merged.reason = why.reason;
  merged.code = why.code;
  if (merged.reason === undefined) delete merged.reason;
  if (merged.code === undefined) delete merged.code;
  return merged;
}

/** Ends that leave the channel to another ingest process: this one writes no status for them. */
const OTHER_PROCESS_OWNS: ReadonlySet<string> = new Set(['INGEST_LEASE_HELD', 'INGEST_LEASE_LOST', 'INGEST_REPLACED']);

/** The channel status fields of a publish's end. */
export function disconnectExtra(f: PipelineFault): StatusExtra {
  return { disconnected: true, reason: f.message, code: f.code };
}

/** RTMP publishes admitted and not yet attached, by peer (`address:port`): their request ids. Bounded. */
const ADMITTED_RTMP_MAX = 1024;

export function createIngestService(deps: IngestServiceDeps, config: IngestServiceConfig): IngestService {
  const { log, channels, webhooks } = deps;
  const faults = deps.faults ?? createFaultReporter({ registry: deps.metrics?.registry, log });
  /** Counts faults a lower layer (the RTMP server) already logged. */
  const counted = createFaultReporter({ registry: deps.metrics?.registry });
  let byKey = new Map<string, Channel>();
  let byName = new Map<string, Channel>();
  /** The primary input's session per channel (the only one of a channel without a backup). */
  const active = new Map<string, PublishSession>();
  /** Backup inputs' sessions per channel (role=backup). */
  const backups = new Map<string, PublishSession>();
  const redundancy = new Map<string, Redundancy>();
  const redundancyConfig = config.redundancy ?? DEFAULT_REDUNDANCY_CONFIG;
  let redundancyTimer: NodeJS.Timeout | null = null;
  const sessionsOf = (role: PublisherRole) => (role === 'primary' ? active : backups);
  const otherRole = (role: PublisherRole): PublisherRole => (role === 'primary' ? 'backup' : 'primary');
  /** Whether a publisher of the channel (either input) is connected to this process. */
  const present = (name: string): boolean => active.has(name) || backups.has(name);
  /** Sessions closed because their channel was deleted: nothing more is written for them. */
  const deleted = new WeakSet<PublishSession>();
  const reconnectTimers = new Map<string, NodeJS.Timeout>();
  /** Status writes Redis refused, retried on the refresh beat (the latest per channel). */
  const pendingStatus = new Map<string, { state: ChannelState; extra: StatusExtra }>();
  let srt: SrtServer | null = null;
  let rtmp: RtmpServer | null = null;
  let unsubscribe: (() => Promise<void>) | null = null;
  let refreshTimer: NodeJS.Timeout | null = null;
  let closing = false;
  /** Registry changes applied so far; a reload or single read started earlier must not undo later ones. */
  let epoch = 0;
  const touchedAt = new Map<string, number>();
  /** SRT callers whose admission is being asked, one per channel and role (a newer caller replaces the waiting one). */
  const admittingSrt = new Map<string, SrtSession>();
  /** Request ids of RTMP publishes the webhooks admitted, until their session attaches (the oldest go first). */
  const admittedRtmp = new Map<string, string>();

  /** When this process last found Redis unreachable, failing over or refusing writes (ms; 0: never). */
  let storeTroubleAt = 0;

  function storeFailed(err: unknown, what: string, channel?: string): void {
    const f = classifyStoreError(err);
    if (f.kind !== 'other') storeTroubleAt = Date.now();
    deps.metrics?.storeError(f.kind);
    log.warn({ channel, err: err instanceof Error ? err.message : String(err), kind: f.kind, code: STORE_FAULT_CODES[f.kind] }, what);
  }

  /** The status last asked for per channel: a retry writes that state (never an older one). */
  const wantedStatus = new Map<string, ChannelState>();

  /** A channel status write; when Redis refuses it, it is kept and retried until Redis accepts writes. */
  function setStatus(name: string, state: ChannelState, extra: StatusExtra = {}): void {
    const before = pendingStatus.get(name);
    const merged: StatusExtra = before ? mergeStatusExtra(before.extra, extra) : extra;
    pendingStatus.delete(name);
    wantedStatus.set(name, state);
    channels.setState(name, state, merged).catch((err: unknown) => {
      // Keep what failed (its reason above all) under the state asked for last.
      const later = pendingStatus.get(name);
      const extraNow: StatusExtra = later ? mergeStatusExtra(merged, later.extra) : merged;
      pendingStatus.set(name, { state: wantedStatus.get(name) ?? state, extra: extraNow });
      storeFailed(err, `could not store the channel status (${state}${merged.reason ? `: ${merged.reason}` : ''}); retrying`, name);
    });
  }

  /** The channel went idle: its status, and the channel.idle notification (with the last disconnect's reason). */
  function goIdle(ch: Channel, extra: StatusExtra = {}, why: StatusExtra = extra): void {
    setStatus(ch.name, 'idle', extra);
    webhooks?.notify({ event: 'channel.idle', channel: ch.name, reason: why.reason ?? null, code: why.code ?? null }, (byName.get(ch.name) ?? ch).webhook);
  }

  /**
   * A publisher the admission webhook refused: logged and counted, and its reason kept in the channel status as
   * the last disconnect unless this process has the channel live (then its publisher keeps the status; the
   * refusal is in the log, the metrics and the delivery log). The state is never touched (recordRefusal).
   */
  function refusedByWebhook(ch: Channel, protocol: IngestProtocol, peer: string, reason: string): void {
    const f = fault('INGEST_REFUSED_BY_WEBHOOK', reason);
    faults.report(f, { channel: ch.name, protocol, peer });
    deps.metrics?.refused(protocol, f.message);
    if (present(ch.name) || !byName.has(ch.name)) return;
    channels.recordRefusal(ch.name, f.message, f.code).catch((err: unknown) => storeFailed(err, 'could not record a refused publisher in the channel status', ch.name));
  }

  function retryStatuses(): void {
    for (const [name, p] of [...pendingStatus]) {
      pendingStatus.delete(name);
      if (!byName.has(name)) continue;
      const state = wantedStatus.get(name) ?? p.state;
      channels.setState(name, state, p.extra).then(
        () => log.info({ channel: name, state }, 'channel status stored after Redis recovered'),
        () => {
          if (!pendingStatus.has(name)) pendingStatus.set(name, { state, extra: p.extra });
        },
      );
    }
  }

  /** What SRT readers may read of a channel (nothing when no reader is served here). */
  function readEntries(list: Iterable<Channel>): [string, SrtReadEntry][] {
    if (!deps.onReader) return [];
    const out: [string, SrtReadEntry][] = [];
    for (const c of list) {
      const e = srtReadAccess(c);
      if (e) out.push([c.name, e]);
    }
    return out;
  }

  /** A private channel's reader is read as long as its playback token is valid, like its HLS. */
  function closeAtExpiry(r: SrtReader, expiresMs: number): void {
    // setTimeout holds at most ~24.8 days; a token valid longer is checked again then.
    const wait = Math.min(Math.max(0, expiresMs - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      if (Date.now() >= expiresMs) r.close('the playback token expired');
      else closeAtExpiry(r, expiresMs);
    }, wait);
    timer.unref();
    r.on('close', () => clearTimeout(timer));
  }

  function syncReadable(ch: Channel): void {
    const e = deps.onReader ? srtReadAccess(ch) : null;
    if (e) srt?.upsertReadable(ch.name, e);
    else srt?.deleteReadable(ch.name);
    // A channel made private, or its playback secret rotated: readers whose token no longer opens it go.
    for (const r of srt?.readers() ?? []) {
      if (r.channel !== ch.name) continue;
      const access = readerAccess(ch, r.streamId, r.peer.address, Date.now());
      if (!access.ok) r.close(access.reason);
    }
  }

  /** Apply one channel's new settings (null: deleted) to the registry, the SRT gate and the live session. */
  function apply(name: string, ch: Channel | null, previousKey?: string): void {
    epoch++;
    touchedAt.set(name, epoch);
    const before = byName.get(name);
    for (const k of [before?.streamKey, previousKey]) {
      if (k !== undefined && k !== ch?.streamKey && byKey.get(k)?.name === name) {
        byKey.delete(k);
        srt?.deleteKey(k);
      }
    }
    const session = active.get(name);
    const backup = backups.get(name);
    if (ch) {
      byName.set(name, ch);
      byKey.set(ch.streamKey, ch);
      srt?.upsertKey(ch.streamKey, { channel: ch.name, passphrase: ch.passphrase ?? undefined });
      syncReadable(ch);
      const oldKey = previousKey ?? before?.streamKey;
      if (session && oldKey !== undefined && oldKey !== ch.streamKey) {
        // A rotated key is a revoked key: its publisher is cut, a reconnect needs the new key.
        log.info({ channel: name }, 'the stream key was rotated: closing the current publisher');
        session.close(fault('INGEST_KEY_ROTATED'));
      }
      if (backup && oldKey !== undefined && oldKey !== ch.streamKey) backup.close(fault('INGEST_KEY_ROTATED'));
    } else {
      byName.delete(name);
      srt?.deleteReadable(name);
      pendingStatus.delete(name);
      wantedStatus.delete(name);
      const timer = reconnectTimers.get(name);
      if (timer) clearTimeout(timer);
      reconnectTimers.delete(name);
      for (const s of [session, backup]) {
        if (!s) continue;
        deleted.add(s);
        s.close(fault('INGEST_CHANNEL_DELETED'), { discard: true });
      }
      redundancy.delete(name);
    }
  }

  async function reload(): Promise<void> {
    const started = epoch;
    const list = await channels.list();
    const fresh = new Map(list.map((c) => [c.name, c]));
    // Names changed while the list was read keep what those changes said.
    for (const [name, at] of touchedAt) {
      if (at <= started) continue;
      const cur = byName.get(name);
      if (cur) fresh.set(name, cur);
      else fresh.delete(name);
    }
    for (const name of byName.keys()) if (!fresh.has(name)) apply(name, null);
    for (const ch of fresh.values()) {
      const cur = byName.get(ch.name);
      if (!cur || cur.streamKey !== ch.streamKey || cur.passphrase !== ch.passphrase || cur.updatedAt !== ch.updatedAt) apply(ch.name, ch);
    }
    byName = new Map(fresh);
    byKey = new Map([...fresh.values()].map((c) => [c.streamKey, c]));
    srt?.setKeys([...fresh.values()].map((c) => [c.streamKey, { channel: c.name, passphrase: c.passphrase ?? undefined }]));
    srt?.setReadable(readEntries(fresh.values()));
    if (touchedAt.size > 10000) touchedAt.clear(); // names of deleted channels pile up otherwise
  }

  /**
   * A channel whose status says live while no process holds its lease was left by an ingest process that
   * died: once its lease is free (and long enough after the channel went live that no starting session is
   * waiting for the lease), one process takes the lease, closes the segment left open at its last part (a
   * transcoder following that segment stops waiting for it), marks the channel idle with why, and releases.
   * When this process found Redis unavailable within the last outage hold plus lease time, a free lease may
   * only mean its holder could not renew it through the outage (it holds its publish that long and takes the
   * lease back when Redis answers): the lease must then stay free that long before the channel is swept.
   */
  let sweeping = false;
  /**
   * Channels left live whose lease this process found free: since when (ms), and how long it must stay free
   * (decided then: the outage hold plus the lease time when Redis was unavailable shortly before, else 0).
   */
  const leaseFreeSince = new Map<string, { since: number; wait: number }>();
  async function sweepOrphans(): Promise<void> {
    if (sweeping || closing) return;
    sweeping = true;
    try {
      const names = [...byName.keys()].filter((n) => !present(n));
      const candidates = new Set(names);
      for (const n of leaseFreeSince.keys()) if (!candidates.has(n)) leaseFreeSince.delete(n);
      if (names.length === 0) return;
      const statuses = await channels.statuses(names);
      const quiet = config.session.streamsTimeoutMs + 2 * config.session.leaseTtlMs;
      const away = config.session.outageHoldMs + config.session.leaseTtlMs;
      for (const [i, name] of names.entries()) {
        const st = statuses[i];
        const ch = byName.get(name);
        if (!st || !ch || st.state !== 'live' || Date.now() - Date.parse(st.since) < quiet) {
          leaseFreeSince.delete(name);
          continue;
        }
        if ((await deps.live.leaseHolder(name)) !== null) {
          leaseFreeSince.delete(name);
          continue;
        }
        const free = leaseFreeSince.get(name) ?? { since: Date.now(), wait: Date.now() - storeTroubleAt < away ? away : 0 };
        leaseFreeSince.set(name, free);
        if (Date.now() - free.since < free.wait) continue;
        leaseFreeSince.delete(name);
        const holder = newHolderId('sweep');
        if (!(await deps.live.acquireLease(name, holder, config.session.leaseTtlMs))) continue;
        try {
          if (present(name)) continue;
          await resumeChannel({ deps: { live: deps.live, log }, channel: ch, holder });
          const f = fault('INGEST_FAILED', 'the ingest process publishing the channel stopped (its lease expired)');
          await channels.setState(name, 'idle', { disconnected: true, reason: f.message, code: f.code });
          await deps.live.appendEvents(name, [{ type: 'publisher:disconnected', reason: f.message }]);
          faults.report(f, { channel: name });
          webhooks?.notify({ event: 'channel.idle', channel: name, reason: f.message, code: f.code }, ch.webhook);
        } finally {
          await deps.live.releaseLease(name, holder).catch(() => undefined);
        }
      }
    } finally {
      sweeping = false;
    }
  }

  async function reloadOne(name: string): Promise<void> {
    const started = epoch;
    const ch = await channels.get(name);
    if ((touchedAt.get(name) ?? 0) > started) return; // a newer change already applied
    apply(name, ch);
  }

  /** The channel's redundancy record (made at its first backup). */
  function redundancyOf(name: string): Redundancy {
    let r = redundancy.get(name);
    if (!r) {
      r = { onAir: null, inputs: { primary: null, backup: null }, switches: [], switchCount: 0, switching: false, written: '', seenBackup: false };
      redundancy.set(name, r);
    }
    return r;
  }

  /** Writes the channel's redundancy status when it changed (inputs, health, on air, switches). */
  function writeRedundancy(name: string): void {
    const r = redundancy.get(name);
    if (!r || !r.seenBackup || !byName.has(name)) return;
    const now = Date.now();
    const input = (role: PublisherRole) => {
      const i = r.inputs[role];
      return i ? { protocol: i.protocol, peer: i.peer, connectedAt: i.connectedAt, health: inputHealth(i.activity, now, redundancyConfig.stallMs), onAir: r.onAir === role } : null;
    };
    const view = { onAir: r.onAir, inputs: { primary: input('primary'), backup: input('backup') }, switches: r.switches, switchCount: r.switchCount };
    const text = JSON.stringify(view);
    if (text === r.written) return;
    r.written = text;
    channels.setRedundancy(name, view).catch((err: unknown) => {
      r.written = '';
      storeFailed(err, 'could not store the redundant inputs status', name);
    });
  }

  /**
   * Puts `to` on air in place of the other input: the other stops writing (or has ended: `fromDone`), then `to`
   * continues the channel after everything stored, from its newest keyframe. Recorded, counted and notified.
   */
  function switchTo(ch: Channel, to: PublisherRole, reason: SwitchReason, fromDone?: Promise<unknown>): void {
    const r = redundancyOf(ch.name);
    const target = sessionsOf(to).get(ch.name);
    if (!target) return;
    const from = otherRole(to);
    const leaving = sessionsOf(from).get(ch.name);
    const finished: Promise<unknown> = fromDone ?? (leaving ? leaving.demote() : Promise.resolve());
    r.onAir = to;
    r.switching = true;
    target.promote(finished);
    void finished.finally(() => {
      r.switching = false;
    });
    r.switches = appendSwitch(r.switches, { at: new Date().toISOString(), from, to, reason });
    r.switchCount++;
    deps.metrics?.backupSwitch(ch.name, reason);
    log.info({ channel: ch.name, from, to, reason }, 'redundant publishers: switched the on-air input');
    webhooks?.notify({ event: 'backup.switch', channel: ch.name, from, to, reason }, (byName.get(ch.name) ?? ch).webhook);
    writeRedundancy(ch.name);
  }

  /** The beat of channels with both inputs: health, and a switch when the rules say so (redundancy.ts). */
  function checkRedundancy(): void {
    const now = Date.now();
    for (const [name, r] of redundancy) {
      for (const role of ['primary', 'backup'] as const) {
        const i = r.inputs[role];
        if (i) i.activity = trackHealth(i.activity, now, redundancyConfig.stallMs);
      }
      const ch = byName.get(name);
      if (ch && !r.switching) {
        const d = decideSwitch({ onAir: r.onAir, primary: r.inputs.primary?.activity ?? null, backup: r.inputs.backup?.activity ?? null }, now, redundancyConfig);
        if (d) switchTo(ch, d.to, d.reason);
      }
      writeRedundancy(name);
    }
  }

  /**
   * `requestId`: the admitted publish's (a new one when no webhook was asked). `role`: which of the channel's
   * redundant inputs this is; a newer publisher of the same role replaces the older, a backup publishes beside
   * the primary and waits in standby while the primary is on air.
   */
  function attach(channelName: string, source: PublishSource, requestId: string = randomUUID(), role: PublisherRole = 'primary'): void {
    const ch = byName.get(channelName);
    if (!ch || closing) {
      const refused = fault(closing ? 'INGEST_SHUTDOWN' : 'INGEST_UNKNOWN_CHANNEL');
      faults.report(refused, { channel: channelName || undefined, protocol: source.protocol, peer: source.peer });
      source.close(refused.message);
      return;
    }
    const mine = sessionsOf(role);
    const previous = mine.get(ch.name);
    if (previous) {
      log.info({ channel: ch.name, role }, 'a new publisher replaces the current one');
      previous.close(fault('INGEST_REPLACED'));
    }
    const other = sessionsOf(otherRole(role)).get(ch.name);
    const r = redundancyOf(ch.name);
    if (role === 'backup') r.seenBackup = true;
    /** The other input is on air: this one waits in standby. */
    const standby = other !== undefined && r.onAir === otherRole(role);
    /** A backup without a primary here goes on air only once the channel's lease is free (no primary elsewhere). */
    const deferred = !standby && role === 'backup';
    const timer = reconnectTimers.get(ch.name);
    /** The channel was on air already (a replaced publisher, the other input, or one back within the reconnect window). */
    const onAir = Boolean(timer || previous || other);
    // A second input joining is no reconnect.
    deps.metrics?.connected(ch.name, source.protocol, Boolean(timer || previous));
    if (timer) clearTimeout(timer);
    reconnectTimers.delete(ch.name);
    /** The session wrote the channel at some point (a backup that never did leaves the status to whoever did). */
    let wrote = false;
    const view: InputView = { protocol: source.protocol, peer: source.peer, connectedAt: new Date().toISOString(), activity: { since: Date.now(), lastMediaAt: null, lastVideoAt: null, healthySince: null } };
    const session = startPublishSession(
      {
        store: deps.store, live: deps.live, channels, log, onStats: deps.metrics?.stats,
        onStoreError: deps.metrics ? (kind) => deps.metrics?.storeError(kind) : undefined,
        onPartReady: deps.metrics ? (_channel, delayMs) => deps.metrics?.partReady(delayMs / 1000) : undefined,
        onPacketsRefused: (channel, count) => faults.report(fault('INGEST_PACKETS_REFUSED', `${count} packets refused: they would land in a closed segment`), { channel }),
        onOutage: (channel, waiting) => log.warn({ channel }, waiting ? 'Redis unreachable or failing over: holding the publish, retrying writes' : 'Redis answers again: the publish goes on'),
        onSegmentOpened: deps.enqueueSegment ? async (c, segment) => {
          // The ladder as it is now (settings may have changed since the publisher connected).
          const current = byName.get(c.name) ?? c;
          if (current.ladder.length > 0) await deps.enqueueSegment?.(c.name, segment);
        } : undefined,
      },
      config.session,
      ch,
      source,
      standby ? undefined : previous?.done,
      {
        standby,
        polite: role === 'backup',
        onWriting: () => {
          wrote = true;
          if (!deferred || mine.get(ch.name) !== session || r.onAir === role) return;
          r.onAir = role;
          setStatus(ch.name, 'live', { connected: true });
          writeRedundancy(ch.name);
        },
        onMedia: (video) => {
          const t = Date.now();
          view.activity.lastMediaAt = t;
          if (video) view.activity.lastVideoAt = t;
        },
      },
    );
    mine.set(ch.name, session);
    r.inputs[role] = view;
    if (!standby && !deferred) r.onAir = role;
    // A backup replacing the backup on air stays on air; else it is on air once it writes.
    if (deferred && !(previous && r.onAir === role)) r.onAir = null;
    writeRedundancy(ch.name);
    if (!standby && !deferred) setStatus(ch.name, 'live', { connected: true });
    log.info({ channel: ch.name, protocol: source.protocol, peer: source.peer, role, standby }, 'publisher connected');
    const peer = peerAddress(source.peer);
    webhooks?.notify({ event: 'publisher.connected', channel: ch.name, requestId, protocol: source.protocol, peer }, ch.webhook);
    if (!onAir) webhooks?.notify({ event: 'channel.live', channel: ch.name, requestId, protocol: source.protocol }, ch.webhook);
    session.done.then((reason) => {
      faults.report(reason, { channel: ch.name, protocol: source.protocol, peer: source.peer });
      const hook = (byName.get(ch.name) ?? ch).webhook;
      webhooks?.notify({ event: 'publisher.disconnected', channel: ch.name, requestId, protocol: source.protocol, peer, reason: reason.message, code: reason.code }, hook);
      if (mine.get(ch.name) !== session) return;
      mine.delete(ch.name);
      const red = redundancy.get(ch.name);
      if (red && red.inputs[role] === view) red.inputs[role] = null;
      if (deleted.has(session)) return; // the channel is gone: its status with it
      // Another ingest process holds the channel (it took over, or held it all along): the status is its own.
      if (OTHER_PROCESS_OWNS.has(reason.code)) return;
      if (role === 'backup' && !wrote && !sessionsOf('primary').has(ch.name)) {
        // A backup that waited for a primary elsewhere and never wrote: the channel's status is not its own.
        if (red) red.onAir = null;
        writeRedundancy(ch.name);
        return;
      }
      const rest = sessionsOf(otherRole(role)).get(ch.name);
      if (rest && red) {
        // The other input carries the channel on: on air at once when this one was.
        if (!closing && red.onAir === role) switchTo(ch, otherRole(role), role === 'primary' ? 'primary-disconnected' : 'backup-disconnected', session.done);
        writeRedundancy(ch.name);
        return;
      }
      if (red) {
        red.onAir = null;
        writeRedundancy(ch.name);
      }
      if (closing || ch.reconnectWindowSeconds === 0) {
        goIdle(ch, disconnectExtra(reason));
        return;
      }
      setStatus(ch.name, 'reconnecting', disconnectExtra(reason));
      const t = setTimeout(() => {
        reconnectTimers.delete(ch.name);
        if (!present(ch.name) && byName.has(ch.name)) goIdle(ch, {}, disconnectExtra(reason));
      }, ch.reconnectWindowSeconds * 1000);
      t.unref();
      reconnectTimers.set(ch.name, t);
    }).catch((err: unknown) => log.error({ channel: ch.name, err: err instanceof Error ? err.message : String(err) }, 'publisher disconnect handling failed'));
  }

  function srtSource(s: SrtSession): PublishSource {
    return {
      protocol: 'srt',
      peer: `${s.peer.address}:${s.peer.port}`,
      format: 'mpegts',
      onData: (fn) => s.on('data', fn),
      onClose: (fn) => s.on('close', fn),
      close: (reason) => s.close(reason),
      srtStats: () => {
        const st = s.stats();
        return st ? { rttMs: st.rttMs, lossPackets: st.packetsLost, retransmits: st.packetsRetransmitted, receiveRateMbps: st.recvRateMbps } : null;
      },
    };
  }

  function rtmpSource(s: RtmpSession): PublishSource {
    return {
      protocol: 'rtmp',
      peer: `${s.peer.address}:${s.peer.port}`,
      format: 'flv',
      onData: (fn) => s.on('data', fn),
      onClose: (fn) => s.on('close', (reason, detail) => fn(detail ? `${reason}: ${detail}` : reason)),
      close: () => s.close(),
    };
  }

  const intake: PublishIntake = {
    async admit(channelName, key, peer): Promise<IntakeAdmission> {
      if (closing) return { ok: false, status: 503, message: 'The ingest is shutting down.' };
      if (!byName.has(channelName) && key !== null) {
        // A channel another process created a moment ago: read it once (only for a request that brings a key).
        await reloadOne(channelName).catch((err: unknown) => storeFailed(err, 'channel reload failed', channelName));
      }
      const ch = byName.get(channelName);
      const where = `${peer.address}:${peer.port}`;
      const refuse = (status: 401 | 403 | 404, message: string): IntakeAdmission => {
        faults.report(fault('WHIP_REFUSED', message), { channel: ch?.name, protocol: 'whip', peer: where });
        deps.metrics?.refused('whip', message);
        return { ok: false, status, message };
      };
      if (!ch) return refuse(404, `Channel '${channelName}' was not found.`);
      if (key === null) return refuse(401, 'A WHIP publish needs the channel\'s stream key as Authorization: Bearer <stream key>.');
      if (!keyMatches(key, ch.streamKey)) return refuse(403, 'The bearer token is not this channel\'s stream key.');
      if (!webhooks?.admits(ch.webhook)) return { ok: true, requestId: randomUUID() };
      const a = await webhooks.admit({ channel: ch.name, protocol: 'whip', peer }, ch.webhook).catch(() => null);
      if (!a) return { ok: false, status: 503, message: 'The admission could not be asked.' };
      if (!a.allow) {
        refusedByWebhook(ch, 'whip', where, a.reason ?? 'refused by the admission webhook');
        return { ok: false, status: 403, message: a.clientReason ?? 'refused' };
      }
      return { ok: true, requestId: a.requestId };
    },
    publish(channelName, source, requestId) {
      attach(channelName, source, requestId);
    },
  };

  return {
    intake,
    async start() {
      // libavformat and friends load now, not in the first publisher's handshake (150-300 ms of dlopen and
      // symbol binding on this machine), and a broken install stops start-up instead of every publish.
      loadBeamcoder();
      await reload();
      deps.subscriber.on('error', (err: Error) => log.warn({ err: err.message }, 'channel change subscription: redis error (re-subscribes on reconnect)'));
      unsubscribe = await channels.onChange(
        deps.subscriber,
        (name, change) => {
          if (change) {
            apply(name, change.channel, change.previousKey);
            return;
          }
          reloadOne(name).catch((err: unknown) => storeFailed(err, 'channel reload failed', name));
        },
        {
          // Changes published while this process was not subscribed were missed: read everything again.
          onSubscribed: () => void reload().catch((err: unknown) => storeFailed(err, 'channel registry reload failed')),
          onError: (err) => log.warn({ err: err.message }, 'could not subscribe to channel changes; retrying on reconnect'),
        },
      );
      refreshTimer = setInterval(() => {
        reload().catch((err: unknown) => storeFailed(err, 'channel registry refresh failed'));
        retryStatuses();
        sweepOrphans().catch((err: unknown) => storeFailed(err, 'the sweep of channels left live by a stopped ingest process failed'));
      }, config.refreshMs);
      refreshTimer.unref();
      redundancyTimer = setInterval(checkRedundancy, REDUNDANCY_BEAT_MS);
      redundancyTimer.unref();
      if (config.srt) {
        srt = createSrtServer(
          {
            onRefused: (r) => {
              faults.report(fault('SRT_REFUSED', r.reason), { peer: `${r.peer.address}:${r.peer.port}`, rejectCode: r.code });
              deps.metrics?.refused('srt', r.reason);
            },
            log,
          },
          {
            host: config.srt.host, port: config.srt.port, latencyMs: config.srt.latencyMs, idleTimeoutMs: config.idleTimeoutMs,
            ...(config.srt.readerBufferBytes !== undefined ? { readerBufferBytes: config.srt.readerBufferBytes } : {}),
          },
        );
        srt.setKeys([...byName.values()].map((c) => [c.streamKey, { channel: c.name, passphrase: c.passphrase ?? undefined }]));
        srt.setReadable(readEntries(byName.values()));
        const onReader = deps.onReader;
        if (onReader) {
          srt.on('reader', (r) => {
            // Admitted on the gate's snapshot; the channel may have gone (or become private) since.
            const ch = byName.get(r.channel);
            if (!ch) {
              r.close('no such channel');
              return;
            }
            const access = readerAccess(ch, r.streamId, r.peer.address, Date.now());
            if (!access.ok) {
              faults.report(fault('SRT_REFUSED', access.reason), { channel: ch.name, peer: `${r.peer.address}:${r.peer.port}`, reader: true });
              deps.metrics?.refused('srt', access.reason);
              r.close(access.reason);
              return;
            }
            if (access.expiresMs !== null) closeAtExpiry(r, access.expiresMs);
            onReader(r);
          });
        }
        /** Accepted by the gate a moment before a rotation reached it: the key must still be the channel's. */
        const rotated = (s: SrtSession): boolean => {
          const parsed = parseStreamId(s.streamId);
          const ch = byName.get(s.channel);
          if (!ch || !parsed.ok || parsed.key === ch.streamKey) return false;
          const f = fault('INGEST_KEY_ROTATED');
          faults.report(f, { channel: ch.name, protocol: 'srt', peer: `${s.peer.address}:${s.peer.port}` });
          s.close(f.message);
          return true;
        };
        srt.on('session', (s) => {
          if (rotated(s)) return;
          const ch = byName.get(s.channel);
          const parsedId = parseStreamId(s.streamId);
          const role: PublisherRole = parsedId.ok ? parsedId.role ?? 'primary' : 'primary';
          if (!ch || !webhooks?.admits(ch.webhook)) {
            attach(s.channel, srtSource(s), undefined, role);
            return;
          }
          // The gate accepted the caller; the webhooks decide now, while what it sends is held. One caller per
          // channel waits at a time (as one publishes at a time): a newer one replaces it, so holding is bounded.
          const peer = `${s.peer.address}:${s.peer.port}`;
          const waitKey = `${ch.name}#${role}`;
          const waiting = admittingSrt.get(waitKey);
          if (waiting) {
            log.info({ channel: ch.name }, 'a new SRT caller replaces the one whose admission is being asked');
            waiting.close(fault('INGEST_REPLACED').message);
          }
          admittingSrt.set(waitKey, s);
          const held = holdSource(srtSource(s));
          webhooks.admit({ channel: ch.name, protocol: 'srt', peer: s.peer }, ch.webhook).then(
            (d) => {
              const replaced = admittingSrt.get(waitKey) !== s;
              if (!replaced) admittingSrt.delete(waitKey);
              if (replaced || held.closedReason() !== null) {
                held.release();
                log.info({ channel: ch.name, peer, reason: replaced ? 'replaced' : held.closedReason() }, 'the SRT publisher left (or was replaced) while its admission was asked');
                return;
              }
              if (!d.allow) {
                held.release();
                const reason = d.reason ?? 'refused by the admission webhook';
                s.close(reason);
                refusedByWebhook(ch, 'srt', peer, reason);
                return;
              }
              if (held.droppedBytes() > 0) log.warn({ channel: ch.name, peer, droppedBytes: held.droppedBytes() }, 'bytes held during the admission were dropped (over the bound)');
              if (rotated(s)) return;
              attach(s.channel, held.source, d.requestId, role);
            },
            (err: unknown) => {
              if (admittingSrt.get(waitKey) === s) admittingSrt.delete(waitKey);
              log.error({ channel: ch.name, peer, err: err instanceof Error ? err.message : String(err) }, 'SRT admission failed');
              s.close('admission failed');
            },
          );
        });
        await srt.start();
      }
      if (config.rtmp) {
        rtmp = createRtmpServer(
          {
            authorize: async (app, key, peer, query) => {
              let d = decideRtmp(app, key, byKey, query);
              if (!d.ok && app === 'live' && key.length > 0 && key.length <= 256) {
                // A miss may be a channel another process created a moment ago: ask Redis once.
                const name = await channels.byKey(key).catch((err: unknown) => {
                  storeFailed(err, 'stream key lookup failed');
                  return null;
                });
                if (name) {
                  await reloadOne(name).catch((err: unknown) => storeFailed(err, 'channel reload failed', name));
                  d = decideRtmp(app, key, byKey, query);
                }
              }
              if (!d.ok) {
                faults.report(fault('RTMP_REFUSED', d.reason ?? 'unknown stream key'), { peer: `${peer.address}:${peer.port}` });
                deps.metrics?.refused('rtmp', d.reason ?? 'refused');
                return d;
              }
              const ch = d.channel === undefined ? undefined : byName.get(d.channel);
              if (!ch || !webhooks?.admits(ch.webhook)) return d;
              // The publish waits for its answer (within the webhook timeout, below the publish deadline).
              const a = await webhooks.admit({ channel: ch.name, protocol: 'rtmp', peer: { address: peer.address, port: peer.port } }, ch.webhook);
              const where = `${peer.address}:${peer.port}`;
              if (!a.allow) {
                refusedByWebhook(ch, 'rtmp', where, a.reason ?? 'refused by the admission webhook');
                // The publisher reads the receiver's words only (the status and log also name the webhook's host).
                return { ok: false, reason: a.clientReason ?? 'refused' };
              }
              admittedRtmp.delete(where);
              admittedRtmp.set(where, a.requestId);
              if (admittedRtmp.size > ADMITTED_RTMP_MAX) admittedRtmp.delete(admittedRtmp.keys().next().value as string);
              return d;
            },
            log,
            onRefused: (reason, code) => {
              counted.report(fault(code ?? 'RTMP_REFUSED', reason));
              deps.metrics?.refused('rtmp', reason);
            },
          },
          { idleTimeoutMs: config.idleTimeoutMs, ...config.rtmp, app: 'live' },
        );
        rtmp.on('session', (s) => {
          const where = `${s.peer.address}:${s.peer.port}`;
          const requestId = admittedRtmp.get(where);
          admittedRtmp.delete(where);
          attach(s.channel ?? '', rtmpSource(s), requestId, s.role);
        });
        await rtmp.start();
      }
    },

    async close() {
      closing = true;
      if (refreshTimer) clearInterval(refreshTimer);
      for (const t of reconnectTimers.values()) clearTimeout(t);
      reconnectTimers.clear();
      if (redundancyTimer) clearInterval(redundancyTimer);
      const sessions = [...active.values(), ...backups.values()];
      for (const s of sessions) s.close(fault('INGEST_SHUTDOWN'));
      await Promise.allSettled(sessions.map((s) => s.done));
      await Promise.allSettled([srt?.close(), rtmp?.close()]);
      await unsubscribe?.().catch(() => undefined);
    },

    srtPort: () => (srt ? srt.port : null),
    rtmpPort: () => (rtmp ? rtmp.port : null),
    sessions: () => (['primary', 'backup'] as const).flatMap((role) => [...sessionsOf(role).values()].map((s) => ({ channel: s.channel, protocol: s.protocol, role, onAir: s.onAir(), diagnostics: s.diagnostics() }))),
  };
}
