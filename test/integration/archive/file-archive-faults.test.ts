/**
 * The local-folder archive when its folder goes away or breaks: a missing object is null while the folder is
 * there, but a read with the folder gone (moved away, or a file in its place) is a 503 that says so, never a
 * payload silently "expired"; writes fail the same way until the folder is back (or can be made again).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileArchive } from '../../../core/archive/file-archive';
import { BeamError } from '../../../core/model/errors';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-archive-faults-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function unavailable(p: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BeamError, String(err));
    assert.equal(err.statusCode, 503);
    assert.match(err.message, /^The archive is unavailable: /);
    assert.match(err.message, reason);
    assert.doesNotMatch(err.message, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no path in a message a client reads');
    return true;
  });
}

describe('the file archive when its folder goes away', () => {
  it('folder there: a missing object is null / false; folder moved away: reads and deletes are 503 "missing", not null', async () => {
    const root = join(dir, 'moved');
    const a = createFileArchive({ dir: root });
    await a.put('c/s0/1.seg', Buffer.from('0123456789'));
    assert.equal(await a.get('c/s0/2.seg'), null);
    assert.equal(await a.get('d/s0/1.seg'), null, 'a content never archived');
    assert.equal(await a.delete('c/s0/2.seg'), false);
    renameSync(root, `${root}.away`);
    try {
      await unavailable(a.get('c/s0/1.seg', [2, 5]), /its folder is missing \(ENOENT\)/);
      await unavailable(a.delete('c/s0/1.seg'), /its folder is missing/);
    } finally {
      renameSync(`${root}.away`, root);
    }
    assert.equal((await a.get('c/s0/1.seg', [2, 5]))?.toString(), '234');
  });

  it('a file where the folder was: every operation is 503, named; once the folder is back all works again', async () => {
    const root = join(dir, 'blocked');
    const a = createFileArchive({ dir: root });
    await a.put('c/s0/1.seg', Buffer.from('abc'));
    renameSync(root, `${root}.away`);
    writeFileSync(root, 'not a folder');
    try {
      await unavailable(a.get('c/s0/1.seg'), /a file is where its folder should be \(ENOTDIR\)/);
      await unavailable(a.put('c/s0/2.seg', Buffer.from('x')), /a file is where its folder should be/);
      await unavailable(a.delete('c/s0/1.seg'), /a file is where its folder should be/);
      await unavailable(a.deletePrefix('c/'), /a file is where its folder should be/);
    } finally {
      rmSync(root);
      renameSync(`${root}.away`, root);
    }
    await a.put('c/s0/2.seg', Buffer.from('x'));
    assert.equal((await a.get('c/s0/1.seg'))?.toString(), 'abc');
    assert.equal(await a.deletePrefix('c/'), 2);
  });

  it('no archive folder yet (nothing archived): deleting a content removes nothing and is no fault; the first put makes the folder', async () => {
    const a = createFileArchive({ dir: join(dir, 'fresh', 'archive') });
    assert.equal(await a.deletePrefix('c/'), 0);
    await a.put('c/s0/1.seg', Buffer.from('x'));
    assert.equal((await a.get('c/s0/1.seg'))?.toString(), 'x');
  });

  it('unsafe keys stay a plain error (a bug of the caller, not an outage)', async () => {
    const a = createFileArchive({ dir: join(dir, 'safe') });
    await assert.rejects(a.get('../x'), (err: unknown) => !(err instanceof BeamError) && /unsafe/.test((err as Error).message));
  });
});
