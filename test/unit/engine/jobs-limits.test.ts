/** Pure parts of bounded jobs: the rate limiter (window, memory bound, IPv6 /64), job headers, default identity. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { clientKey, createRateLimiter } from '../../../engine/jobs/rate-limiter';
import { canonicalUrl, defaultIdentity, jobHeaders } from '../../../engine/jobs/job-identity';

describe('rate limiter', () => {
  it('allows max per window, then refuses with the seconds left; a new window starts afresh', () => {
    const l = createRateLimiter({ max: 3, windowMs: 60000, maxClients: 10 });
    for (let i = 0; i < 3; i++) assert.equal(l.hit('a', 1000 + i).allowed, true);
    const over = l.hit('a', 21000);
    assert.equal(over.allowed, false);
    assert.equal(over.retryAfterS, 40);
    assert.equal(l.hit('b', 21000).allowed, true, 'clients are counted apart');
    assert.equal(l.hit('a', 61000).allowed, true, 'the next window');
  });
  it('0 means no limit', () => {
    const l = createRateLimiter({ max: 0, windowMs: 60000, maxClients: 10 });
    for (let i = 0; i < 100; i++) assert.equal(l.hit('a').allowed, true);
    assert.equal(l.size(), 0);
  });
  it('remembers at most maxClients (an address spray costs bounded memory)', () => {
    const l = createRateLimiter({ max: 5, windowMs: 60000, maxClients: 100 });
    for (let i = 0; i < 10000; i++) l.hit(`10.0.${i >> 8}.${i & 255}`, 1000 + i);
    assert.equal(l.size(), 100);
    for (let i = 0; i < 50; i++) l.hit(`x${i}`, 200000);
    assert.equal(l.size(), 50, 'expired windows are forgotten');
  });
  it('counts IPv6 per /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(clientKey('2001:db8:1:2::1'), clientKey('2001:0db8:0001:0002:ffff:1:2:3'));
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
    assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey(undefined), 'unknown');
  });
});

describe('job data', () => {
  it('keeps allow-listed headers only: never credentials or client addresses', () => {
    const h = jobHeaders({
      Authorization: 'Bearer t', cookie: 'c', 'proxy-authorization': 'p', 'x-forwarded-for': '1.2.3.4', 'x-api-key': 'k',
      host: 'h', accept: ['image/*', 'image/png'], 'beam-job-chain': 'q/f', 'user-agent': 'u'.repeat(5000),
    });
    assert.deepEqual(Object.keys(h).sort(), ['accept', 'beam-job-chain', 'host', 'user-agent']);
    assert.equal(h.accept, 'image/*, image/png');
    assert.equal(h['user-agent']?.length, 1024, 'values are bounded');
  });
  it('custom rules: parameter order makes no new job; the canonical URL', () => {
    assert.deepEqual(defaultIdentity('/x', { b: '2', a: '1' }), defaultIdentity('/x', { a: '1', b: '2' }));
    assert.equal(canonicalUrl('/x', { a: '1 2', b: '&' }), '/x?a=1+2&b=%26');
    assert.equal(canonicalUrl('/x', {}), '/x');
  });
});
