/** What SRT readers may read of a channel: a public one's source and rungs; a private one nothing (its tokens are signed per viewer). */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createChannel } from '../../../core/model/channel';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { srtReadAccess } from '../../../ingest/srt/read-access';

describe('SRT read access (pure)', () => {
  it('a public channel: its source and every rung of its ladder, no token', () => {
    const ch = createChannel({ name: 'pub' }, validateLadder, DEFAULT_LADDER);
    assert.deepEqual(srtReadAccess(ch), { rungs: ['source', ...DEFAULT_LADDER.map((r) => r.name)] });
    assert.deepEqual(srtReadAccess({ ...ch, ladder: [] }), { rungs: ['source'] });
  });

  it('a private channel is not readable over SRT', () => {
    const ch = createChannel({ name: 'priv', private: true }, validateLadder, DEFAULT_LADDER);
    assert.equal(ch.private, true);
    assert.equal(srtReadAccess(ch), null);
  });
});
