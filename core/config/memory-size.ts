/**
 * The embedded redis-server's memory limit (`redis.maxmemory`, BEAM_REDIS_MAXMEMORY): the size forms it
 * accepts and the default derived from the machine's memory. Pure.
 */

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

/** The smallest limit other than 0 (no limit): below it Redis cannot hold even the channel registry and queues. */
export const MIN_MAXMEMORY = 1 * MIB;

/** The default is never below this, however small the machine. */
export const DEFAULT_MAXMEMORY_FLOOR = 256 * MIB;

const UNITS: Record<string, number> = { '': 1, b: 1, kb: KIB, mb: MIB, gb: GIB };

/**
 * A size as redis.conf writes it, 1024-based: `1073741824`, `512mb`, `4gb`, `64kb` (case-insensitive), `0`
 * for no limit. Returns the bytes, or null when the text is no such size (a fraction, a bare `k`/`m`/`g`,
 * which redis.conf reads as 1000-based, a negative number, more than 2^53 bytes).
 */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = UNITS[(m[2] as string).toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Whether a value is a usable limit: 0 (no limit) or a whole number of bytes from MIN_MAXMEMORY up. */
export function isMaxmemory(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v === 0 || (v as number) >= MIN_MAXMEMORY);
}

/**
 * The default limit for a machine with `machineBytes` of memory: half of it, rounded down to a whole MiB,
 * and at least DEFAULT_MAXMEMORY_FLOOR. The other half is for what runs beside Redis on the same machine
 * (x264 and the decoder of each transcoded channel, the Node processes, the packager's segment cache) and
 * for the copy-on-write pages of a background rewrite when persistence is on.
 */
export function defaultMaxmemory(machineBytes: number): number {
  const half = Math.floor(Math.max(0, machineBytes) / 2 / MIB) * MIB;
  return Math.max(DEFAULT_MAXMEMORY_FLOOR, half);
}

/** The memory this process may use: the machine's, or a smaller container (cgroup) limit when one is set. */
export function machineMemory(totalBytes: number, constrainedBytes: number | undefined): number {
  const limited = constrainedBytes !== undefined && Number.isFinite(constrainedBytes) && constrainedBytes > 0;
  return limited ? Math.min(totalBytes, constrainedBytes) : totalBytes;
}

/** The limit the embedded redis-server runs with: the setting, or (null, "auto") the default for the machine. */
export function embeddedMaxmemory(setting: number | null, machineBytes: number): number {
  return setting ?? defaultMaxmemory(machineBytes);
}

/** `4.0 GiB`, `512 MiB`, `900 KiB`, `0 B`: for messages and the start-up banner. */
export function formatBinarySize(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(1)} GiB`;
  if (bytes >= MIB) return `${Math.round(bytes / MIB)} MiB`;
  if (bytes >= KIB) return `${Math.round(bytes / KIB)} KiB`;
  return `${bytes} B`;
}
