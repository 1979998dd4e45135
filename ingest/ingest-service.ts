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
import { parseStreamId } from './streamid';
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
}

/**
 * refreshMs: changes made in this process apply before the API answers, other processes' over pub/sub (re-
 * subscribed, and followed by a full reload, after every reconnect); the registry is also reloaded in full
 * this often (one SMEMBERS and one pipelined GET) as a safety net, and channel status writes Redis refused
 * are retried on the same beat.
 */
export const DEFAULT_INGEST_CONFIG: Omit<IngestServiceConfig, 'srt' | 'rtmp'> = { idleTimeoutMs: 10000, session: DEFAULT_SESSION_CONFIG, refreshMs: 2000 };

export interface IngestService {
  start(): Promise<void>;
  close(): Promise<void>;
  srtPort(): number | null;
  rtmpPort(): number | null;
  sessions(): { channel: string; protocol: string; diagnostics: IngestDiagnostics | null }[];
  /** Publishers that reach Beamline over HTTP (WHIP): the key check, admission and publish sessions. */
  intake: PublishIntake;
}

/** Pure: a WHIP bearer token against the channel's stream key (constant time). */
export function keyMatches(given: string, streamKey: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(streamKey);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Pure: decide an RTMP publish. */
export function decideRtmp(app: string, streamKey: string, byKey: ReadonlyMap<string, Channel>): RtmpDecision {
  if (app !== 'live') return { ok: false, reason: `unknown application '${app}': publish to rtmp://<host>:<port>/live` };
  const ch = byKey.get(streamKey);
  return ch ? { ok: true, channel: ch.name } : { ok: false, reason: 'unknown stream key' };
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
  const active = new Map<string, PublishSession>();
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
  /** SRT callers whose admission is being asked, one per channel (a newer caller replaces the waiting one). */
  const admittingSrt = new Map<string, SrtSession>();
  /** Request ids of RTMP publishes the webhooks admitted, until their session attaches (the oldest go first). */
  const admittedRtmp = new Map<string, string>();

  function storeFailed(err: unknown, what: string, channel?: string): void {
    const f = classifyStoreError(err);
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
    if (active.has(ch.name) || !byName.has(ch.name)) return;
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
    } else {
      byName.delete(name);
      srt?.deleteReadable(name);
      pendingStatus.delete(name);
      wantedStatus.delete(name);
      const timer = reconnectTimers.get(name);
      if (timer) clearTimeout(timer);
      reconnectTimers.delete(name);
      if (session) {
        deleted.add(session);
        session.close(fault('INGEST_CHANNEL_DELETED'), { discard: true });
      }
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
   * died: once its lease expired (and long enough after it went live that no starting session is waiting
   * for the lease), one process takes the lease, closes the segment left open at its last part, marks the
   * channel idle with why, and releases.
   */
  let sweeping = false;
  async function sweepOrphans(): Promise<void> {
    if (sweeping || closing) return;
    sweeping = true;
    try {
      const names = [...byName.keys()].filter((n) => !active.has(n));
      if (names.length === 0) return;
      const statuses = await channels.statuses(names);
      const quiet = config.session.streamsTimeoutMs + 2 * config.session.leaseTtlMs;
      for (const [i, name] of names.entries()) {
        const st = statuses[i];
        const ch = byName.get(name);
        if (!st || !ch || st.state !== 'live' || Date.now() - Date.parse(st.since) < quiet) continue;
        if ((await deps.live.leaseHolder(name)) !== null) continue;
        const holder = newHolderId('sweep');
        if (!(await deps.live.acquireLease(name, holder, config.session.leaseTtlMs))) continue;
        try {
          if (active.has(name)) continue;
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

  /** `requestId`: the admitted publish's (a new one when no webhook was asked). */
  function attach(channelName: string, source: PublishSource, requestId: string = randomUUID()): void {
    const ch = byName.get(channelName);
    if (!ch || closing) {
      const refused = fault(closing ? 'INGEST_SHUTDOWN' : 'INGEST_UNKNOWN_CHANNEL');
      faults.report(refused, { channel: channelName || undefined, protocol: source.protocol, peer: source.peer });
      source.close(refused.message);
      return;
    }
    const previous = active.get(ch.name);
    if (previous) {
      log.info({ channel: ch.name }, 'a new publisher replaces the current one');
      previous.close(fault('INGEST_REPLACED'));
    }
    const timer = reconnectTimers.get(ch.name);
    /** The channel was on air already (a replaced publisher, or one back within the reconnect window). */
    const onAir = Boolean(timer || previous);
    deps.metrics?.connected(ch.name, source.protocol, onAir);
    if (timer) clearTimeout(timer);
    reconnectTimers.delete(ch.name);
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
      previous?.done,
    );
    active.set(ch.name, session);
    setStatus(ch.name, 'live', { connected: true });
    log.info({ channel: ch.name, protocol: source.protocol, peer: source.peer }, 'publisher connected');
    const peer = peerAddress(source.peer);
    webhooks?.notify({ event: 'publisher.connected', channel: ch.name, requestId, protocol: source.protocol, peer }, ch.webhook);
    if (!onAir) webhooks?.notify({ event: 'channel.live', channel: ch.name, requestId, protocol: source.protocol }, ch.webhook);
    session.done.then((reason) => {
      faults.report(reason, { channel: ch.name, protocol: source.protocol, peer: source.peer });
      const hook = (byName.get(ch.name) ?? ch).webhook;
      webhooks?.notify({ event: 'publisher.disconnected', channel: ch.name, requestId, protocol: source.protocol, peer, reason: reason.message, code: reason.code }, hook);
      if (active.get(ch.name) !== session) return;
      active.delete(ch.name);
      if (deleted.has(session)) return; // the channel is gone: its status with it
      // Another ingest process holds the channel (it took over, or held it all along): the status is its own.
      if (OTHER_PROCESS_OWNS.has(reason.code)) return;
      if (closing || ch.reconnectWindowSeconds === 0) {
        goIdle(ch, disconnectExtra(reason));
        return;
      }
      setStatus(ch.name, 'reconnecting', disconnectExtra(reason));
      const t = setTimeout(() => {
        reconnectTimers.delete(ch.name);
        if (!active.has(ch.name) && byName.has(ch.name)) goIdle(ch, {}, disconnectExtra(reason));
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
          if (!ch || !webhooks?.admits(ch.webhook)) {
            attach(s.channel, srtSource(s));
            return;
          }
          // The gate accepted the caller; the webhooks decide now, while what it sends is held. One caller per
          // channel waits at a time (as one publishes at a time): a newer one replaces it, so holding is bounded.
          const peer = `${s.peer.address}:${s.peer.port}`;
          const waiting = admittingSrt.get(ch.name);
          if (waiting) {
            log.info({ channel: ch.name }, 'a new SRT caller replaces the one whose admission is being asked');
            waiting.close(fault('INGEST_REPLACED').message);
          }
          admittingSrt.set(ch.name, s);
          const held = holdSource(srtSource(s));
          webhooks.admit({ channel: ch.name, protocol: 'srt', peer: s.peer }, ch.webhook).then(
            (d) => {
              const replaced = admittingSrt.get(ch.name) !== s;
              if (!replaced) admittingSrt.delete(ch.name);
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
              attach(s.channel, held.source, d.requestId);
            },
            (err: unknown) => {
              if (admittingSrt.get(ch.name) === s) admittingSrt.delete(ch.name);
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
            authorize: async (app, key, peer) => {
              let d = decideRtmp(app, key, byKey);
              if (!d.ok && app === 'live' && key.length > 0 && key.length <= 256) {
                // A miss may be a channel another process created a moment ago: ask Redis once.
                const name = await channels.byKey(key).catch((err: unknown) => {
                  storeFailed(err, 'stream key lookup failed');
                  return null;
                });
                if (name) {
                  await reloadOne(name).catch((err: unknown) => storeFailed(err, 'channel reload failed', name));
                  d = decideRtmp(app, key, byKey);
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
          attach(s.channel ?? '', rtmpSource(s), requestId);
        });
        await rtmp.start();
      }
    },

    async close() {
      closing = true;
      if (refreshTimer) clearInterval(refreshTimer);
      for (const t of reconnectTimers.values()) clearTimeout(t);
      reconnectTimers.clear();
      const sessions = [...active.values()];
      for (const s of sessions) s.close(fault('INGEST_SHUTDOWN'));
      await Promise.allSettled(sessions.map((s) => s.done));
      await Promise.allSettled([srt?.close(), rtmp?.close()]);
      await unsubscribe?.().catch(() => undefined);
    },

    srtPort: () => (srt ? srt.port : null),
    rtmpPort: () => (rtmp ? rtmp.port : null),
    sessions: () => [...active.values()].map((s) => ({ channel: s.channel, protocol: s.protocol, diagnostics: s.diagnostics() })),
  };
}
