/**
 * The embedded redis-server: a private child process used when no BEAM_REDIS_URL is given.
 * It listens only on a unix socket under the data directory (no TCP port to collide with or expose),
 * runs with `maxmemory-policy noeviction` (BullMQ needs it) under a `maxmemory` limit (at the limit writes are
 * refused, so new publishes are, instead of the machine running out of memory) and persistence off unless
 * asked for.
 *
 * It never outlives us: the child is started under a tiny `sh` watchdog that reads our stdin and
 * stops redis when that pipe closes, which happens on a clean close(), on SIGINT/SIGTERM and also when
 * this process crashes or is killed outright.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync, rmSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface EmbeddedRedisConfig {
  /** Folder for the socket and, with persistence, the append-only file. */
  dataDir: string;
  persistence: boolean;
  /** `maxmemory` in bytes; 0 or absent = no limit (redis-server's own default). */
  maxmemoryBytes?: number;
  redisServer?: string;
  startTimeoutMs?: number;
}

export interface EmbeddedRedis {
  readonly socketPath: string;
  readonly url: string;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

const WATCHDOG = 'redis-server "$@" & pid=$!; trap "kill $pid 2>/dev/null" TERM INT; read _ignored; kill $pid 2>/dev/null; wait $pid';

function pingSocket(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ path });
    const timer = setTimeout(() => finish(false), timeoutMs);
    let reply = '';
    function finish(ok: boolean) {
      clearTimeout(timer);
      sock.destroy();
      done(ok);
    }
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    sock.on('error', () => finish(false));
  });
}

/** Unix socket paths are limited to ~107 bytes; fall back to a private temp folder when too long. */
function socketPathFor(dataDir: string): string {
  const wanted = join(dataDir, 'redis.sock');
  if (wanted.length < 100) return wanted;
  return join(mkdtempSync(join(tmpdir(), 'beamline-redis-')), 'redis.sock');
}

export function createEmbeddedRedis(deps: { log?: Logger }, config: EmbeddedRedisConfig): EmbeddedRedis {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const socketPath = socketPathFor(dataDir);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    if (existsSync(socketPath)) {
      if (await pingSocket(socketPath, 500)) {
        throw new Error(
          `another redis-server already answers on ${socketPath}: is another Beamline running with data dir ${dataDir}? ` +
            'Stop it, or set BEAM_DATA_DIR to another folder, or BEAM_REDIS_URL to use that server.',
        );
      }
      rmSync(socketPath, { force: true });
    }
    const args = [
      '--port', '0',
      '--unixsocket', socketPath,
      '--unixsocketperm', '700',
      '--dir', dataDir,
      '--maxmemory-policy', 'noeviction',
      '--maxmemory', String(config.maxmemoryBytes ?? 0),
      '--daemonize', 'no',
      '--logfile', '',
      '--loglevel', 'warning',
      '--save', '',
      '--appendonly', config.persistence ? 'yes' : 'no',
    ];
    child = spawn('sh', ['-c', WATCHDOG, 'sh', ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const proc = child;
    exited = new Promise((done) => proc.once('exit', () => done()));
    let childGone = false;
    void exited.then(() => {
      childGone = true;
    });
    const deadline = Date.now() + (config.startTimeoutMs ?? 10000);
    while (Date.now() < deadline) {
      if (childGone) break;
      if (existsSync(socketPath) && (await pingSocket(socketPath, 500))) {
        deps.log?.info({ socket: socketPath, persistence: config.persistence, maxmemory: config.maxmemoryBytes ?? 0 }, 'embedded redis-server ready');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await close();
    throw new Error(
      `the embedded redis-server did not start (is the Debian package redis-server installed? run npm start, whose set-up installs it): ${stderr.trim() || 'no output'}`,
    );
  }

  async function close(): Promise<void> {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.stdin?.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(socketPath, { force: true });
  }

  return { socketPath, url: `unix://${socketPath}`, start, close };
}
