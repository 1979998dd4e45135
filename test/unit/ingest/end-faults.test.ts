// How a publish ends or a publisher is refused, as pipeline faults: the reason → code mapping, table-driven.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { fault, PIPELINE_ERRORS, PipelineError } from '../../../core/model/pipeline-errors';
import { failedFault, sourceEndFault, storeEndFault } from '../../../ingest/end-faults';
import { STORE_FAULT_CODES } from '../../../ingest/store-errors';
import { classifyStoreError } from '../../../ingest/store-errors';
import { disconnectExtra, mergeStatusExtra } from '../../../ingest/ingest-service';
import { connectionCloseFault } from '../../../ingest/rtmp/rtmp-connection';

describe('sourceEndFault: a connection that closed by itself', () => {
  const cases: { protocol: 'srt' | 'rtmp'; reason: string; code: string }[] = [
    { protocol: 'rtmp', reason: 'unpublished: FCUnpublish from the publisher', code: 'INGEST_ENDED' },
    { protocol: 'rtmp', reason: 'unpublished: deleteStream from the publisher', code: 'INGEST_ENDED' },
    { protocol: 'rtmp', reason: 'disconnected: the publisher closed the connection', code: 'INGEST_ENDED' },
    { protocol: 'rtmp', reason: 'closed: closed by the server', code: 'INGEST_ENDED' },
    { protocol: 'rtmp', reason: 'idle: no media for 3000 ms', code: 'INGEST_IDLE' },
    { protocol: 'rtmp', reason: 'replaced: replaced by a new publish from 127.0.0.1:5000', code: 'INGEST_REPLACED' },
    { protocol: 'rtmp', reason: 'shutdown: the server is shutting down', code: 'INGEST_SHUTDOWN' },
    { protocol: 'rtmp', reason: 'protocol-error: chunk stream: message of 9000000 bytes exceeds the limit', code: 'RTMP_PROTOCOL' },
    { protocol: 'rtmp', reason: 'unsupported-codec: video codec VP6 is not supported: publish H.264', code: 'INGEST_FAILED' },
    { protocol: 'rtmp', reason: 'something new', code: 'INGEST_FAILED' },
    { protocol: 'srt', reason: 'closed by peer', code: 'INGEST_ENDED' },
    { protocol: 'srt', reason: 'idle', code: 'INGEST_IDLE' },
    { protocol: 'srt', reason: 'connection lost (peer silent for 5000 ms)', code: 'INGEST_IDLE' },
    { protocol: 'srt', reason: 'server closed', code: 'INGEST_SHUTDOWN' },
    { protocol: 'srt', reason: 'receive error: Connection was broken', code: 'INGEST_FAILED' },
  ];
  for (const c of cases) {
    it(`${c.protocol} '${c.reason}' → ${c.code}`, () => {
      const f = sourceEndFault(c.protocol, c.reason);
      assert.equal(f.code, c.code);
      assert.equal(f.message, c.reason, 'the human text is kept as it is');
      assert.equal(f.component, PIPELINE_ERRORS[f.code].component);
      assert.equal(f.fatal, PIPELINE_ERRORS[f.code].fatal);
    });
  }
});

describe('ends the ingest service decides keep the texts operators read', () => {
  const texts: [Parameters<typeof fault>[0], string][] = [
    ['INGEST_ENDED', 'publisher ended the stream'],
    ['INGEST_KEY_ROTATED', 'the stream key was rotated'],
    ['INGEST_CHANNEL_DELETED', 'the channel was deleted'],
    ['INGEST_REPLACED', 'replaced by a new connection with the same key'],
    ['INGEST_SHUTDOWN', 'server shutting down'],
    ['INGEST_UNKNOWN_CHANNEL', 'unknown channel'],
  ];
  for (const [code, text] of texts) it(code, () => assert.equal(fault(code).message, text));
});

describe('store failures', () => {
  it('every kind has its code, and the reason says ingest stopped', () => {
    const cases: [unknown, string, RegExp][] = [
      [new Error("OOM command not allowed when used memory > 'maxmemory'."), 'STORE_OOM', /^ingest stopped: Redis refused writes: out of memory/],
      [new Error("READONLY You can't write against a read only replica."), 'STORE_READONLY', /^ingest stopped: Redis refused writes: read-only/],
      [new Error('Connection is closed.'), 'STORE_UNAVAILABLE', /^ingest stopped: Redis unavailable: connection lost$/],
      [new TypeError('boom'), 'STORE_FAILED', /^ingest stopped: boom$/],
    ];
    for (const [err, code, text] of cases) {
      const f = storeEndFault(classifyStoreError(err));
      assert.equal(f.code, code);
      assert.match(f.message, text);
      assert.equal(f.component, 'store');
    }
    assert.deepEqual(Object.keys(STORE_FAULT_CODES).sort(), ['connection', 'oom', 'other', 'readonly']);
  });

  it('a failure is `ingest failed: …`; a PipelineError keeps its own code', () => {
    assert.deepEqual(failedFault(new Error('no media streams within 10 s')), fault('INGEST_FAILED', 'ingest failed: no media streams within 10 s'));
    assert.deepEqual(failedFault(new PipelineError('INGEST_IDLE')), fault('INGEST_IDLE'));
  });
});

describe('RTMP connections closed without a publish running', () => {
  it('a violation is RTMP_PROTOCOL, a timeout before any publish a refusal, after one an idle end', () => {
    assert.equal(connectionCloseFault('protocol-error', 'x', false).code, 'RTMP_PROTOCOL');
    assert.equal(connectionCloseFault('idle', 'no publish within 5000 ms', false).code, 'RTMP_REFUSED');
    assert.equal(connectionCloseFault('idle', 'no publish within 5000 ms', true).code, 'INGEST_IDLE');
    assert.equal(connectionCloseFault('shutdown', 'the server is shutting down', false).code, 'INGEST_SHUTDOWN');
    assert.equal(connectionCloseFault('idle', 'no publish within 5000 ms', false).message, 'no publish within 5000 ms');
  });
});

describe('channel status writes', () => {
  it('a disconnect carries the reason and its code', () => {
    assert.deepEqual(disconnectExtra(fault('INGEST_KEY_ROTATED')), { disconnected: true, reason: 'the stream key was rotated', code: 'INGEST_KEY_ROTATED' });
  });
  it('a retried write keeps the reason and code it failed with until a later one replaces both', () => {
    const failed = disconnectExtra(fault('STORE_OOM', 'ingest stopped: Redis refused writes: out of memory (maxmemory reached)'));
    assert.deepEqual(mergeStatusExtra(failed, {}), failed);
    assert.deepEqual(mergeStatusExtra(failed, { connected: true }), { ...failed, connected: true });
    assert.deepEqual(mergeStatusExtra(failed, disconnectExtra(fault('INGEST_ENDED'))), disconnectExtra(fault('INGEST_ENDED')));
    assert.deepEqual(mergeStatusExtra({ connected: true }, {}), { connected: true }, 'no reason, no code fields');
  });
});
