// What a failed Redis call means for a publish: table-driven, with the errors ioredis actually raises.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { classifyStoreError } from '../../../ingest/store-errors';
import { isRedisUnavailable } from '../../../core/store/redis-errors';

function execAbort(inner: string): Error {
  const e = new Error('EXECABORT Transaction discarded because of previous errors.') as Error & { previousErrors: Error[] };
  e.previousErrors = [new Error(inner)];
  return e;
}

describe('classifyStoreError', () => {
  const cases: { name: string; err: unknown; kind: string; reason?: RegExp }[] = [
    { name: 'a write under maxmemory (issue 10: node exited on this)', err: new Error("OOM command not allowed when used memory > 'maxmemory'."), kind: 'oom', reason: /out of memory/ },
    { name: 'a MULTI refused at EXEC carries the OOM of its commands', err: execAbort("OOM command not allowed when used memory > 'maxmemory'."), kind: 'oom' },
    { name: 'a replica', err: new Error("READONLY You can't write against a read only replica."), kind: 'readonly', reason: /read-only/ },
    { name: 'the connection closed', err: new Error('Connection is closed.'), kind: 'connection', reason: /connection lost/ },
    { name: 'retries exhausted while reconnecting', err: new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.'), kind: 'connection' },
    { name: 'refused socket', err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), kind: 'connection' },
    { name: 'a bug is not an outage', err: new TypeError("Cannot read properties of undefined (reading 'index')"), kind: 'other' },
    { name: 'a string thrown', err: 'boom', kind: 'other' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = classifyStoreError(c.err);
      assert.equal(f.kind, c.kind);
      if (c.reason) assert.match(f.reason, c.reason);
      assert.equal(isRedisUnavailable(c.err), c.kind !== 'other');
    });
  }
  it('never echoes a long message in full', () => {
    assert.ok(classifyStoreError(new Error('x'.repeat(1000))).reason.length <= 201);
  });
});
