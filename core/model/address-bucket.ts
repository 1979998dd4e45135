/**
 * Pure: the bucket a client address counts in for per-client limits (RTMP connections per address, the job
 * routes' rate limit): IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64, since one host usually holds a
 * whole /64 and could otherwise spread over as many addresses as it likes.
 */

import { isIPv6 } from 'node:net';

export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  const bare = address.split('%')[0] as string;
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
