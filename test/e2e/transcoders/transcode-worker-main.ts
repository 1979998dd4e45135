/**
 * A transcode worker as its own process, for the SIGKILL test: argv[2] is JSON {redisUrl, bullPrefix, name,
 * concurrency, child}. Prints "worker ready" once it takes jobs; SIGTERM closes it.
 */

import { connectRedis, parseRedisUrl } from '../../../core/store/redis-connection';
import { createTranscodeWorker } from '../../../transcoders/worker';
import type { TranscodeChildConfig } from '../../../transcoders/transcode-processor';

interface MainConfig {
  redisUrl: string;
  bullPrefix: string;
  name: string;
  concurrency: number;
  child: TranscodeChildConfig;
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as MainConfig;
  const connection = connectRedis(parseRedisUrl(c.redisUrl), { maxRetriesPerRequest: null });
  const worker = createTranscodeWorker({ connection }, { prefix: c.bullPrefix, name: c.name, concurrency: c.concurrency, child: c.child });
  await worker.start();
  process.stdout.write('worker ready\n');
  process.once('SIGTERM', () => {
    void worker.close().then(() => connection.quit()).finally(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`worker failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
