/**
 * Catch-up storage end to end with the S3 archive, on an S3-protocol server started by the test (fauxqs,
 * in memory, on loopback); the suite is in suite.ts.
 */

import { createS3Archive } from '../../../core/archive/s3-archive';
import { archiveSuite } from './suite';

archiveSuite('S3', async () => {
  const { startFauxqs } = (await import('fauxqs')) as unknown as { startFauxqs(o: object): Promise<{ address: string; createBucket(n: string): unknown; stop(): Promise<void> }> };
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  server.createBucket('beam-e2e');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const archive = createS3Archive({ bucket: 'beam-e2e', prefix: 'live/', endpoint: server.address, region: 'us-east-1' });
  return {
    archive,
    close: async () => {
      archive.close();
      await server.stop();
    },
  };
});
