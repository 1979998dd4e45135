/**
 * `npm run bench [name …]`: runs the benches (all by default) and prints ours vs reference side by side;
 * `npm run bench -- --help` lists them.
 */

import { renderRows, type Bench, type BenchRow } from './harness';
import { storeWriteBench } from './store-write';
import { demuxBench } from './demux-bench';
import { ingestBench } from './ingest-bench';
import { packagerBench } from './packager-bench';
import { latestJpgBench } from './latest-jpg-bench';
import { transcodeBench } from './transcode-bench';
import { latencyBench } from './latency-bench';
import { archiveBench } from './archive-bench';
import { soakBench } from './soak-bench';
import { whepBench } from './whep-bench';
import { whipBench } from './whip-bench';
import { srtPullBench } from './srt-pull-bench';
import { backupSwitchBench } from './backup-switch-bench';

const BENCHES: Bench[] = [storeWriteBench, demuxBench, ingestBench, transcodeBench, packagerBench, latestJpgBench, latencyBench, whepBench, whipBench, archiveBench, srtPullBench, backupSwitchBench, soakBench];

async function main(names: string[]): Promise<void> {
  if (names.includes('--help') || names.includes('-h')) {
    process.stdout.write(`npm run bench [name …] (all by default):\n${BENCHES.map((b) => `  ${b.name.padEnd(12)} ${b.description}${b.onlyWhenNamed ? ' (only when named)' : ''}`).join('\n')}\n`);
    return;
  }
  const chosen = names.length ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES.filter((b) => !b.onlyWhenNamed);
  if (chosen.length === 0) throw new Error(`unknown bench: ${names.join(', ')}; available: ${BENCHES.map((b) => b.name).join(', ')}`);
  const rows: BenchRow[] = [];
  for (const b of chosen) {
    process.stderr.write(`running ${b.name}: ${b.description}\n`);
    rows.push(...(await b.run()));
  }
  process.stdout.write('\n' + renderRows(rows) + '\n');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
