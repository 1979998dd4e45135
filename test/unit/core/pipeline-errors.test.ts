import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { PIPELINE_ERRORS, PipelineError, fault, faultOf, isPipelineErrorCode } from '../../../core/model/pipeline-errors';
import { createFaultReporter, PIPELINE_ERRORS_METRIC } from '../../../core/observe/fault-reporter';

describe('pipeline error vocabulary', () => {
  it('every code names its component by its prefix', () => {
    const prefix: Record<string, string> = { SRT: 'srt', RTMP: 'rtmp', WHIP: 'whip', INGEST: 'ingest', STORE: 'store', TRANSCODE: 'transcoder', JIT: 'jit' };
    for (const [code, e] of Object.entries(PIPELINE_ERRORS)) assert.equal(e.component, prefix[code.split('_')[0]!], code);
  });

  it('a PipelineError keeps its code through faultOf; anything else takes the fallback with its message', () => {
    const e = new PipelineError('INGEST_KEY_ROTATED');
    assert.deepEqual(faultOf(e, 'INGEST_FAILED'), { component: 'ingest', code: 'INGEST_KEY_ROTATED', fatal: true, message: 'the stream key was rotated' });
    assert.deepEqual(faultOf(new Error('boom'), 'TRANSCODE_JOB_FAILED'), { component: 'transcoder', code: 'TRANSCODE_JOB_FAILED', fatal: true, message: 'boom' });
    assert.equal(faultOf('text', 'JIT_FAILED').message, 'text');
    assert.equal(fault('TRANSCODE_LATE').fatal, false);
    assert.ok(isPipelineErrorCode('STORE_OOM'));
    assert.ok(!isPipelineErrorCode('toString'));
  });

  it('the reporter counts by component and code and logs the fault as fields', async () => {
    const registry = new Registry();
    const lines: Array<[string, object, string]> = [];
    const log = { info: (o: object, m: string) => lines.push(['info', o, m]), warn: (o: object, m: string) => lines.push(['warn', o, m]), error: (o: object, m: string) => lines.push(['error', o, m]) };
    const r = createFaultReporter({ registry, log });
    createFaultReporter({ registry }); // a second role in the same process shares the counter
    r.report(fault('STORE_OOM'), { channel: 'main' });
    r.report(fault('INGEST_ENDED'));
    r.report(fault('TRANSCODE_LATE', 'segment 7 of 720p too late'));
    assert.deepEqual(lines.map((l) => l[0]), ['error', 'info', 'warn']);
    assert.deepEqual(lines[0]![1], { channel: 'main', component: 'store', code: 'STORE_OOM', fatal: true, reason: PIPELINE_ERRORS.STORE_OOM.text });
    const text = await registry.metrics();
    assert.match(text, new RegExp(`${PIPELINE_ERRORS_METRIC}\\{component="store",code="STORE_OOM"\\} 1`));
    assert.match(text, new RegExp(`${PIPELINE_ERRORS_METRIC}\\{component="jit",code="JIT_FAILED"\\} 0`));
  });
});
