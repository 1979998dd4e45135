/**
 * The ingest role: the SRT and RTMP listeners, an in-memory channel registry kept current from Redis
 * (the SRT listen callback must decide synchronously), one publish session per channel (a new
 * connection with the channel's key replaces a stale one), channel state and the reconnect window.
 */

import type { Channel } from '../engine/model/channel';
import type { Store } from '../engine/store/store';
import type { LiveStore } from '../engine/store/live-store';
import type { ChannelStore } from '../engine/store/channel-store';
import type { RedisClient } from '../engine/store/redis-connection';
import { parseStreamId } from './streamid';
import { createSrtServer, type SrtDecision, type SrtServer, type SrtSession } from './srt/srt-server';
import { createRtmpServer, type RtmpServer, type RtmpServerConfig } from './rtmp/rtmp-server';
import type { RtmpDecision } from './rtmp/rtmp-connection';
import type { RtmpSession } from './rtmp/rtmp-session';
import { DEFAULT_SESSION_CONFIG, startPublishSession, type PublishSession, type PublishSessionConfig, type PublishSource, type SessionLog } from './publish-session';
import type { IngestMetrics } from './ingest-metrics';
import type { IngestDiagnostics } from './ingest-stats';

/** SRT access-control reject codes (srt/access_control.h). */
export const SRT_REJX = { BAD_REQUEST: 1400, UNAUTHORIZED: 1401, FORBIDDEN: 1403, NOT_FOUND: 1404, BAD_MODE: 1405 } as const;

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
}

export interface IngestServiceConfig {
  srt: { host: string; port: number; latencyMs?: number } | null;
  /** RTMP listener; the limits default to the server's (rtmp-server.ts, rtmp-limits.ts). */
  rtmp: (Pick<RtmpServerConfig, 'host' | 'port'> & Partial<Pick<RtmpServerConfig, 'maxConnections' | 'maxConnectionsPerAddress' | 'publishTimeoutMs' | 'maxMessageBytes'>>) | null;
  idleTimeoutMs: number;
  session: PublishSessionConfig;
  /** Full reload of the registry, as a safety net beside change notifications. */
  refreshMs: number;
}

/**
 * refreshMs: pub/sub carries channel changes at once, but a notification can be lost (seen intermittently in
 * CI: a subscriber connection that errored stayed deaf), so the registry is also reloaded in full this often
 * (one SMEMBERS and one pipelined GET) and a new key is accepted within that time whatever pub/sub did.
 */
export const DEFAULT_INGEST_CONFIG: Omit<IngestServiceConfig, 'srt' | 'rtmp'> = { idleTimeoutMs: 10000, session: DEFAULT_SESSION_CONFIG, refreshMs: 2000 };

export interface IngestService {
  start(): Promise<void>;
  close(): Promise<void>;
  srtPort(): number | null;
  rtmpPort(): number | null;
  sessions(): { channel: string; protocol: string; diagnostics: IngestDiagnostics | null }[];
  /** Whether this process's registry already accepts the stream key (it learns of new keys over pub/sub). */
  knows(streamKey: string): boolean;
}

/** Pure: decide an SRT caller from its streamid against the channel registry. */
export function decideSrt(streamId: string, byKey: ReadonlyMap<string, Channel>): SrtDecision {
  const parsed = parseStreamId(streamId);
  if (!parsed.ok) return { accept: false, code: SRT_REJX.BAD_REQUEST, reason: parsed.reason };
  if (parsed.mode !== 'publish') return { accept: false, code: SRT_REJX.BAD_MODE, reason: 'playback over SRT (m=request) is not offered: play the HLS or DASH URL' };
  const ch = byKey.get(parsed.key);
  if (!ch) return { accept: false, code: SRT_REJX.FORBIDDEN, reason: 'unknown stream key' };
  if (parsed.channel !== undefined && parsed.channel !== ch.name && parsed.channel !== parsed.key) {
    return { accept: false, code: SRT_REJX.FORBIDDEN, reason: `the key does not belong to channel '${parsed.channel}'` };
  }
  return ch.passphrase ? { accept: true, passphrase: ch.passphrase, context: ch.name } : { accept: true, context: ch.name };
}

/** Pure: decide an RTMP publish. */
export function decideRtmp(app: string, streamKey: string, byKey: ReadonlyMap<string, Channel>): RtmpDecision {
  if (app !== 'live') return { ok: false, reason: `unknown application '${app}': publish to rtmp://<host>:<port>/live` };
  const ch = byKey.get(streamKey);
  return ch ? { ok: true, channel: ch.name } : { ok: false, reason: 'unknown stream key' };
}

export function createIngestService(deps: IngestServiceDeps, config: IngestServiceConfig): IngestService {
  const { log, channels } = deps;
  let byKey = new Map<string, Channel>();
  let byName = new Map<string, Channel>();
  const active = new Map<string, PublishSession>();
  const reconnectTimers = new Map<string, NodeJS.Timeout>();
  let srt: SrtServer | null = null;
  let rtmp: RtmpServer | null = null;
  let unsubscribe: (() => Promise<void>) | null = null;
  let refreshTimer: NodeJS.Timeout | null = null;
  let closing = false;
  let missReload: NodeJS.Timeout | null = null;

  /** An unknown key may be a channel created a moment ago: reload soon, so the encoder's retry gets in. */
  function reloadSoon(): void {
    if (missReload || closing) return;
    missReload = setTimeout(() => {
      missReload = null;
      reload().catch((err: Error) => log.warn({ err: err.message }, 'channel registry reload failed'));
    }, 200);
    missReload.unref();
  }

  async function reload(): Promise<void> {
    const list = await channels.list();
    byKey = new Map(list.map((c) => [c.streamKey, c]));
    byName = new Map(list.map((c) => [c.name, c]));
  }

  async function reloadOne(name: string): Promise<void> {
    const ch = await channels.get(name);
    const before = byName.get(name);
    if (before) byKey.delete(before.streamKey);
    if (ch) {
      byName.set(name, ch);
      byKey.set(ch.streamKey, ch);
    } else {
      byName.delete(name);
      active.get(name)?.close('the channel was deleted');
    }
  }

  function attach(channelName: string, source: PublishSource): void {
    const ch = byName.get(channelName);
    if (!ch || closing) {
      source.close(closing ? 'server shutting down' : 'unknown channel');
      return;
    }
    const previous = active.get(ch.name);
    if (previous) {
      log.info({ channel: ch.name }, 'a new publisher replaces the current one');
      previous.close('replaced by a new connection with the same key');
    }
    const timer = reconnectTimers.get(ch.name);
    deps.metrics?.connected(ch.name, source.protocol, Boolean(timer || previous));
    if (timer) clearTimeout(timer);
    reconnectTimers.delete(ch.name);
    const session = startPublishSession(
      {
        store: deps.store, live: deps.live, channels, log, onStats: deps.metrics?.stats,
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
    void channels.setState(ch.name, 'live', { connected: true });
    log.info({ channel: ch.name, protocol: source.protocol, peer: source.peer }, 'publisher connected');
    void session.done.then((reason) => {
      log.info({ channel: ch.name, reason }, 'publisher disconnected');
      if (active.get(ch.name) !== session) return;
      active.delete(ch.name);
      if (closing) {
        void channels.setState(ch.name, 'idle', { disconnected: true, reason });
        return;
      }
      void channels.setState(ch.name, ch.reconnectWindowSeconds > 0 ? 'reconnecting' : 'idle', { disconnected: true, reason });
      if (ch.reconnectWindowSeconds > 0) {
        const t = setTimeout(() => {
          reconnectTimers.delete(ch.name);
          if (!active.has(ch.name)) void channels.setState(ch.name, 'idle');
        }, ch.reconnectWindowSeconds * 1000);
        t.unref();
        reconnectTimers.set(ch.name, t);
      }
    });
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

  return {
    async start() {
      await reload();
      deps.subscriber.on('error', (err: Error) => log.warn({ err: err.message }, 'channel change subscription error; the periodic reload still applies changes'));
      unsubscribe = await channels.onChange(deps.subscriber, (name) => {
        reloadOne(name).catch((err: Error) => log.warn({ channel: name, err: err.message }, 'channel reload failed'));
      });
      refreshTimer = setInterval(() => void reload().catch((err: Error) => log.warn({ err: err.message }, 'channel registry refresh failed')), config.refreshMs);
      refreshTimer.unref();
      if (config.srt) {
        srt = createSrtServer(
          {
            authorize: (streamId, peer) => {
              const d = decideSrt(streamId, byKey);
              if (!d.accept) {
                log.warn({ peer: `${peer.address}:${peer.port}`, reason: d.reason }, 'SRT caller refused');
                deps.metrics?.refused('srt', d.reason);
                if (d.code === SRT_REJX.FORBIDDEN) reloadSoon();
              }
              return d;
            },
            log,
          },
          { host: config.srt.host, port: config.srt.port, latencyMs: config.srt.latencyMs, idleTimeoutMs: config.idleTimeoutMs },
        );
        srt.on('session', (s) => attach(String(s.context), srtSource(s)));
        await srt.start();
      }
      if (config.rtmp) {
        rtmp = createRtmpServer(
          {
            authorize: (app, key, peer) => {
              const d = decideRtmp(app, key, byKey);
              if (!d.ok) {
                log.warn({ peer: `${peer.address}:${peer.port}`, reason: d.reason }, 'RTMP publisher refused');
                deps.metrics?.refused('rtmp', d.reason ?? 'refused');
                reloadSoon();
              }
              return d;
            },
            log,
            onRefused: (reason) => deps.metrics?.refused('rtmp', reason),
          },
          { idleTimeoutMs: config.idleTimeoutMs, ...config.rtmp, app: 'live' },
        );
        rtmp.on('session', (s) => attach(s.channel ?? '', rtmpSource(s)));
        await rtmp.start();
      }
    },

    async close() {
      closing = true;
      if (refreshTimer) clearInterval(refreshTimer);
      if (missReload) clearTimeout(missReload);
      for (const t of reconnectTimers.values()) clearTimeout(t);
      reconnectTimers.clear();
      const sessions = [...active.values()];
      for (const s of sessions) s.close('server shutting down');
      await Promise.allSettled(sessions.map((s) => s.done));
      await Promise.allSettled([srt?.close(), rtmp?.close()]);
      await unsubscribe?.().catch(() => undefined);
    },

    srtPort: () => (srt ? srt.port : null),
    rtmpPort: () => (rtmp ? rtmp.port : null),
    sessions: () => [...active.values()].map((s) => ({ channel: s.channel, protocol: s.protocol, diagnostics: s.diagnostics() })),
    knows: (streamKey) => byKey.has(streamKey),
  };
}
