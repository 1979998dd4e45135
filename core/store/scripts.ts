/**
 * Loads the store's Lua scripts (core/store/lua/<verb><Noun>-<numKeys>.lua) as ioredis commands.
 * ioredis sends EVALSHA and falls back to EVAL once per connection, also inside pipelines.
 * Negative script replies are mapped to typed errors by the store, in one place.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis-connection';

export interface ScriptCommands {
  putElement(...args: (string | number | Buffer)[]): Promise<number>;
  addPackets(...args: (string | number)[]): Promise<number>;
  putPayload(...args: (string | number | Buffer)[]): Promise<number | [number, number]>;
  deleteElement(...args: (string | number)[]): Promise<number>;
  queryIndex(...args: (string | number)[]): Promise<string[]>;
}

const LUA_DIR = join(__dirname, 'lua');

/** Script name → {numberOfKeys, lua}, read once from the lua folder. */
export function readScripts(dir = LUA_DIR): Map<string, { numberOfKeys: number; lua: string }> {
  const out = new Map<string, { numberOfKeys: number; lua: string }>();
  for (const file of readdirSync(dir)) {
    const m = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file);
    if (!m) continue;
    out.set(m[1] as string, { numberOfKeys: Number(m[2]), lua: readFileSync(join(dir, file), 'utf8') });
  }
  return out;
}

let cached: Map<string, { numberOfKeys: number; lua: string }> | undefined;

/** Define every script on a client (idempotent per client). */
export function defineScripts(redis: RedisClient): void {
  cached ??= readScripts();
  const r = redis as unknown as Record<string, unknown>;
  for (const [name, def] of cached) {
    if (typeof r[name] !== 'function') redis.defineCommand(name, def);
  }
}
