import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { JobError } from '../../../engine/jobs/job-types';
import type { WorkerJob } from '../../../engine/jobs/worker';
import type { Format } from '../../../core/model/media';
import { createJitFunctions, isServerFailure } from '../../../transcoders/jit/jit-functions';
import { PIPELINE_ERRORS_METRIC } from '../../../core/observe/fault-reporter';

/** A job whose only store read (the content's format) gives `format` or throws it. */
function jobWith(path: string, format: () => Promise<Format | null>): WorkerJob {
  return { id: 'j1', data: { path, query: {} }, store: { getFormat: format } } as unknown as WorkerJob;
}

function setup() {
  const registry = new Registry();
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const jit = createJitFunctions({ registry, log: { info: at('info'), warn: at('warn'), error: at('error') } });
  const count = async () => ((await registry.getSingleMetric(PIPELINE_ERRORS_METRIC)?.get())?.values ?? []).filter((v) => v.labels.code === 'JIT_FAILED').reduce((n, v) => n + v.value, 0);
  return { jit, lines, count };
}

describe('jit failures as pipeline faults', () => {
  it('a server-side failure is one with no status or a 5xx one', () => {
    assert.equal(isServerFailure(new Error('connection lost')), true);
    assert.equal(isServerFailure(new JobError(500, 'The image scaler produced no frame.')), true);
    assert.equal(isServerFailure(new JobError(404, 'gone')), false);
    assert.equal(isServerFailure(new JobError(422, 'cannot decode')), false);
  });

  it('a frame image failing for the server is reported as JIT_FAILED and still fails the job', async () => {
    const { jit, lines, count } = setup();
    await assert.rejects(jit.frameImage(jobWith('/beams/main/video/latest.jpg', () => Promise.reject(new Error('connection lost')))), /connection lost/);
    assert.equal(await count(), 1);
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0]?.obj, { fn: 'frameImage', job: 'j1', path: '/beams/main/video/latest.jpg', component: 'jit', code: 'JIT_FAILED', fatal: true, reason: 'connection lost' });
    assert.equal(lines[0]?.level, 'error');
  });

  it('a client refusal (a missing content item, a bad path) is not a fault', async () => {
    const { jit, lines, count } = setup();
    await assert.rejects(jit.clipMp4(jobWith('/beams/nope/all/0-100.mp4', () => Promise.resolve(null))), (e: unknown) => e instanceof JobError && e.statusCode === 404);
    await assert.rejects(jit.frameImage(jobWith('/beams/main/video/nothing.gif', () => Promise.resolve(null))), (e: unknown) => e instanceof JobError && e.statusCode === 400);
    assert.equal(await count(), 0);
    assert.deepEqual(lines, []);
  });
});
