/**
 * The local-directory archive backend: one file per object under `dir`, the key being its relative path.
 * put writes a temporary file beside the object, flushes it and renames it over the object (atomic on one
 * filesystem), so a reader never sees a partial object; get reads just the asked range, getStream streams it (`createReadStream` on the open file).
 *
 * Faults: a missing file is a missing object (null / false) only while the archive folder itself is there; a
 * read when the folder is gone (moved, unmounted, a file in its place), and any other I/O failure (disk full,
 * permission, I/O error), is `archiveUnavailable` naming the cause. put makes missing folders, the archive
 * folder included (an operator who fixed a broken folder needs no restart).
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { archiveUnavailable, type ArchiveBackend } from './archive-backend';
import { isSafeKey } from './object-keys';
import type { BeamError } from '../model/errors';

export interface FileArchiveConfig {
  dir: string;
}

const TEMP_SUFFIX = '.tmp-';

const FS_REASONS: Record<string, string> = {
  ENOSPC: 'its disk is full',
  EDQUOT: 'its disk quota is exhausted',
  EACCES: 'permission denied on its folder',
  EPERM: 'permission denied on its folder',
  EROFS: 'its folder is on a read-only filesystem',
  ENOTDIR: 'a file is where its folder should be',
  EEXIST: 'a file is where its folder should be',
  EIO: 'its disk reports an I/O error',
  EMFILE: 'the process has too many open files',
  ENFILE: 'the system has too many open files',
  ENOENT: 'its folder is missing',
  ESTALE: 'its network folder went away',
  ENOTCONN: 'its network folder went away',
};

/** Pure: a filesystem failure as archiveUnavailable (the reason names the cause, not the path). */
export function fsUnavailable(err: unknown): BeamError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return archiveUnavailable(code && FS_REASONS[code] ? `${FS_REASONS[code]} (${code})` : `its folder cannot be used (${code ?? (err as Error)?.message ?? String(err)})`, err);
}

export function createFileArchive(config: FileArchiveConfig): ArchiveBackend {
  const root = resolve(config.dir);

  function pathOf(key: string, prefix = false): string {
    if (!isSafeKey(key, prefix)) throw new Error(`archive: refused unsafe key '${key.slice(0, 80)}'`);
    const p = resolve(root, key);
    if (p !== root && !p.startsWith(root + sep)) throw new Error(`archive: key '${key.slice(0, 80)}' leaves the archive directory`);
    return p;
  }

  /** Whether the archive folder is there (a folder): what a missing file means depends on it. */
  async function rootIsThere(): Promise<boolean> {
    try {
      return (await stat(root)).isDirectory();
    } catch {
      return false;
    }
  }

  /** A missing file (ENOENT) is a missing object while the archive folder is there; anything else is a fault. */
  async function missingOrFault(e: unknown): Promise<void> {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && (await rootIsThere())) return;
    throw fsUnavailable(e);
  }

  /** Files under `dir` (recursively), as keys relative to the root; none when it does not exist. */
  async function filesUnder(dir: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      // Nothing there (a content never archived, or no archive folder yet): nothing to list.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsUnavailable(e);
    }
    const out: string[] = [];
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await filesUnder(p)));
      else out.push(p.slice(root.length + 1).split(sep).join('/'));
    }
    return out;
  }

  return {
    async put(key, body) {
      const target = pathOf(key);
      const temp = `${target}${TEMP_SUFFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await mkdir(dirname(target), { recursive: true });
        await writeFile(temp, body, { flush: true });
        await rename(temp, target);
      } catch (e) {
        await unlink(temp).catch(() => undefined);
        throw fsUnavailable(e);
      }
    },

    async get(key, range) {
      const path = pathOf(key);
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        await missingOrFault(e);
        return null;
      }
      try {
        const size = (await fh.stat()).size;
        const start = range ? Math.max(0, range[0]) : 0;
        const end = range ? Math.min(size, range[1]) : size;
        if (end <= start) return Buffer.alloc(0);
        const buf = Buffer.alloc(end - start);
        let done = 0;
        while (done < buf.length) {
          const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === buf.length ? buf : buf.subarray(0, done);
      } catch (e) {
        throw fsUnavailable(e);
      } finally {
        await fh.close().catch(() => undefined);
      }
    },

    async getStream(key, range) {
      if (!(range[0] >= 0 && range[1] >= range[0])) throw new Error(`archive getStream: bad range ${range[0]}-${range[1]}`);
      const path = pathOf(key);
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        await missingOrFault(e);
        return null;
      }
      let size;
      try {
        size = (await fh.stat()).size;
      } catch (e) {
        await fh.close().catch(() => undefined);
        throw fsUnavailable(e);
      }
      const end = Math.min(size, range[1]);
      if (end <= range[0]) {
        await fh.close().catch(() => undefined);
        return Readable.from([]);
      }
      // The stream owns the handle (closed at its end or on destroy); an I/O error becomes archiveUnavailable.
      const raw = fh.createReadStream({ start: range[0], end: end - 1, highWaterMark: 64 * 1024 });
      const out = new PassThrough({ highWaterMark: 64 * 1024 });
      raw.on('error', (e) => out.destroy(fsUnavailable(e)));
      out.on('close', () => raw.destroy());
      raw.pipe(out);
      return out;
    },

    async delete(key) {
      const path = pathOf(key);
      try {
        await unlink(path);
        return true;
      } catch (e) {
        await missingOrFault(e);
        return false;
      }
    },

    async deletePrefix(prefix) {
      const base = pathOf(prefix, true);
      // A prefix ending at a folder removes that folder; any other prefix filters the files of its parent folder.
      const folder = prefix.endsWith('/') ? base : dirname(base);
      const keys = (await filesUnder(folder)).filter((k) => k.startsWith(prefix) && !k.includes(TEMP_SUFFIX));
      let removed = 0;
      for (const k of keys) {
        try {
          await unlink(join(root, k));
          removed++;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsUnavailable(e);
        }
      }
      if (prefix.endsWith('/')) {
        try {
          await rm(base, { recursive: true, force: true });
        } catch (e) {
          throw fsUnavailable(e);
        }
      }
      return removed;
    },

    async *list(prefix, opts) {
      if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`archive list: prefix '${prefix.slice(0, 80)}' must end with '/'`);
      const folder = prefix === '' ? root : pathOf(prefix, true);
      if (opts?.folders) {
        let entries;
        try {
          entries = await readdir(folder, { withFileTypes: true });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw fsUnavailable(e);
        }
        for (const e of entries) if (e.isDirectory() && isSafeKey(e.name)) yield `${prefix}${e.name}/`;
        return;
      }
      for (const k of await filesUnder(folder)) if (!k.includes(TEMP_SUFFIX)) yield k;
    },
  };
}
