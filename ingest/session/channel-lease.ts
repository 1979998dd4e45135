/**
 * One publisher per channel across every ingest process: the session holds the channel's lease in Redis
 * while it runs (renewed every third of its time-to-live; it expires when the process dies). A newcomer that
 * finds it held asks for a takeover and waits: the holder sees the request at its next renewal and ends its
 * session (a new connection with the same key replaces the old one, as within one process), or the lease of
 * a dead holder expires. Renewal failures while Redis is unreachable are not a loss: the holder takes the
 * lease back when Redis returns, unless another process took it meanwhile. A backup input takes the lease only
 * when it is free (tryAcquire): it never asks a primary in another process to give the channel up.
 */

import { fault, PipelineError, type PipelineFault } from '../../core/model/pipeline-errors';
import type { LiveStore } from '../../core/store/live-store';

export interface ChannelLeaseDeps {
  live: Pick<LiveStore, 'acquireLease' | 'renewLease' | 'releaseLease'>;
  /** The lease was lost or another process took the channel over: end the session with this fault. */
  onLost: (f: PipelineFault) => void;
  log: { warn(obj: object, msg?: string): void };
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface ChannelLeaseConfig {
  channel: string;
  holder: string;
  ttlMs: number;
}

export interface ChannelLease {
  readonly holder: string;
  /** Takes the lease, waiting up to the lease time (plus a renewal beat) for a holder to give it up; throws INGEST_LEASE_HELD. */
  acquire(): Promise<void>;
  /** Takes the lease only when it is free, leaving no takeover request (a backup input): whether it was taken. */
  tryAcquire(): Promise<boolean>;
  /** Stops renewing and releases the lease (errors are logged: the lease then expires by itself). */
  release(): Promise<void>;
}

export function createChannelLease(deps: ChannelLeaseDeps, config: ChannelLeaseConfig): ChannelLease {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  const beat = Math.max(100, Math.floor(config.ttlMs / 3));
  let timer: NodeJS.Timeout | null = null;
  let done = false;

  async function renew(): Promise<void> {
    let state: 'held' | 'takeover' | 'lost';
    try {
      state = await deps.live.renewLease(config.channel, config.holder, config.ttlMs);
    } catch (err) {
      deps.log.warn({ channel: config.channel, err: (err as Error).message }, 'could not renew the channel lease (Redis unreachable?); retrying');
      return;
    }
    if (done || state === 'held') return;
    stop();
    deps.onLost(state === 'takeover'
      ? fault('INGEST_REPLACED', 'replaced by a new connection with the same key (through another ingest process)')
      : fault('INGEST_LEASE_LOST'));
  }

  function stop(): void {
    done = true;
    if (timer) clearInterval(timer);
    timer = null;
  }

  return {
    holder: config.holder,
    async acquire() {
      const deadline = now() + config.ttlMs + beat + 500;
      for (;;) {
        if (await deps.live.acquireLease(config.channel, config.holder, config.ttlMs)) break;
        if (now() >= deadline) throw new PipelineError('INGEST_LEASE_HELD');
        await sleep(Math.min(250, beat));
      }
      timer = setInterval(() => void renew(), beat);
      timer.unref();
    },
    async tryAcquire() {
      if (!(await deps.live.acquireLease(config.channel, config.holder, config.ttlMs, { request: false }))) return false;
      done = false;
      timer = setInterval(() => void renew(), beat);
      timer.unref();
      return true;
    },
    async release() {
      stop();
      try {
        await deps.live.releaseLease(config.channel, config.holder);
      } catch (err) {
        deps.log.warn({ channel: config.channel, err: (err as Error).message }, 'could not release the channel lease; it expires by itself');
      }
    },
  };
}
