import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { isRedisUnavailable, redisFailureKind } from '../../../core/store/redis-errors';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('what a failed Redis call means (one classifier for every role)', () => {
  const table: [unknown, string][] = [
    [new Error('Connection is closed.'), 'connection'],
    [new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'), 'connection'],
    [named('ClusterAllFailedError', 'Failed to refresh slots cache.'), 'connection'],
    [named('ReplyError', 'CLUSTERDOWN The cluster is down'), 'connection'],
    [named('ReplyError', 'TRYAGAIN Multiple keys request during rehashing of slot'), 'connection'],
    [named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 3).'), 'connection'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), 'connection'],
    [named('ReplyError', "OOM command not allowed when used memory > 'maxmemory'."), 'oom'],
    [Object.assign(named('ReplyError', 'EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new Error('OOM command not allowed')] }), 'oom'],
    [named('ReplyError', "READONLY You can't write against a read only replica."), 'readonly'],
    [new Error('Cannot read properties of undefined'), 'other'],
    [named('ReplyError', 'ERR wrong number of arguments'), 'other'],
    [named('ReplyError', 'BUSYGROUP Consumer Group name already exists'), 'other'],
  ];
  for (const [err, kind] of table) {
    it(`${(err as Error).message.slice(0, 60)} → ${kind}`, () => {
      assert.equal(redisFailureKind(err), kind);
      assert.equal(isRedisUnavailable(err), kind !== 'other');
    });
  }
});
