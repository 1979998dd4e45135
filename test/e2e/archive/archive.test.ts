/**
 * Catch-up storage end to end with the local-folder archive (the default); the suite is in suite.ts. Its
 * outage is real, and holds for root too: the archive folder is moved away and a plain file put in its
 * place, so every write and read fails (ENOTDIR) until the folder is moved back.
 */

import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileArchive } from '../../../core/archive/file-archive';
import { archiveSuite } from './suite';

archiveSuite('a local folder', async (dir) => {
  const root = join(dir, 'archive');
  return {
    archive: createFileArchive({ dir: root }),
    close: async () => undefined,
    outage: {
      async begin() {
        await rename(root, `${root}.away`);
        await writeFile(root, 'not a folder');
      },
      async end() {
        await rm(root, { force: true });
        await rename(`${root}.away`, root);
      },
    },
  };
}, { outage: true });
