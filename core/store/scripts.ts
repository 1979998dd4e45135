/**
 * Loads the store's Lua scripts (core/store/lua/<verb><Noun>-<numKeys>.lua) as ioredis commands. A script whose key
 * count varies is named `<verb><Noun>-N.lua`: its caller passes the count as the first argument.
 * ioredis sends EVALSHA and falls back to EVAL once per connection, also inside pipelines.
 * Negative script replies are mapped to typed errors by the store, in one place.
 *
 * Shared Lua lives in core/store/lua/lib/<name>.lua: a line `--#include <name>.lua` in a script is replaced by
 * that file's text when the scripts are read (once per process), so a block such as the expiry trim is written
 * once. An include is a whole line, one level deep (a library file includes nothing); an unknown name fails the
 * load. A script without includes is sent byte for byte as written.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis-connection';

export interface ScriptCommands {
  putElement(...args: (string | number | Buffer)[]): Promise<number>;
  addPackets(...args: (string | number)[]): Promise<[number, number, number]>;
  putPayload(...args: (string | number | Buffer)[]): Promise<number | [number, number]>;
  deleteElement(...args: (string | number)[]): Promise<number>;
  queryIndex(...args: (string | number)[]): Promise<unknown[]>;
  writeBoundaries(...args: (string | number)[]): Promise<number>;
  takeLease(...args: (string | number)[]): Promise<number>;
  compactSegment(...args: (string | number)[]): Promise<number>;
  dropColdSegment(...args: (string | number)[]): Promise<number>;
}

const LUA_DIR = join(__dirname, 'lua');
const INCLUDE = /^--#include (\S*)[ \t]*$/gm;
const LIB_NAME = /^[A-Za-z][A-Za-z0-9_-]*\.lua$/;

/**
 * Pure: `lua` with every `--#include <name>.lua` line replaced by `readLib(name)` (the text, its trailing
 * newline trimmed). Throws on a malformed name or on an include inside a library file.
 */
export function expandIncludes(lua: string, readLib: (name: string) => string): string {
  return lua.replace(INCLUDE, (_line, name: string) => {
    if (!LIB_NAME.test(name)) throw new Error(`Lua include: bad library name '${name}'`);
    const text = readLib(name).replace(/\r?\n$/, '');
    if (/^--#include /m.test(text)) throw new Error(`Lua include: ${name} includes another file (one level only)`);
    return text;
  });
}

/** A script as ioredis defines it; `numberOfKeys` undefined: the caller passes the count first. */
export interface ScriptDef {
  numberOfKeys?: number;
  lua: string;
}

/** Script name → its definition, read once from the lua folder. */
export function readScripts(dir = LUA_DIR): Map<string, ScriptDef> {
  const out = new Map<string, ScriptDef>();
  for (const file of readdirSync(dir)) {
    const m = /^([a-zA-Z]+)-(\d+|N)\.lua$/.exec(file);
    if (!m) continue;
    if (out.has(m[1] as string)) throw new Error(`two Lua scripts in ${dir} define ${m[1]} (${file} and another): remove the stale one (a fresh build does)`);
    const lua = expandIncludes(readFileSync(join(dir, file), 'utf8'), (name) => readFileSync(join(dir, 'lib', name), 'utf8'));
    out.set(m[1] as string, m[2] === 'N' ? { lua } : { numberOfKeys: Number(m[2]), lua });
  }
  return out;
}

let cached: Map<string, ScriptDef> | undefined;

/** Define every script on a client (idempotent per client). */
export function defineScripts(redis: RedisClient): void {
  cached ??= readScripts();
  const r = redis as unknown as Record<string, unknown>;
  for (const [name, def] of cached) {
    if (typeof r[name] !== 'function') redis.defineCommand(name, def);
  }
}
