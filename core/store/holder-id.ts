/**
 * Who holds a lock or lease in Redis (a channel's ingest lease, the archiver's per-channel lock): this
 * process — host, pid and a random tag, since pids repeat across restarts and containers — and which of its
 * holders, numbered, so two holders in one process (two publish sessions, two archivers) never pass for one.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

const PROCESS = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
let next = 0;

/** A holder id unique to this call: `<host>:<pid>:<tag>:<what>:<n>`. */
export function newHolderId(what: string): string {
  return `${PROCESS}:${what}:${++next}`;
}
