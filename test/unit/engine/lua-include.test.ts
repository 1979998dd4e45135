/**
 * The store's Lua scripts share blocks through `--#include <name>.lua` (core/store/scripts.ts), so the expiry trim
 * is written once (issue 11: it was copied in three scripts and could drift). The expansion is pure; the real
 * scripts are checked as read at load time. Behaviour is covered by the store integration tests.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expandIncludes, readScripts } from '../../../core/store/scripts';
import { REPO_ROOT } from '../../helpers/paths';

const LUA_DIR = join(REPO_ROOT, 'core/store/lua');
const libs: Record<string, string> = { 'a.lua': 'local function a() return 1 end\n', 'nested.lua': '--#include a.lua\n' };
const readLib = (name: string): string => {
  const text = libs[name];
  if (text === undefined) throw new Error(`no ${name}`);
  return text;
};

describe('expandIncludes', () => {
  const cases: [string, string, string][] = [
    ['no include: unchanged byte for byte', '-- x\r\nreturn 1\n', '-- x\r\nreturn 1\n'],
    ['a whole-line include is replaced by the file, its last newline trimmed', '--[[ h ]]\n--#include a.lua\nreturn a()\n', '--[[ h ]]\nlocal function a() return 1 end\nreturn a()\n'],
    ['trailing blanks after the name are allowed', '--#include a.lua  \nreturn a()', 'local function a() return 1 end\nreturn a()'],
    ['an include inside a line is not one', 'x = 1 --#include a.lua\n', 'x = 1 --#include a.lua\n'],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(expandIncludes(input, readLib), want));

  it('refuses a bad name, an unknown file and a nested include', () => {
    assert.throws(() => expandIncludes('--#include ../x.lua\n', readLib), /bad library name/);
    assert.throws(() => expandIncludes('--#include a\n', readLib), /bad library name/);
    assert.throws(() => expandIncludes('--#include b.lua\n', readLib), /no b\.lua/);
    assert.throws(() => expandIncludes('--#include nested.lua\n', readLib), /one level/);
  });
});

describe('the store scripts as loaded', () => {
  const scripts = readScripts(LUA_DIR);
  const trim = readFileSync(join(LUA_DIR, 'lib/trimExpired.lua'), 'utf8');

  it('reads every script and no library file as a script', () => {
    assert.deepEqual([...scripts.keys()].sort(), ['addPackets', 'compactSegment', 'deleteElement', 'dropColdSegment', 'putElement', 'putPayload', 'queryIndex', 'takeLease', 'writeBoundaries']);
  });

  it('leaves no include line and defines trimExpired once where it is used', () => {
    for (const [name, { lua }] of scripts) {
      assert.ok(!/^--#include/m.test(lua), `${name} still holds an include line`);
      const uses = lua.split('trimExpired(').length - 1;
      if (uses > 0) assert.equal(lua.split('local function trimExpired(').length - 1, 1, `${name} defines trimExpired once`);
    }
    for (const name of ['addPackets', 'putElement', 'queryIndex']) assert.ok(scripts.get(name)?.lua.includes(trim.trimEnd()), `${name} includes trimExpired.lua`);
  });

  it('keeps the expiry trim in the library only (no drifted copy in a script source)', () => {
    for (const file of readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'))) {
      assert.ok(!readFileSync(join(LUA_DIR, file), 'utf8').includes('unpack(gone)'), `${file} holds a copy of the trim`);
    }
  });
});
