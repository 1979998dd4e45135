/**
 * The SRT listener (DESIGN §3 "Ingest", §5 "SRT"): one UDP port, many publishers routed by streamid.
 * A caller is decided in libsrt's listen callback, on libsrt's thread, from a snapshot of the stream keys
 * held by the addon (`setKeys`/`upsertKey`/`deleteKey`, kept current by the channel registry): the
 * decision never waits for the JS event loop. An accepted caller becomes an SrtSession (carrying the
 * channel its key belongs to) that emits batched MPEG-TS payloads; refusals are reported afterwards.
 *
 *   const srt = createSrtServer({ log, onRefused }, { host: '0.0.0.0', port: 9000 });
 *   srt.setKeys([['key', { channel: 'news' }]]);
 *   srt.on('session', (s) => s.on('data', (chunk) => ...).on('close', (reason) => ...));
 *   srt.setReadable([['news', { rungs: ['source', '360p'] }]]);
 *   srt.on('reader', (r) => r.send(tsBytes));   // m=request callers of a readable channel and rung
 *   await srt.start();  ...  await srt.close();
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import {
  loadSrtBinding,
  type LibsrtLogLevel,
  type NativeListener,
  type NativeSendResult,
  type SrtBinding,
  type SrtStats,
} from './native-binding';
import { parseStreamId } from '../streamid';
import { SRT_REJECT } from './reject-codes';

export type { SrtStats } from './native-binding';

export interface SrtPeer {
  address: string;
  port: number;
}

/** What a stream key opens: the channel, and the passphrase its callers must use (10..79 characters). */
export interface SrtKeyEntry {
  channel: string;
  passphrase?: string;
}

/** A caller the gate refused (reported after the fact, for the log and metrics). */
export interface SrtRefusal {
  streamId: string;
  peer: SrtPeer;
  code: number;
  reason: string;
}

export interface SrtLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SrtServerDeps {
  /** Told of each refused caller, after libsrt has refused it (at most 256 wait at once; more are not reported). */
  onRefused?(refusal: SrtRefusal): void;
  log?: SrtLogger;
  /** The libsrt binding; loaded from the project tree when omitted. */
  binding?: SrtBinding;
}

export interface SrtServerConfig {
  host: string;
  /** UDP port; 0 picks a free one (read `port` after start). */
  port: number;
  /** SRT latency (TSBPD delay) in ms; libsrt's default 120 when omitted. */
  latencyMs?: number;
  /** A session with no data for this long is closed with reason `idle` (default 10 000). */
  idleTimeoutMs?: number;
  /** libsrt's own silence timeout before a connection counts as broken (default 5000). */
  peerIdleTimeoutMs?: number;
  /** libsrt's log level, process-wide (default `error`: no warning per refused caller). */
  libsrtLogLevel?: LibsrtLogLevel;
  /** A reader with more bytes sent and not yet acknowledged than this is dropped as slow (default 8 MiB). */
  readerBufferBytes?: number;
}

/** What a channel lets SRT readers (m=request) read: its renditions, and the token they must give (undefined: public). */
export interface SrtReadEntry {
  rungs: string[];
  /** A fixed token the reader must give as `s=<token>` (1401 else). */
  token?: string;
  /**
   * A private channel: the gate refuses a reader without `s=` (1401); one with it is admitted and its signed
   * playback token checked by the 'reader' listener before anything is sent.
   */
  signedToken?: boolean;
}

/** The gate's form of an entry's token. */
function gateToken(e: SrtReadEntry): string | boolean | undefined {
  return e.token ?? (e.signedToken === true ? true : undefined);
}

export interface SrtSession {
  readonly id: number;
  readonly streamId: string;
  readonly peer: SrtPeer;
  /** The channel the caller's key belonged to when it was accepted. */
  readonly channel: string;
  readonly connectedAt: Date;
  readonly closed: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (reason: string) => void): this;
  off(event: 'data', listener: (chunk: Buffer) => void): this;
  off(event: 'close', listener: (reason: string) => void): this;
  /** Current socket statistics, or null once the session is closed. */
  stats(): SrtStats | null;
  /** Closes the connection; 'close' follows with `reason` (default `closed by server`). */
  close(reason?: string): void;
}

/** A caller in m=request mode: it reads `channel`'s rendition `rung` (the gate checked both exist). */
export interface SrtReader {
  readonly id: number;
  readonly streamId: string;
  readonly peer: SrtPeer;
  readonly channel: string;
  readonly rung: string;
  readonly connectedAt: Date;
  readonly closed: boolean;
  on(event: 'close', listener: (reason: string) => void): this;
  off(event: 'close', listener: (reason: string) => void): this;
  /** Non-blocking; 'slow' when its send buffer is over the bound (nothing was queued beyond it). */
  send(data: Buffer): NativeSendResult;
  stats(): SrtStats | null;
  close(reason?: string): void;
}

export interface SrtServer {
  start(): Promise<void>;
  close(): Promise<void>;
  /** The bound UDP port (after start). */
  readonly port: number;
  sessions(): SrtSession[];
  /** Replaces the key snapshot the gate decides from (before or after start). */
  setKeys(keys: Iterable<[string, SrtKeyEntry]>): void;
  /** Adds or changes one key; the next caller with it is decided by the new entry. */
  upsertKey(key: string, entry: SrtKeyEntry): void;
  /** Removes one key; callers with it are refused from now on (sessions already accepted go on). */
  deleteKey(key: string): void;
  /** Replaces what readers may read (channel -> rungs, token), before or after start. */
  setReadable(entries: Iterable<[string, SrtReadEntry]>): void;
  upsertReadable(channel: string, entry: SrtReadEntry): void;
  deleteReadable(channel: string): void;
  readers(): SrtReader[];
  on(event: 'session', listener: (session: SrtSession) => void): this;
  on(event: 'reader', listener: (reader: SrtReader) => void): this;
  off(event: 'session', listener: (session: SrtSession) => void): this;
  off(event: 'reader', listener: (reader: SrtReader) => void): this;
}

const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
const SHUTDOWN_GRACE_MS = 5_000;
const PASSPHRASE_MIN = 10;
const PASSPHRASE_MAX = 79;

const silentLog: SrtLogger = { info() {}, warn() {}, error() {} };

function checkInt(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`SRT config: ${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
}

/** Validates the config once, with errors naming the bad field. */
export function validateSrtConfig(config: SrtServerConfig): void {
  if (typeof config.host !== 'string' || config.host.length === 0) throw new Error('SRT config: host must be a non-empty string');
  checkInt('port', config.port, 0, 65535);
  if (config.latencyMs !== undefined) checkInt('latencyMs', config.latencyMs, 0, 60_000);
  if (config.idleTimeoutMs !== undefined) checkInt('idleTimeoutMs', config.idleTimeoutMs, 100, 86_400_000);
  if (config.peerIdleTimeoutMs !== undefined) checkInt('peerIdleTimeoutMs', config.peerIdleTimeoutMs, 100, 3_600_000);
  if (config.readerBufferBytes !== undefined) checkInt('readerBufferBytes', config.readerBufferBytes, 16 * 1316, 1 << 30);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class Session extends EventEmitter implements SrtSession {
  closed = false;
  lastDataAt = Date.now();
  closing = false;
  readonly connectedAt = new Date();

  constructor(
    readonly id: number,
    readonly streamId: string,
    readonly peer: SrtPeer,
    readonly channel: string,
    private readonly native: NativeListener,
  ) {
    super();
  }

  protected nativeSend(data: Buffer): NativeSendResult {
    return this.native.send(this.id, data);
  }

  stats(): SrtStats | null {
    return this.closed ? null : this.native.stats(this.id);
  }

  close(reason = 'closed by server'): void {
    if (this.closed || this.closing) return;
    this.closing = this.native.closeSession(this.id, reason);
  }
}

class Reader extends Session implements SrtReader {
  constructor(id: number, streamId: string, peer: SrtPeer, channel: string, readonly rung: string, native: NativeListener) {
    super(id, streamId, peer, channel, native);
  }

  send(data: Buffer): NativeSendResult {
    return this.closed || this.closing ? 'gone' : this.nativeSend(data);
  }
}

export function createSrtServer(deps: SrtServerDeps, config: SrtServerConfig): SrtServer {
  validateSrtConfig(config);
  const log = deps.log ?? silentLog;
  const idleTimeoutMs = config.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const emitter = new EventEmitter();
  const live = new Map<number, Session>();
  const keys = new Map<string, SrtKeyEntry>();
  const readable = new Map<string, SrtReadEntry>();
  let native: NativeListener | undefined;
  let boundPort = 0;
  let startPromise: Promise<void> | undefined;
  let closePromise: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let onShutdown: (() => void) | undefined;

  function safeEmit(target: EventEmitter, event: string, ...args: unknown[]): void {
    try {
      target.emit(event, ...args);
    } catch (err) {
      log.error({ err: errorText(err), event }, 'an SRT event listener threw');
    }
  }

  function checkEntry(key: string, entry: SrtKeyEntry): void {
    const p = entry.passphrase;
    if (p !== undefined && (p.length < PASSPHRASE_MIN || p.length > PASSPHRASE_MAX)) {
      // libsrt refuses such a passphrase; the gate then refuses the caller (code 1500) rather than accept in clear.
      log.error({ channel: entry.channel }, `SRT passphrase must be ${PASSPHRASE_MIN}-${PASSPHRASE_MAX} characters; callers of this channel are refused`);
    }
    if (key.length === 0) log.error({ channel: entry.channel }, 'empty SRT stream key ignored');
  }

  function pushAll(n: NativeListener): void {
    n.setKeys([...keys].map(([k, e]) => [k, e.channel, e.passphrase]));
    n.setReadable([...readable].map(([c, e]) => [c, e.rungs, gateToken(e)]));
  }

  /** A refusal the gate already sent: log it with a reason a person understands, and tell the owner. */
  function refused(streamId: string, peer: SrtPeer, code: number, nativeReason: string): void {
    const parsed = parseStreamId(streamId);
    const reason = code === SRT_REJECT.BAD_REQUEST && !parsed.ok ? parsed.reason : nativeReason;
    log.info({ peer, code, reason }, 'SRT caller refused');
    try {
      deps.onRefused?.({ streamId, peer, code, reason });
    } catch (err) {
      log.error({ err: errorText(err) }, 'the SRT refusal listener threw');
    }
  }

  function onEvent(type: string, id?: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): void {
    if (type === 'shutdown') {
      onShutdown?.();
      return;
    }
    if (typeof id !== 'number' || !native) return;
    switch (type) {
      case 'refused':
        refused(String(a ?? ''), { address: String(b ?? ''), port: Number(c ?? 0) }, Number(d ?? 0), String(e ?? 'refused'));
        return;
      case 'session': {
        const peer = { address: String(b ?? ''), port: Number(c ?? 0) };
        if (e === 'request') {
          const r = new Reader(id, String(a ?? ''), peer, String(d ?? ''), String(f ?? 'source'), native);
          live.set(id, r);
          log.info({ session: id, peer, channel: r.channel, rung: r.rung }, 'SRT reader connected');
          safeEmit(emitter, 'reader', r);
          return;
        }
        const s = new Session(id, String(a ?? ''), peer, String(d ?? ''), native);
        live.set(id, s);
        log.info({ session: id, peer: s.peer }, 'SRT publisher connected');
        safeEmit(emitter, 'session', s);
        return;
      }
      case 'data': {
        const s = live.get(id);
        if (!s || !Buffer.isBuffer(a)) return;
        s.lastDataAt = Date.now();
        safeEmit(s, 'data', a);
        return;
      }
      case 'closed': {
        const s = live.get(id);
        if (!s) return;
        live.delete(id);
        s.closed = true;
        const reason = String(a ?? 'closed');
        log.info({ session: id, peer: s.peer, reason }, s instanceof Reader ? 'SRT reader disconnected' : 'SRT publisher disconnected');
        safeEmit(s, 'close', reason);
        s.removeAllListeners();
        return;
      }
      default:
        return;
    }
  }

  function sweep(): void {
    const now = Date.now();
    for (const s of live.values()) {
      if (!s.closing && !(s instanceof Reader) && now - s.lastDataAt >= idleTimeoutMs) s.close('idle');
    }
  }

  async function start(): Promise<void> {
    if (closePromise) throw new Error('the SRT server was closed; create a new one');
    const binding = deps.binding ?? loadSrtBinding();
    // The addon takes numeric addresses only, so a host name is resolved here, off the JS thread.
    let host = config.host;
    if (isIP(host) === 0) {
      try {
        host = (await lookup(host)).address;
      } catch (err) {
        throw new Error(`SRT listener could not resolve host ${config.host}: ${errorText(err)}`);
      }
    }
    const n = new binding.SrtListener(
      {
        host,
        port: config.port,
        latencyMs: config.latencyMs,
        peerIdleTimeoutMs: config.peerIdleTimeoutMs,
        readerBufferBytes: config.readerBufferBytes,
        logLevel: config.libsrtLogLevel ?? 'error',
      },
      onEvent,
    );
    pushAll(n);
    native = n;
    try {
      boundPort = n.start();
    } catch (err) {
      native = undefined;
      throw new Error(`SRT listener could not start on ${config.host}:${config.port}: ${errorText(err)}`);
    }
    sweepTimer = setInterval(sweep, Math.min(1000, Math.max(50, Math.floor(idleTimeoutMs / 4))));
    sweepTimer.unref();
    log.info({ host, port: boundPort, libsrt: binding.version }, 'SRT listener started');
  }

  function close(): Promise<void> {
    closePromise ??= (async () => {
      if (startPromise) await startPromise.catch(() => undefined);
      if (sweepTimer) clearInterval(sweepTimer);
      if (!native) return;
      const n: NativeListener = native;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, SHUTDOWN_GRACE_MS);
        function finish(): void {
          clearTimeout(timer);
          onShutdown = undefined;
          // finish() joins the receive thread; defer it out of the native callback that got here.
          setImmediate(() => {
            n.finish();
            for (const s of live.values()) {
              s.closed = true;
              safeEmit(s, 'close', 'server closed');
              s.removeAllListeners();
            }
            live.clear();
            native = undefined;
            resolve();
          });
        }
        onShutdown = finish;
        if (!n.stop()) finish();
      });
      log.info({ port: boundPort }, 'SRT listener closed');
    })();
    return closePromise;
  }

  const server: SrtServer = {
    start() {
      if (closePromise) return Promise.reject(new Error('the SRT server was closed; create a new one'));
      startPromise ??= start();
      return startPromise;
    },
    close,
    get port() {
      return boundPort;
    },
    sessions() {
      return [...live.values()].filter((s) => !(s instanceof Reader));
    },
    readers() {
      return [...live.values()].filter((s): s is Reader => s instanceof Reader);
    },
    setReadable(entries) {
      readable.clear();
      for (const [c, e] of entries) readable.set(c, { ...e, rungs: [...e.rungs] });
      native?.setReadable([...readable].map(([c, e]) => [c, e.rungs, gateToken(e)]));
    },
    upsertReadable(channel, entry) {
      readable.set(channel, { ...entry, rungs: [...entry.rungs] });
      native?.upsertReadable(channel, entry.rungs, gateToken(entry));
    },
    deleteReadable(channel) {
      readable.delete(channel);
      native?.deleteReadable(channel);
    },
    setKeys(entries) {
      keys.clear();
      for (const [k, e] of entries) {
        checkEntry(k, e);
        if (k.length > 0) keys.set(k, { ...e });
      }
      if (native) pushAll(native);
    },
    upsertKey(key, entry) {
      checkEntry(key, entry);
      if (key.length === 0) return;
      keys.set(key, { ...entry });
      native?.upsertKey(key, entry.channel, entry.passphrase);
    },
    deleteKey(key) {
      keys.delete(key);
      native?.deleteKey(key);
    },
    on(event: string, listener: (...args: never[]) => void) {
      emitter.on(event, listener as (...args: unknown[]) => void);
      return server;
    },
    off(event: string, listener: (...args: never[]) => void) {
      emitter.off(event, listener as (...args: unknown[]) => void);
      return server;
    },
  };
  return server;
}
