/**
 * NetConnection/NetStream commands of a publish-only server: connect, releaseStream/FCPublish, createStream,
 * publish (authorized by the host), FCUnpublish/deleteStream/closeStream, and play (refused). The replies
 * are pure (connectReplies, parseCommand); the handler keeps the connection's app and stream ids.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { type Amf0Object, type Amf0Value, decodeAmf0 } from './amf0';
import {
  commandMessage, type RtmpMessage, setChunkSizeMessage, setPeerBandwidthMessage, USER_CONTROL,
  userControlMessage, windowAckSizeMessage,
} from './messages';
import { createPublishSession, type PublishSession, type RtmpCloseReason, type RtmpLogger, type RtmpPeer } from './rtmp-session';

/** `role`: a redundant input's role (a backup publishes beside the primary, not in its place). */
export type RtmpDecision = { ok: true; channel?: string; role?: 'primary' | 'backup' } | { ok: false; reason?: string };

/**
 * `query`: the publish name's query (`<key>?role=backup`, as OBS and Larix send what is typed), else the connect
 * app's (`live?role=backup`: ffmpeg moves a URL's query there); '' when neither has one.
 */
export type RtmpAuthorize = (app: string, streamKey: string, peer: RtmpPeer, query: string) => RtmpDecision | Promise<RtmpDecision>;

/** Pure: the query of a publish name, else of the connect app ('' when neither has one). */
export function publishQuery(name: string, rawApp: string): string {
  const q = name.indexOf('?');
  if (q >= 0) return name.slice(q + 1);
  const a = rawApp.indexOf('?');
  return a >= 0 ? rawApp.slice(a + 1) : '';
}

/** `live`, `/live/`, `live?token=x` → `live`. */
export function normalizeApp(app: string): string {
  return app.split('?')[0]!.replace(/^\/+|\/+$/g, '');
}

/** Peer-chosen text (app, command names) as it may appear in a log line: short. */
export function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

function statusObject(level: 'status' | 'error', code: string, description: string): Amf0Object {
  return { level, code, description };
}

export interface ParsedCommand {
  name: string;
  txn: number;
  values: Amf0Value[];
}

/** Pure: a command message's name and transaction id; throws without a name. */
export function parseCommand(body: Buffer): ParsedCommand {
  const values = decodeAmf0(body);
  const name = values[0];
  const txn = typeof values[1] === 'number' ? values[1] : 0;
  if (typeof name !== 'string') throw new Error('command message without a command name');
  return { name, txn, values };
}

export type ConnectOutcome =
  /** `setup` goes out first; the outgoing chunk size is `chunkSize` from then on; `result` last. */
  | { ok: true; app: string; rawApp: string; setup: RtmpMessage[]; chunkSize: number; result: RtmpMessage }
  | { ok: false; reply: RtmpMessage; detail: string };

/** Pure: the answer to `connect` with command object `cmd`. */
export function connectReplies(settings: { app: string; windowAckSize: number; outChunkSize: number }, txn: number, cmd: Amf0Value): ConnectOutcome {
  const obj = cmd !== null && typeof cmd === 'object' && !Array.isArray(cmd) && !(cmd instanceof Map) && !(cmd instanceof Date)
    ? (cmd as Amf0Object) : {};
  const requested = typeof obj.app === 'string' ? normalizeApp(obj.app) : '';
  if (requested !== settings.app) {
    return {
      ok: false,
      reply: commandMessage(0, '_error', txn, null, statusObject('error', 'NetConnection.Connect.Rejected', `unknown application '${requested}'`)),
      detail: `rtmp connect rejected: application '${clip(requested)}' (expected '${settings.app}')`,
    };
  }
  return {
    ok: true,
    app: requested,
    rawApp: typeof obj.app === 'string' ? obj.app : '',
    setup: [windowAckSizeMessage(settings.windowAckSize), setPeerBandwidthMessage(settings.windowAckSize, 2), setChunkSizeMessage(settings.outChunkSize)],
    chunkSize: settings.outChunkSize,
    result: commandMessage(0, '_result', txn,
      { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      { ...statusObject('status', 'NetConnection.Connect.Success', 'Connection succeeded.'), objectEncoding: 0 }),
  };
}

/** What the command handler needs of its connection. */
export interface CommandContext {
  settings: { app: string; windowAckSize: number; outChunkSize: number; maxStreamsPerConnection: number };
  log: RtmpLogger;
  peer: RtmpPeer;
  authorize: RtmpAuthorize;
  nextSessionId(): string;
  send(msg: RtmpMessage): void;
  setOutChunkSize(size: number): void;
  /** Whether the connection was closed (an authorization may outlive it). */
  finished(): boolean;
  session(): PublishSession | null;
  /** A publish was accepted: the connection adopts the session (and its limits). */
  adopt(session: PublishSession): void;
  /** Registers the adopted session with the server, once the publisher was told it may start. */
  attach(session: PublishSession): void;
  endSession(reason: RtmpCloseReason, detail: string): void;
  /** Sends what is queued, then closes; `counted`: the authorizer already reported the refusal. */
  refuse(detail: string, counted?: boolean): void;
  /** Closes the connection (the session, if any, ends with `reason`). */
  destroy(reason: RtmpCloseReason, detail: string): void;
}

export interface CommandHandler {
  /** One command message (AMF0 body); a promise while a publish is being authorized. Throws on a protocol violation. */
  handle(streamId: number, body: Buffer): void | Promise<void>;
  /** The application connected to, null before connect. */
  app(): string | null;
}

export function createCommandHandler(ctx: CommandContext): CommandHandler {
  let app: string | null = null;
  /** The connect app as sent (its query may carry publish parameters). */
  let rawApp = '';
  let nextStreamId = 0;
  /** A publish is being authorized. */
  let authorizing = false;

  function onConnect(txn: number, cmd: Amf0Value): void {
    const out = connectReplies(ctx.settings, txn, cmd);
    if (!out.ok) {
      ctx.send(out.reply);
      ctx.refuse(out.detail);
      return;
    }
    app = out.app;
    rawApp = out.rawApp.slice(0, 1024);
    for (const m of out.setup) ctx.send(m);
    ctx.setOutChunkSize(out.chunkSize);
    ctx.send(out.result);
  }

  async function onPublish(streamId: number, name: Amf0Value): Promise<void> {
    const badName = (description: string): void => {
      ctx.send(commandMessage(streamId, 'onStatus', 0, null, statusObject('error', 'NetStream.Publish.BadName', description)));
    };
    if (ctx.session() || authorizing) {
      badName('this connection is already publishing');
      return;
    }
    const streamKey = typeof name === 'string' ? name.split('?')[0]! : '';
    if (streamKey === '') {
      badName('missing stream key');
      ctx.refuse('rtmp publish refused: empty stream key');
      return;
    }
    const decision = await authorize(streamKey, publishQuery(typeof name === 'string' ? name : '', rawApp));
    if (ctx.finished()) return;
    if (!decision.ok) {
      badName(decision.reason ?? 'unknown stream key');
      ctx.refuse(`rtmp publish refused for app '${app}': ${decision.reason ?? 'unknown stream key'}`, true);
      return;
    }
    const s = createPublishSession({
      id: ctx.nextSessionId(), app: app as string, streamKey, channel: decision.channel ?? null, role: decision.role ?? 'primary', peer: ctx.peer, streamId,
      log: ctx.log, now: Date.now, terminate: (reason, detail) => ctx.destroy(reason, detail),
    });
    ctx.adopt(s);
    ctx.send(userControlMessage(USER_CONTROL.streamBegin, streamId));
    ctx.send(commandMessage(streamId, 'onStatus', 0, null,
      { ...statusObject('status', 'NetStream.Publish.Start', `${streamKey} is now published.`), details: streamKey }));
    ctx.log.info({ session: s.id, peer: ctx.peer, app, channel: s.channel }, 'rtmp publish started');
    ctx.attach(s);
  }

  async function authorize(streamKey: string, query: string): Promise<RtmpDecision> {
    authorizing = true;
    try {
      return await ctx.authorize(app as string, streamKey, ctx.peer, query);
    } catch (err) {
      ctx.log.warn({ peer: ctx.peer, err: String(err) }, 'rtmp authorize failed');
      return { ok: false, reason: 'authorization unavailable' };
    } finally {
      authorizing = false;
    }
  }

  function handle(streamId: number, body: Buffer): void | Promise<void> {
    const { name, txn, values } = parseCommand(body);
    if (name === 'connect') {
      if (app !== null) throw new Error('second connect on one connection');
      onConnect(txn, values[2]);
      return;
    }
    if (app === null) throw new Error(`command '${clip(name)}' before connect`);
    switch (name) {
      case 'releaseStream':
      case 'FCPublish':
        if (txn > 0) ctx.send(commandMessage(0, '_result', txn, null, undefined));
        return;
      case 'createStream':
        if (nextStreamId >= ctx.settings.maxStreamsPerConnection) throw new Error(`more than ${ctx.settings.maxStreamsPerConnection} createStream calls`);
        nextStreamId++;
        ctx.send(commandMessage(0, '_result', txn, null, nextStreamId));
        return;
      case 'publish':
        return onPublish(streamId, values[3]);
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        ctx.endSession('unpublished', `${name} from the publisher`);
        return;
      case 'play':
        ctx.send(commandMessage(streamId, 'onStatus', 0, null,
          statusObject('error', 'NetStream.Play.Failed', 'this server accepts publishers only')));
        ctx.refuse('rtmp play refused: publish-only server');
        return;
      default:
        if (txn > 0) {
          ctx.send(commandMessage(0, '_error', txn, null, statusObject('error', 'NetConnection.Call.Failed', `unknown command '${name}'`)));
        }
    }
  }

  return { handle, app: () => app };
}
