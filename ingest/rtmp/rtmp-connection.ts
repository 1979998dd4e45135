/**
 * One TCP connection of the RTMP server: its lifecycle (the publish and idle deadlines, refusal, close),
 * wiring the pieces that do the work — the handshake and chunk intake (rtmp-intake.ts), the routing of each
 * message (rtmp-routing.ts), the NetConnection/NetStream commands (rtmp-commands.ts) — and the hand-off of
 * media to its publish session. Every error closes this socket only.
 *
 * Until a publish is accepted the chunk reader runs under the small pre-auth limits (rtmp-limits.ts) and
 * stops after each command, so the limits switch exactly at the accepted `publish`, and back when the
 * publish ends. Log lines name the channel, never the stream key.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { fault, logFields, type PipelineErrorCode, type PipelineFault } from '../../core/model/pipeline-errors';
import { createChunkWriter } from './chunk-writer';
import { createHandshake, HANDSHAKE_SIZE } from './handshake';
import { type RtmpMessage, USER_CONTROL, userControlMessage } from './messages';
import { createCommandHandler, type RtmpAuthorize } from './rtmp-commands';
import { createIntake } from './rtmp-intake';
import { idleVerdict, type ReaderLimits } from './rtmp-limits';
import { routeMessage } from './rtmp-routing';
import type { PublishSession, RtmpCloseReason, RtmpLogger, RtmpPeer } from './rtmp-session';

export { normalizeApp, type RtmpAuthorize, type RtmpDecision } from './rtmp-commands';

export interface ConnectionSettings {
  app: string;
  idleTimeoutMs: number;
  /** Handshake + connect + publish must be done this long after accept (and after a publish ended). */
  publishTimeoutMs: number;
  preAuth: ReaderLimits;
  published: ReaderLimits;
  outChunkSize: number;
  windowAckSize: number;
  maxStreamsPerConnection: number;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  settings: ConnectionSettings;
  log: RtmpLogger;
  authorize: RtmpAuthorize;
  nextSessionId(): string;
  /** Registers a newly published session (replacing a live one on the same route). */
  attach(session: PublishSession): void;
  /** Forgets a session that ended. */
  detach(session: PublishSession): void;
  /** Forgets this connection once its socket closed. */
  closed(conn: RtmpConnection): void;
  /** A connection closed before any publish was accepted, for a violation or timeout (`detail` has no key). */
  refused(detail: string, code: PipelineErrorCode): void;
}

export interface RtmpConnection {
  readonly peer: RtmpPeer;
  /** Ends the session (if any) with `reason` and destroys the socket. */
  destroy(reason: RtmpCloseReason, detail: string): void;
}

const LINGER_MS = 1000;

/** Pure: the fault of a connection closed while no publish runs on it (`published`: one ran before). */
export function connectionCloseFault(reason: RtmpCloseReason, detail: string, published: boolean): PipelineFault {
  if (reason === 'protocol-error') return fault('RTMP_PROTOCOL', detail);
  if (reason === 'idle') return fault(published ? 'INGEST_IDLE' : 'RTMP_REFUSED', detail);
  if (reason === 'shutdown') return fault('INGEST_SHUTDOWN', detail);
  return fault('INGEST_ENDED', detail);
}

export function handleConnection(socket: Socket, host: ConnectionHost): RtmpConnection {
  const { settings, log } = host;
  const peer: RtmpPeer = { address: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
  const writer = createChunkWriter();
  let session: PublishSession | null = null;
  /** Whether a publish was ever accepted here (closing after one is not a refusal). */
  let published = false;
  let finished = false;
  /** Before a publish starts (and after it ends): the socket must publish by this time. */
  let deadline = Date.now() + settings.publishTimeoutMs;
  let draining = false;
  let timer: NodeJS.Timeout | null = null;

  const conn: RtmpConnection = { peer, destroy };

  function send(msg: RtmpMessage): void {
    if (!socket.destroyed && socket.writable) socket.write(writer.write(msg));
  }

  const intake = createIntake({
    handshake: createHandshake({ random: randomBytes(HANDSHAKE_SIZE - 8), time: Math.floor(process.uptime() * 1000) }),
    limits: settings.preAuth,
    write: (bytes) => socket.write(bytes),
    send,
  });

  const commands = createCommandHandler({
    settings, log, peer, authorize: host.authorize, nextSessionId: host.nextSessionId, send,
    setOutChunkSize: (size) => writer.setChunkSize(size),
    finished: () => finished,
    session: () => session,
    adopt(s) {
      session = s;
      published = true;
      intake.setLimits(settings.published);
    },
    attach: (s) => host.attach(s),
    endSession, refuse, destroy,
  });

  function endSession(reason: RtmpCloseReason, detail: string): void {
    if (!session) return;
    const s = session;
    session = null;
    deadline = Date.now() + settings.publishTimeoutMs;
    intake.setLimits(settings.preAuth);
    s.end(reason, detail);
    host.detach(s);
  }

  function stopTimer(): void {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function destroy(reason: RtmpCloseReason, detail: string): void {
    if (finished) {
      socket.destroy(); // a refused socket still lingering: close it now
      return;
    }
    finished = true;
    if (session === null && reason !== 'disconnected') {
      const f = connectionCloseFault(reason, detail, published);
      log.info({ peer, ...logFields(f), detail }, 'rtmp connection closed');
      if (!published && (reason === 'protocol-error' || reason === 'idle')) host.refused(detail, f.code);
    }
    endSession(reason, detail);
    stopTimer();
    socket.destroy();
  }

  /** Sends what is queued, then closes (lets the client read a rejection). `counted`: the authorizer already reported this refusal. */
  function refuse(detail: string, counted = false): void {
    if (finished) return;
    log.warn({ peer, app: commands.app(), ...logFields(fault('RTMP_REFUSED', detail)) }, detail);
    if (!counted && !published) host.refused(detail, 'RTMP_REFUSED');
    endSession('closed', detail);
    finished = true;
    stopTimer();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  function armIdle(): void {
    const media = session ? session.stats() : null;
    const v = idleVerdict(settings, { media, publishBy: deadline }, Date.now());
    if ('expired' in v) {
      destroy('idle', v.expired);
      return;
    }
    timer = setTimeout(armIdle, v.waitMs);
    timer.unref();
  }

  function handle(msg: RtmpMessage): void | Promise<void> {
    const route = routeMessage(msg, session ? session.streamId : null);
    if (route.kind === 'media') session?.media(route.typeId, route.timestamp, route.payload);
    else if (route.kind === 'command') return commands.handle(msg.streamId, route.body);
    else if (route.kind === 'pong') send(userControlMessage(USER_CONTROL.pingResponse, route.value));
  }

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (!finished) {
        const msg = intake.next();
        if (!msg) break;
        const pending = handle(msg);
        if (pending) {
          socket.pause();
          await pending;
          if (!finished) socket.resume();
        }
      }
    } catch (err) {
      destroy('protocol-error', err instanceof Error ? err.message : String(err));
    } finally {
      draining = false;
    }
  }

  function onData(input: Buffer): void {
    if (finished) return;
    try {
      if (!intake.push(input)) return;
    } catch (err) {
      destroy('protocol-error', err instanceof Error ? err.message : String(err));
      return;
    }
    if (!draining) void drain();
  }

  socket.setNoDelay(true);
  socket.on('data', onData);
  socket.on('error', (err) => log.info({ peer, err: err.message }, 'rtmp socket error'));
  socket.on('close', () => {
    destroy('disconnected', 'the publisher closed the connection');
    host.closed(conn);
  });
  armIdle();
  return conn;
}
