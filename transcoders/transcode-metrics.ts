/**
 * Prometheus metrics of the transcoder role, registered on the Registry the composition root passes in:
 * queue lag, encode speed (× real time) per rung, made / gap / skipped segments, late and dropped segments,
 * alignment errors, and the rung part lag (from a source part to the rung part). A dropped segment's `reason` label comes
 * from the pipeline error code its result carries (segment-result.ts). Pipeline faults themselves are counted
 * by the fault reporter (beam_pipeline_errors_total), from the worker.
 */

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { droppedReason, type SegmentJobResult } from './segment-result';

export interface TranscodeMetrics {
  /** Account one finished job (its result) and how long it waited in the queue. */
  observeJob(result: SegmentJobResult, queueLagSeconds: number): void;
  observeFailure(): void;
}

/** Several workers in one process (or a restarted one) share the registry's metrics. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createTranscodeMetrics(registry: Registry): TranscodeMetrics {
  const registers = [registry];
  const queueLag = once(registry, 'beam_transcode_queue_lag_seconds', () => new Histogram({
    name: 'beam_transcode_queue_lag_seconds',
    help: 'Time from enqueueing a segment job to a worker starting it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers,
  }));
  const speed = once(registry, 'beam_transcode_encode_speed', () => new Gauge({
    name: 'beam_transcode_encode_speed', help: 'Encode speed of the last segment per rung, × real time (media seconds per encode second)', labelNames: ['rung'], registers,
  }));
  const segments = once(registry, 'beam_transcode_segments_total', () => new Counter({
    name: 'beam_transcode_segments_total', help: 'Rung segments by outcome (made, gap, skip)', labelNames: ['rung', 'outcome'], registers,
  }));
  const dropped = once(registry, 'beam_transcode_dropped_segments_total', () => new Counter({
    name: 'beam_transcode_dropped_segments_total', help: 'Rung segments recorded as gaps, by reason (late, orphaned, failed)', labelNames: ['rung', 'reason'], registers,
  }));
  const alignment = once(registry, 'beam_transcode_alignment_errors_total', () => new Counter({
    name: 'beam_transcode_alignment_errors_total', help: 'Rung segments whose first keyframe, timestamps or duration do not match the source segment', labelNames: ['rung'], registers,
  }));
  // The rung part lag: every part of a made segment, those announced before its job started included.
  const partDelay = once(registry, 'beam_transcode_part_delay_seconds', () => new Histogram({
    name: 'beam_transcode_part_delay_seconds',
    help: 'Rung part lag: time from a source part being announced (part:ready) to the rung part being announced (rendition:ready)',
    labelNames: ['rung'],
    buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 4],
    registers,
  }));
  const failures = once(registry, 'beam_transcode_job_failures_total', () => new Counter({
    name: 'beam_transcode_job_failures_total', help: 'Jobs that failed (a crashed sandbox or an error outside the segment work)', registers,
  }));

  return {
    observeJob(result, lag) {
      queueLag.observe(lag);
      for (const r of result.rungs) {
        segments.inc({ rung: r.rung, outcome: r.action });
        if (r.action === 'gap') dropped.inc({ rung: r.rung, reason: droppedReason(r.code) });
        if (r.action === 'made') {
          if (r.encodeSeconds > 0) speed.set({ rung: r.rung }, r.mediaSeconds / r.encodeSeconds);
          if (r.alignmentProblems.length) alignment.inc({ rung: r.rung });
          for (const ms of r.partDelaysMs) partDelay.observe({ rung: r.rung }, ms / 1000);
        }
      }
    },
    observeFailure() {
      failures.inc();
    },
  };
}
