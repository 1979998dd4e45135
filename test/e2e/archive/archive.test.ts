/** Catch-up storage end to end with the local-folder archive (the default); the suite is in suite.ts. */

import { createFileArchive } from '../../../core/archive/file-archive';
import { archiveSuite } from './suite';

archiveSuite('a local folder', async (dir) => ({ archive: createFileArchive({ dir }), close: async () => undefined }));
