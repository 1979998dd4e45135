/**
 * Imported first by the composition root (beside threadpool.ts): how far V8 lets the old generation grow after a
 * full collection before it starts the next one.
 *
 * V8 counts the ArrayBuffer bytes allocated since its last full collection (every Node Buffer over 4 KiB is one)
 * against the old generation's limit, even those the next young collection frees. An ingest allocates Buffers at
 * about three times its media rate (the SRT batch, the demuxed packet, formerly ioredis's copy of the payload) and
 * little else survives, so V8 judged the heap slow-growing and set the next limit only 8 MB plus the young
 * generation above what was live (~25 MB): the Buffers allocated between two young collections filled that, and
 * V8 started marking again right after each full collection finished (start reason "task", old space flat). In
 * about two runs of three, 20 channels then paid three or four full collections a second, for as long as they
 * ran (~0.005–0.008 CPU-s per channel per media-second, a quarter of the process); the other runs, one every ten
 * seconds or more. With the limit set at twice what was live, every run was the good one (see docs/architecture.md,
 * "Memory and V8's collector").
 *
 * `--heap-growing-percent` is read by V8 each time it sets a limit, so it can be set here, after start-up. An
 * operator's own value (node's command line or NODE_OPTIONS) is respected.
 */
import { setFlagsFromString } from 'node:v8';

/** The old generation may grow to (1 + this / 100) times what was live after a full collection (V8 picks 1.1–4× itself). */
export const HEAP_GROWING_PERCENT = 100;

/** The V8 option to set, or null when node's command line or NODE_OPTIONS already gives one (`_` and `-` alike). */
export function heapGrowingFlag(execArgv: readonly string[], nodeOptions: string | undefined): string | null {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  return given ? null : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

const flag = heapGrowingFlag(process.execArgv, process.env.NODE_OPTIONS);
if (flag) setFlagsFromString(flag);
