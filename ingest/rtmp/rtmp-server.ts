/**
 * The RTMP listener: one TCP port, many publishers, routed by stream key (or by the channel the
 * authorizer names). A new publish on a live route replaces the stale session. Emits `session` for every
 * accepted publish; each session streams FLV bytes for beamcoder's `flv` demuxer. Connections are limited
 * per address and in total; what a connection may send before its publish is accepted is small
 * (rtmp-limits.ts).
 *
 *   const rtmp = createRtmpServer({ authorize }, { host: '0.0.0.0', port: 1935 });
 *   rtmp.on('session', (s) => s.on('data', (flv) => demuxer.write(flv)));
 *   await rtmp.start();
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { createServer, type Server, type Socket } from 'node:net';
import { fault, logFields, type PipelineErrorCode } from '../../core/model/pipeline-errors';
import {
  type ConnectionHost, type ConnectionSettings, handleConnection, normalizeApp, type RtmpConnection,
  type RtmpDecision,
} from './rtmp-connection';
import { addressBucket, admitConnection, PRE_AUTH_LIMITS, publishedLimits, type ReaderLimits } from './rtmp-limits';
import type { PublishSession, RtmpLogger, RtmpPeer, RtmpSession } from './rtmp-session';
import { createEmitter, type Listener } from './typed-emitter';

export type { RtmpDecision, RtmpAuthorize } from './rtmp-connection';
export type {
  RtmpCloseReason, RtmpLogger, RtmpPeer, RtmpSession, RtmpSessionEvents, RtmpSessionStats,
} from './rtmp-session';

export interface RtmpServerDeps {
  /** Decides whether `streamKey` may publish on `app`; may be async (a store lookup). */
  /** `query`: the publish parameters (rtmp-commands.ts publishQuery), e.g. `role=backup`. */
  authorize(app: string, streamKey: string, peer: RtmpPeer, query: string): RtmpDecision | Promise<RtmpDecision>;
  log?: RtmpLogger;
  /**
   * A connection refused before any publish: over a connection limit, a pre-publish limit or protocol
   * violation, a wrong application, or no publish in time (`reason` is the log text, without any key). For a
   * metric; a key `authorize` refused is not reported here again. `code`: RTMP_PROTOCOL for a protocol
   * violation, else RTMP_REFUSED (already logged here, with the peer).
   */
  onRefused?(reason: string, code: PipelineErrorCode): void;
}

export interface RtmpServerConfig {
  host: string;
  /** 0 picks a free port (read it back from `port` after start). */
  port: number;
  /** Application name in `rtmp://host:port/<app>` (default `live`). */
  app?: string;
  /** Closes a publisher that sends no media for this long (default 10000). */
  idleTimeoutMs?: number;
  /** Handshake + connect + publish must be done within this long of the TCP accept (default idleTimeoutMs). */
  publishTimeoutMs?: number;
  /** Largest RTMP message accepted once publishing (default 8 MiB; the protocol allows 16 MiB). */
  maxMessageBytes?: number;
  /** Most simultaneous TCP connections (default 1000); more are closed at once. */
  maxConnections?: number;
  /** Most simultaneous TCP connections from one IPv4 address or IPv6 /64 (default 8). */
  maxConnectionsPerAddress?: number;
  /** Limits until a publish is accepted (default PRE_AUTH_LIMITS); for tests and special deployments. */
  preAuth?: Partial<Omit<ReaderLimits, 'emptyMessages'>>;
  /** Outgoing chunk size announced after connect (default 4096). */
  chunkSize?: number;
  /** Window acknowledgement size and peer bandwidth announced after connect (default 2500000). */
  windowAckSize?: number;
}

export type RtmpServerEvents = {
  session: [session: RtmpSession];
};

export interface RtmpServer {
  start(): Promise<void>;
  close(): Promise<void>;
  /** The bound port (the actual one when configured as 0); 0 before start. */
  readonly port: number;
  /** Live publish sessions. */
  sessions(): RtmpSession[];
  on<K extends keyof RtmpServerEvents>(event: K, fn: Listener<RtmpServerEvents[K]>): void;
  off<K extends keyof RtmpServerEvents>(event: K, fn: Listener<RtmpServerEvents[K]>): void;
}

const SILENT: RtmpLogger = { info() {}, warn() {} };

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`rtmp config: ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

export type RtmpSettings = ConnectionSettings & { maxMessageBytes: number; maxConnections: number; maxConnectionsPerAddress: number };

export function resolveRtmpSettings(config: RtmpServerConfig): RtmpSettings {
  const app = normalizeApp(config.app ?? 'live');
  if (app === '' || /[\s?#]/.test(app)) throw new RangeError(`rtmp config: app must be a plain name, got '${config.app}'`);
  const idleTimeoutMs = checkInt('idleTimeoutMs', config.idleTimeoutMs ?? 10_000, 100, 3_600_000);
  const maxMessageBytes = checkInt('maxMessageBytes', config.maxMessageBytes ?? 8 * 1024 * 1024, 4096, 0xffffff);
  const pre = config.preAuth ?? {};
  const preAuth: ReaderLimits = {
    maxMessageBytes: checkInt('preAuth.maxMessageBytes', pre.maxMessageBytes ?? PRE_AUTH_LIMITS.maxMessageBytes, 512, 0xffffff),
    maxPartialMessages: checkInt('preAuth.maxPartialMessages', pre.maxPartialMessages ?? PRE_AUTH_LIMITS.maxPartialMessages, 1, 64),
    maxBufferedBytes: checkInt('preAuth.maxBufferedBytes', pre.maxBufferedBytes ?? PRE_AUTH_LIMITS.maxBufferedBytes, 512, 0x7fffffff),
    maxMessages: checkInt('preAuth.maxMessages', pre.maxMessages ?? PRE_AUTH_LIMITS.maxMessages, 8, 1_000_000),
    maxBytes: checkInt('preAuth.maxBytes', pre.maxBytes ?? PRE_AUTH_LIMITS.maxBytes, 4096, 0x7fffffff),
    emptyMessages: 'refuse',
  };
  return {
    app,
    idleTimeoutMs,
    publishTimeoutMs: checkInt('publishTimeoutMs', config.publishTimeoutMs ?? idleTimeoutMs, 100, 3_600_000),
    maxMessageBytes,
    preAuth,
    published: publishedLimits(maxMessageBytes),
    outChunkSize: checkInt('chunkSize', config.chunkSize ?? 4096, 128, 65536),
    windowAckSize: checkInt('windowAckSize', config.windowAckSize ?? 2_500_000, 4096, 0x7fffffff),
    maxStreamsPerConnection: 8,
    maxConnections: checkInt('maxConnections', config.maxConnections ?? 1000, 1, 1_000_000),
    maxConnectionsPerAddress: checkInt('maxConnectionsPerAddress', config.maxConnectionsPerAddress ?? 8, 1, 1_000_000),
  };
}

export function createRtmpServer(deps: RtmpServerDeps, config: RtmpServerConfig): RtmpServer {
  checkInt('port', config.port, 0, 65535);
  const settings = resolveRtmpSettings(config);
  const log = deps.log ?? SILENT;
  const events = createEmitter<RtmpServerEvents>((event, err) => {
    log.warn({ event, err: String(err) }, 'rtmp server listener threw');
  });
  const live = new Map<string, PublishSession>();
  const connections = new Set<RtmpConnection>();
  /** Open connections per address bucket (addressBucket). */
  const perBucket = new Map<string, number>();
  const refused = (reason: string, code: PipelineErrorCode): void => {
    try {
      deps.onRefused?.(reason, code);
    } catch (err) {
      log.warn({ err: String(err) }, 'rtmp onRefused threw');
    }
  };
  let server: Server | null = null;
  let port = 0;
  let counter = 0;

  const host: ConnectionHost = {
    settings,
    log,
    authorize: (app, key, peer, query) => deps.authorize(app, key, peer, query),
    nextSessionId: () => `rtmp-${++counter}`,
    attach(session) {
      const stale = live.get(session.route);
      if (stale && !stale.closed) {
        log.info({ channel: session.channel, stale: stale.id, by: session.id }, 'rtmp publish replaces a live session');
        stale.terminate('replaced', `replaced by a new publish from ${session.peer.address}:${session.peer.port}`);
      }
      live.set(session.route, session);
      events.emit('session', session);
    },
    detach(session) {
      if (live.get(session.route) === session) live.delete(session.route);
    },
    closed(conn) {
      if (!connections.delete(conn)) return;
      const bucket = addressBucket(conn.peer.address);
      const n = (perBucket.get(bucket) ?? 1) - 1;
      if (n > 0) perBucket.set(bucket, n);
      else perBucket.delete(bucket);
    },
    refused,
  };

  function onSocket(socket: Socket): void {
    const bucket = addressBucket(socket.remoteAddress ?? '?');
    const fromBucket = perBucket.get(bucket) ?? 0;
    const no = admitConnection(settings, { total: connections.size, fromBucket });
    if (no !== null) {
      log.warn({ peer: socket.remoteAddress, open: connections.size, fromAddress: fromBucket, ...logFields(fault('RTMP_REFUSED', no)) }, `rtmp connection refused: ${no}`);
      refused(no, 'RTMP_REFUSED');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    perBucket.set(bucket, fromBucket + 1);
    connections.add(handleConnection(socket, host));
  }

  async function start(): Promise<void> {
    if (server) throw new Error('rtmp server already started');
    const s = createServer(onSocket);
    server = s;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        server = null;
        reject(new Error(`rtmp server cannot listen on ${config.host}:${config.port}: ${err.message}`));
      };
      s.once('error', fail);
      s.listen(config.port, config.host, () => {
        s.off('error', fail);
        s.on('error', (err) => log.warn({ err: err.message }, 'rtmp server error'));
        const addr = s.address();
        port = addr !== null && typeof addr === 'object' ? addr.port : config.port;
        log.info({ host: config.host, port, app: settings.app }, 'rtmp server listening');
        resolve();
      });
    });
  }

  async function close(): Promise<void> {
    const s = server;
    server = null;
    for (const conn of [...connections]) conn.destroy('shutdown', 'the server is shutting down');
    connections.clear();
    perBucket.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    port = 0;
  }

  return {
    start,
    close,
    get port() { return port; },
    sessions: () => [...live.values()],
    on: (event, fn) => events.on(event, fn),
    off: (event, fn) => events.off(event, fn),
  };
}
