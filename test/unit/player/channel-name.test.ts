/**
 * player/util.js is browser code and cannot import TypeScript, so it keeps a copy of the channel-name rule;
 * core/model/channel.ts is the source of truth and this test holds the copy equal to it (issue 11: the rule was
 * copied in five places).
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHANNEL_NAME, validateChannelName } from '../../../core/model/channel';
import { findPagesDirs } from '../../../engine/api/pages';

describe('player channel-name rule', () => {
  it('equals the core pattern and agrees with the server on edge cases', async () => {
    const util = (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'util.js')).href)) as { CHANNEL_NAME: RegExp; isChannelName: (n: unknown) => boolean };
    assert.equal(util.CHANNEL_NAME.source, CHANNEL_NAME.source);
    assert.equal(util.CHANNEL_NAME.flags, CHANNEL_NAME.flags);
    for (const name of ['a', 'main', 'a_b-9', 'x'.repeat(64), 'x'.repeat(65), '_a', '-a', 'A', 'a.b', '', 'a b']) {
      let server = true;
      try { validateChannelName(name); } catch { server = false; }
      assert.equal(util.isChannelName(name), server, name);
    }
  });
});
