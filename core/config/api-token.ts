/**
 * The API token, secure by default. In order:
 *  1. BEAM_API_TOKEN (config `app.apiToken`) when set: used as it is, nothing written.
 *  2. Embedded Redis (one process): the token in `<BEAM_DATA_DIR>/api-token` (mode 0600), generated at the
 *     first start (256 random bits, base64url) and reused by every later start.
 *  3. External Redis (BEAM_REDIS_URL, maybe many processes): the token under the reserved key
 *     `<prefix>:reg:{auth}:token`, set NX by the first process (from its local file when it has one), so every
 *     process of the deployment agrees; each keeps a copy in its own `<BEAM_DATA_DIR>/api-token` for the operator.
 * Rotate: delete the file (and, with external Redis, the key) and restart; or set BEAM_API_TOKEN.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ApiToken {
  token: string;
  /** Where it came from: the operator's setting, the data-dir file, or the deployment's Redis. */
  origin: 'config' | 'file' | 'redis';
  /** The file that holds it (null when configured). */
  file: string | null;
  /** True when this start generated it. */
  generated: boolean;
}

export interface TokenRedis {
  set(key: string, value: string, nx: 'NX'): Promise<string | null>;
  get(key: string): Promise<string | null>;
}

export interface TokenLog {
  warn(obj: object, msg?: string): void;
}

export const API_TOKEN_FILE = 'api-token';

/** A new token: 256 random bits, URL- and header-safe. */
export function newApiToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Pure: a token read from a file, or null when it is not a usable one. */
export function parseTokenFile(text: string): string | null {
  const t = text.trim();
  return /^[A-Za-z0-9._~+/=-]{16,512}$/.test(t) ? t : null;
}

function readTokenFile(file: string, log?: TokenLog): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    if ((statSync(file).mode & 0o077) !== 0) {
      chmodSync(file, 0o600);
      log?.warn({ file }, 'the API token file was readable by others: its mode is now 0600');
    }
  } catch {
    // not ours to change: still usable
  }
  return parseTokenFile(text);
}

function writeTokenFile(file: string, token: string): void {
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
}

export async function resolveApiToken(
  deps: { redis: TokenRedis | null; log?: TokenLog },
  opts: { configured: string | null; dataDir: string; redisKey: string },
): Promise<ApiToken> {
  if (opts.configured) return { token: opts.configured, origin: 'config', file: null, generated: false };
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, API_TOKEN_FILE);
  const local = readTokenFile(file, deps.log);
  if (deps.redis === null) {
    if (local) return { token: local, origin: 'file', file, generated: false };
    const token = newApiToken();
    writeTokenFile(file, token);
    return { token, origin: 'file', file, generated: true };
  }
  const candidate = local ?? newApiToken();
  const won = (await deps.redis.set(opts.redisKey, candidate, 'NX')) === 'OK';
  const shared = won ? candidate : await deps.redis.get(opts.redisKey);
  if (!shared) throw new Error(`the shared API token at Redis key ${opts.redisKey} vanished while starting; start again`);
  if (shared !== local) writeTokenFile(file, shared);
  return { token: shared, origin: 'redis', file, generated: won && local === null };
}
