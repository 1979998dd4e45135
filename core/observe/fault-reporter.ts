/**
 * The one place a role reports a pipeline fault: a structured log line `{component, code, fatal, reason}`
 * and the counter `beam_pipeline_errors_total{component, code}` (labels are codes, never client text).
 * Roles sharing a process share the registry and so the counter.
 */

import { Counter, type Registry } from 'prom-client';
import { PIPELINE_ERRORS, logFields, type PipelineFault } from '../model/pipeline-errors';

export const PIPELINE_ERRORS_METRIC = 'beam_pipeline_errors_total';

export interface FaultLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FaultReporter {
  /** Logs and counts one fault; `context` (channel, peer, job…) is added to the log line only. */
  report(f: PipelineFault, context?: Record<string, unknown>): void;
}

function counterIn(registry: Registry): Counter<'component' | 'code'> {
  const existing = registry.getSingleMetric(PIPELINE_ERRORS_METRIC);
  if (existing) return existing as Counter<'component' | 'code'>;
  const c = new Counter({
    name: PIPELINE_ERRORS_METRIC,
    help: 'Pipeline faults (ingest, transcoders, frame images and clips), by component and code; fatal ones ended a publish or a job',
    labelNames: ['component', 'code'],
    registers: [registry],
  });
  // Every code is exported from the start (at 0), so a dashboard can rate() a code before it first happens.
  for (const [code, e] of Object.entries(PIPELINE_ERRORS)) c.inc({ component: e.component, code }, 0);
  return c;
}

export function createFaultReporter(deps: { registry?: Registry; log?: FaultLog }): FaultReporter {
  const counter = deps.registry ? counterIn(deps.registry) : null;
  return {
    report(f, context = {}) {
      counter?.inc({ component: f.component, code: f.code });
      const line = { ...context, ...logFields(f) };
      // A normal end (the publisher stopped) is information, a non-fatal fault a warning, a fatal one an error
      // only when the pipeline failed by itself (store, transcoder, jit); an operator action is a warning.
      if (f.code === 'INGEST_ENDED') deps.log?.info(line, f.message);
      else if (f.fatal && (f.component === 'store' || f.component === 'transcoder' || f.component === 'jit' || f.code === 'INGEST_FAILED')) deps.log?.error(line, f.message);
      else deps.log?.warn(line, f.message);
    },
  };
}
