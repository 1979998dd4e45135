/** Catch-up storage faults, the pure parts: what a failed S3 or filesystem call means and how it reads. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { isMissingObject, s3FailureReason, DEFAULT_S3_TIMEOUTS } from '../../../core/archive/s3-archive';
import { fsUnavailable } from '../../../core/archive/file-archive';
import { archiveUnavailable } from '../../../core/archive/archive-backend';
import { BeamError } from '../../../core/model/errors';
import { errorResponse } from '../../../engine/api/app';

const t = { connectMs: 3000, idleMs: 5000 };
const sdkError = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('S3 failures', () => {
  it('a missing key is a missing object; a missing bucket, a refusal or a server error is not', () => {
    assert.equal(isMissingObject(sdkError('NoSuchKey', 404)), true);
    assert.equal(isMissingObject(sdkError('NotFound', 404)), true, 'HeadObject: no body, no code');
    assert.equal(isMissingObject(sdkError('NoSuchBucket', 404)), false);
    assert.equal(isMissingObject(sdkError('AccessDenied', 403)), false);
    assert.equal(isMissingObject(sdkError('InternalError', 500)), false);
    assert.equal(isMissingObject(new Error('socket hang up')), false);
    assert.equal(isMissingObject(undefined), false);
  });

  it('each failure reads as what happened, without bucket, host or key', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { name: 'TimeoutError', code: 'ECONNRESET' });
    assert.equal(s3FailureReason(reset, t, null), 'the S3 server reset the connection');
    assert.equal(s3FailureReason(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9000'), { code: 'ECONNREFUSED' }), t, null), 'the S3 server refused the connection');
    assert.equal(s3FailureReason(Object.assign(new Error('getaddrinfo ENOTFOUND s3.internal'), { code: 'ENOTFOUND' }), t, null), "the S3 server's host name does not resolve");
    const connect = Object.assign(new Error('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 3000 ms.'), { name: 'TimeoutError' });
    assert.equal(s3FailureReason(connect, t, null), 'no connection to the S3 server within 3000 ms');
    const idle = Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 5000 ms of inactivity (configured by client requestHandler).'), { name: 'TimeoutError' });
    assert.equal(s3FailureReason(idle, t, null), 'the S3 server stopped answering for 5000 ms');
    assert.equal(s3FailureReason(Object.assign(new Error('Request aborted'), { name: 'AbortError' }), t, 10000), 'the S3 server did not answer within 10000 ms');
    assert.equal(s3FailureReason(sdkError('SlowDown', 503), t, null), 'the S3 server answered SlowDown (HTTP 503)');
    assert.equal(s3FailureReason(sdkError('NoSuchBucket', 404), t, null), 'the S3 server answered NoSuchBucket (HTTP 404)');
    assert.match(s3FailureReason(new Error('x'.repeat(500)), t, null), /^the S3 call failed \(x{120}\)$/);
  });

  it('the default limits bound a get to 10 s and a write to 30 s, with 3 attempts', () => {
    assert.deepEqual(DEFAULT_S3_TIMEOUTS, { connectMs: 3000, idleMs: 5000, readMs: 10000, writeMs: 30000, maxAttempts: 3 });
  });
});

describe('filesystem failures', () => {
  it('name the cause by its code, never the path', () => {
    const e = (code: string) => Object.assign(new Error(`${code}: failed, open '/var/lib/beamline/archive/c/s0/1.seg'`), { code });
    assert.equal(fsUnavailable(e('ENOSPC')).message, 'The archive is unavailable: its disk is full (ENOSPC). Retry shortly.');
    assert.match(fsUnavailable(e('ENOENT')).message, /its folder is missing \(ENOENT\)/);
    assert.match(fsUnavailable(e('ENOTDIR')).message, /a file is where its folder should be/);
    assert.match(fsUnavailable(e('EACCES')).message, /permission denied/);
    assert.match(fsUnavailable(e('EWHATEVER')).message, /its folder cannot be used \(EWHATEVER\)/);
    for (const code of ['ENOSPC', 'EIO', 'EWHATEVER']) assert.doesNotMatch(fsUnavailable(e(code)).message, /\/var\/lib/);
  });
});

describe('an unavailable archive in the API', () => {
  it('answers 503 with its message and a Retry-After, the cause kept for the log', () => {
    const cause = new Error('read ECONNRESET');
    const err = archiveUnavailable('the S3 server reset the connection', cause);
    assert.ok(err instanceof BeamError);
    assert.equal(err.cause, cause);
    assert.deepEqual(errorResponse(err), {
      status: 503,
      body: { statusCode: 503, error: 'Service Unavailable', message: 'The archive is unavailable: the S3 server reset the connection. Retry shortly.' },
      retryAfter: 2,
    });
  });
});
