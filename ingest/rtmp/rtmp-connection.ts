/**
 * One TCP connection of the RTMP server: handshake, chunk stream, NetConnection/NetStream commands for
 * publishing, protocol control replies, the publish and idle deadlines, and the hand-off of media to its
 * publish session. Every error closes this socket only.
 *
 * Until a publish is accepted the chunk reader runs under the small pre-auth limits (rtmp-limits.ts) and
 * stops after each command, so the limits switch exactly at the accepted `publish`, and back when the
 * publish ends. Log lines name the channel, never the stream key.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type Amf0Object, type Amf0Value, decodeAmf0 } from './amf0';
import { createChunkReader, type ChunkReader, type ChunkReadResult } from './chunk-reader';
import { createChunkWriter } from './chunk-writer';
import { createHandshake, HANDSHAKE_SIZE } from './handshake';
import {
  acknowledgementMessage, commandMessage, MSG, parseUserControl, type RtmpMessage, setChunkSizeMessage,
  setPeerBandwidthMessage, USER_CONTROL, userControlMessage, windowAckSizeMessage,
} from './messages';
import type { ReaderLimits } from './rtmp-limits';
import {
  createPublishSession, type PublishSession, type RtmpCloseReason, type RtmpLogger, type RtmpPeer,
} from './rtmp-session';

export type RtmpDecision = { ok: true; channel?: string } | { ok: false; reason?: string };

export type RtmpAuthorize = (app: string, streamKey: string, peer: RtmpPeer) => RtmpDecision | Promise<RtmpDecision>;

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
  refused(detail: string): void;
}

export interface RtmpConnection {
  readonly peer: RtmpPeer;
  /** Ends the session (if any) with `reason` and destroys the socket. */
  destroy(reason: RtmpCloseReason, detail: string): void;
}

const LINGER_MS = 1000;
const EMPTY = Buffer.alloc(0);

/** `live`, `/live/`, `live?token=x` → `live`. */
export function normalizeApp(app: string): string {
  return app.split('?')[0]!.replace(/^\/+|\/+$/g, '');
}

/** Peer-chosen text (app, command names) as it may appear in a log line: short. */
function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

function statusObject(level: 'status' | 'error', code: string, description: string): Amf0Object {
  return { level, code, description };
}

export function handleConnection(socket: Socket, host: ConnectionHost): RtmpConnection {
  const { settings, log } = host;
  const peer: RtmpPeer = { address: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
  const handshake = createHandshake({ random: randomBytes(HANDSHAKE_SIZE - 8), time: Math.floor(process.uptime() * 1000) });
  const writer = createChunkWriter();
  let reader: ChunkReader | null = null;
  let app: string | null = null;
  let nextStreamId = 0;
  let session: PublishSession | null = null;
  let publishing = false;
  /** Whether a publish was ever accepted here (closing after one is not a refusal). */
  let published = false;
  let finished = false;
  /** Before a publish starts (and after it ends): the socket must publish by this time. */
  let deadline = Date.now() + settings.publishTimeoutMs;
  const queue: RtmpMessage[] = [];
  let draining = false;
  let timer: NodeJS.Timeout | null = null;

  const conn: RtmpConnection = { peer, destroy };

  function send(msg: RtmpMessage): void {
    if (!socket.destroyed && socket.writable) socket.write(writer.write(msg));
  }

  function endSession(reason: RtmpCloseReason, detail: string): void {
    if (!session) return;
    const s = session;
    session = null;
    deadline = Date.now() + settings.publishTimeoutMs;
    reader?.setLimits(settings.preAuth);
    s.end(reason, detail);
    host.detach(s);
  }

  function destroy(reason: RtmpCloseReason, detail: string): void {
    if (finished) {
      socket.destroy(); // a refused socket still lingering: close it now
      return;
    }
    finished = true;
    if (session === null && reason !== 'disconnected') {
      log.info({ peer, reason, detail }, 'rtmp connection closed');
      if (!published && (reason === 'protocol-error' || reason === 'idle')) host.refused(detail);
    }
    endSession(reason, detail);
    if (timer) clearTimeout(timer);
    timer = null;
    socket.destroy();
  }

  /**
   * Sends what is queued, then closes (lets the client read a rejection). `counted`: the authorizer already
   * reported this refusal.
   */
  function refuse(detail: string, counted = false): void {
    if (finished) return;
    log.warn({ peer, app }, detail);
    if (!counted && !published) host.refused(detail);
    endSession('closed', detail);
    finished = true;
    if (timer) clearTimeout(timer);
    timer = null;
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  function armIdle(): void {
    const now = Date.now();
    const due = session ? (session.stats().lastMediaAt ?? session.stats().startedAt) + settings.idleTimeoutMs : deadline;
    if (now >= due) {
      if (session) destroy('idle', `no media for ${settings.idleTimeoutMs} ms`);
      else destroy('idle', `no publish within ${settings.publishTimeoutMs} ms`);
      return;
    }
    timer = setTimeout(armIdle, Math.max(10, due - now));
    timer.unref();
  }

  function onConnect(txn: number, cmd: Amf0Value): void {
    const obj = cmd !== null && typeof cmd === 'object' && !Array.isArray(cmd) && !(cmd instanceof Map) && !(cmd instanceof Date)
      ? (cmd as Amf0Object) : {};
    const requested = typeof obj.app === 'string' ? normalizeApp(obj.app) : '';
    if (requested !== settings.app) {
      send(commandMessage(0, '_error', txn, null,
        statusObject('error', 'NetConnection.Connect.Rejected', `unknown application '${requested}'`)));
      refuse(`rtmp connect rejected: application '${clip(requested)}' (expected '${settings.app}')`);
      return;
    }
    app = requested;
    send(windowAckSizeMessage(settings.windowAckSize));
    send(setPeerBandwidthMessage(settings.windowAckSize, 2));
    send(setChunkSizeMessage(settings.outChunkSize));
    writer.setChunkSize(settings.outChunkSize);
    send(commandMessage(0, '_result', txn,
      { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      { ...statusObject('status', 'NetConnection.Connect.Success', 'Connection succeeded.'), objectEncoding: 0 }));
  }

  async function onPublish(streamId: number, name: Amf0Value): Promise<void> {
    const badName = (description: string): void => {
      send(commandMessage(streamId, 'onStatus', 0, null, statusObject('error', 'NetStream.Publish.BadName', description)));
    };
    if (session || publishing) {
      badName('this connection is already publishing');
      return;
    }
    const streamKey = typeof name === 'string' ? name.split('?')[0]! : '';
    if (streamKey === '') {
      badName('missing stream key');
      refuse('rtmp publish refused: empty stream key');
      return;
    }
    publishing = true;
    let decision: RtmpDecision;
    try {
      decision = await host.authorize(app as string, streamKey, peer);
    } catch (err) {
      log.warn({ peer, err: String(err) }, 'rtmp authorize failed');
      decision = { ok: false, reason: 'authorization unavailable' };
    } finally {
      publishing = false;
    }
    if (finished) return;
    if (!decision.ok) {
      badName(decision.reason ?? 'unknown stream key');
      refuse(`rtmp publish refused for app '${app}': ${decision.reason ?? 'unknown stream key'}`, true);
      return;
    }
    const s = createPublishSession({
      id: host.nextSessionId(), app: app as string, streamKey, channel: decision.channel ?? null, peer, streamId,
      log, now: Date.now, terminate: (reason, detail) => destroy(reason, detail),
    });
    session = s;
    published = true;
    reader?.setLimits(settings.published);
    send(userControlMessage(USER_CONTROL.streamBegin, streamId));
    send(commandMessage(streamId, 'onStatus', 0, null,
      { ...statusObject('status', 'NetStream.Publish.Start', `${streamKey} is now published.`), details: streamKey }));
    log.info({ session: s.id, peer, app, channel: s.channel }, 'rtmp publish started');
    host.attach(s);
  }

  function onCommand(msg: RtmpMessage, body: Buffer): void | Promise<void> {
    const values = decodeAmf0(body);
    const name = values[0];
    const txn = typeof values[1] === 'number' ? values[1] : 0;
    if (typeof name !== 'string') throw new Error('command message without a command name');
    if (name === 'connect') {
      if (app !== null) throw new Error('second connect on one connection');
      onConnect(txn, values[2]);
      return;
    }
    if (app === null) throw new Error(`command '${clip(name)}' before connect`);
    switch (name) {
      case 'releaseStream':
      case 'FCPublish':
        if (txn > 0) send(commandMessage(0, '_result', txn, null, undefined));
        return;
      case 'createStream':
        if (nextStreamId >= settings.maxStreamsPerConnection) throw new Error(`more than ${settings.maxStreamsPerConnection} createStream calls`);
        nextStreamId++;
        send(commandMessage(0, '_result', txn, null, nextStreamId));
        return;
      case 'publish':
        return onPublish(msg.streamId, values[3]);
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        endSession('unpublished', `${name} from the publisher`);
        return;
      case 'play':
        send(commandMessage(msg.streamId, 'onStatus', 0, null,
          statusObject('error', 'NetStream.Play.Failed', 'this server accepts publishers only')));
        refuse('rtmp play refused: publish-only server');
        return;
      default:
        if (txn > 0) {
          send(commandMessage(0, '_error', txn, null, statusObject('error', 'NetConnection.Call.Failed', `unknown command '${name}'`)));
        }
    }
  }

  function handle(msg: RtmpMessage): void | Promise<void> {
    switch (msg.typeId) {
      case MSG.audio:
      case MSG.video:
      case MSG.dataAmf0:
      case MSG.aggregate:
        if (session && msg.streamId === session.streamId) session.media(msg.typeId, msg.timestamp, msg.payload);
        return;
      case MSG.dataAmf3:
        if (session && msg.streamId === session.streamId && msg.payload.length > 1) {
          session.media(MSG.dataAmf0, msg.timestamp, msg.payload.subarray(1));
        }
        return;
      case MSG.commandAmf0:
        return onCommand(msg, msg.payload);
      case MSG.commandAmf3:
        return onCommand(msg, msg.payload.subarray(1));
      case MSG.userControl: {
        const ev = parseUserControl(msg.payload);
        if (ev.event === USER_CONTROL.pingRequest && ev.value !== null) send(userControlMessage(USER_CONTROL.pingResponse, ev.value));
        return;
      }
      default:
        // Set Chunk Size, Abort, Window Ack Size are applied by the reader; Ack, Set Peer Bandwidth and
        // shared objects need nothing from a publish-only server.
        return;
    }
  }

  /** Parses what the reader held back after a command; false when nothing is left. */
  function resumeReader(): boolean {
    if (!reader || !reader.yielded) return false;
    accept(reader.push(EMPTY));
    return true;
  }

  function accept(result: ChunkReadResult): void {
    if (result.ack !== null) send(acknowledgementMessage(result.ack));
    for (const m of result.messages) queue.push(m);
  }

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (!finished && (queue.length > 0 || resumeReader())) {
        const msg = queue.shift();
        if (!msg) continue;
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
      let bytes = input;
      if (!reader) {
        const step = handshake.push(input);
        if (step.output) socket.write(step.output);
        if (!step.done) return;
        reader = createChunkReader({ limits: settings.preAuth, bytesBefore: 1 + 2 * HANDSHAKE_SIZE, yieldAfterCommands: true });
        bytes = step.rest;
        if (bytes.length === 0) return;
      }
      accept(reader.push(bytes));
      if (queue.length === 0) return;
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
