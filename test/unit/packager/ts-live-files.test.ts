/** The MPEG-TS object names under /live/<channel>/: parsed back from what the playlists write. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { parseLiveFile, tsPlaylistFile, tsSegmentFile } from '../../../packager/live/live-files';

describe('MPEG-TS live file names', () => {
  test('playlists and segments round-trip, rung names with dashes included', () => {
    assert.deepEqual(parseLiveFile(tsPlaylistFile('source')), { type: 'tsPlaylist', rung: 'source' });
    assert.deepEqual(parseLiveFile(tsPlaylistFile('720p-hi')), { type: 'tsPlaylist', rung: '720p-hi' });
    assert.deepEqual(parseLiveFile(tsSegmentFile('source', 42)), { type: 'tsSegment', rung: 'source', segment: 42 });
    assert.deepEqual(parseLiveFile(tsSegmentFile('720p-hi', 7)), { type: 'tsSegment', rung: '720p-hi', segment: 7 });
  });

  test('near misses name nothing; CMAF names are unchanged', () => {
    for (const f of ['ts-.m3u8', 'ts-source-1.m4s', 'ts-source-x.ts', 'ts-Source.m3u8', 'ts-source-1.2.ts', 'source.ts']) {
      assert.equal(parseLiveFile(f), null, f);
    }
    assert.deepEqual(parseLiveFile('v-source-3.m4s'), { type: 'media', rendition: { kind: 'video', rung: 'source' }, segment: 3, part: null });
  });
});
