/**
 * The local-directory archive backend: one file per object under `dir`, the key being its relative path.
 * put writes a temporary file beside the object, flushes it and renames it over the object (atomic on one
 * filesystem), so a reader never sees a partial object; get reads just the asked range.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { ArchiveBackend } from './archive-backend';
import { isSafeKey } from './object-keys';

export interface FileArchiveConfig {
  dir: string;
}

const TEMP_SUFFIX = '.tmp-';

export function createFileArchive(config: FileArchiveConfig): ArchiveBackend {
  const root = resolve(config.dir);

  function pathOf(key: string, prefix = false): string {
    if (!isSafeKey(key, prefix)) throw new Error(`archive: refused unsafe key '${key.slice(0, 80)}'`);
    const p = resolve(root, key);
    if (p !== root && !p.startsWith(root + sep)) throw new Error(`archive: key '${key.slice(0, 80)}' leaves the archive directory`);
    return p;
  }

  /** Files under `dir` (recursively), as keys relative to the root; none when it does not exist. */
  async function filesUnder(dir: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw e;
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
      await mkdir(dirname(target), { recursive: true });
      const temp = `${target}${TEMP_SUFFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await writeFile(temp, body, { flush: true });
        await rename(temp, target);
      } catch (e) {
        await unlink(temp).catch(() => undefined);
        throw e;
      }
    },

    async get(key, range) {
      const path = pathOf(key);
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
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
      } finally {
        await fh.close();
      }
    },

    async delete(key) {
      try {
        await unlink(pathOf(key));
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
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
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      if (prefix.endsWith('/')) await rm(base, { recursive: true, force: true });
      return removed;
    },
  };
}
