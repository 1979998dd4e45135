// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  Amf0Error, AMF0_MAX_DEPTH, amf0ToPlain, decodeAmf0, decodeAmf0Value, encodeAmf0, type Amf0Value,
} from '../../../ingest/rtmp/amf0';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('amf0: known encodings (from the AMF0 spec layout)', () => {
  const cases: { name: string; value: Amf0Value; bytes: string }[] = [
    { name: 'number 1', value: 1, bytes: '00 3ff0000000000000' },
    { name: 'boolean true', value: true, bytes: '01 01' },
    { name: 'boolean false', value: false, bytes: '01 00' },
    { name: 'string', value: 'live', bytes: '02 0004 6c697665' },
    { name: 'empty string', value: '', bytes: '02 0000' },
    { name: 'null', value: null, bytes: '05' },
    { name: 'undefined', value: undefined, bytes: '06' },
    { name: 'object', value: { app: 'live' }, bytes: '03 0003 617070 02 0004 6c697665 000009' },
    { name: 'ECMA array', value: new Map<string, Amf0Value>([['w', 2]]), bytes: '08 00000001 0001 77 00 4000000000000000 000009' },
    { name: 'strict array', value: [1, 'a'], bytes: '0a 00000002 00 3ff0000000000000 02 0001 61' },
  ];
  for (const c of cases) {
    assert.deepEqual(encodeAmf0(c.value), hex(c.bytes), `encode ${c.name}`);
    assert.deepEqual(decodeAmf0(hex(c.bytes)), [c.value], `decode ${c.name}`);
  }
});

test('amf0: round trip of a connect command with nested values', () => {
  const values: Amf0Value[] = [
    'connect', 1,
    { app: 'live', tcUrl: 'rtmp://127.0.0.1/live', fpad: false, capabilities: 15, nested: { list: [1, null, 'x'], n: -0.5 } },
    null,
    new Map<string, Amf0Value>([['duration', 0], ['stereo', true]]),
    new Date(1700000000000),
  ];
  const decoded = decodeAmf0(encodeAmf0(...values));
  assert.deepEqual(decoded, values);
});

test('amf0: strings longer than 65535 bytes become long strings and back', () => {
  const long = 'x'.repeat(70000);
  const enc = encodeAmf0(long);
  assert.equal(enc[0], 0x0c);
  assert.equal(enc.readUInt32BE(1), 70000);
  assert.equal(decodeAmf0(enc)[0], long);
});

test('amf0: decodeAmf0Value reports the next offset', () => {
  const buf = encodeAmf0('a', 2);
  const first = decodeAmf0Value(buf, 0);
  assert.equal(first.value, 'a');
  assert.equal(first.next, 4);
  assert.equal(decodeAmf0Value(buf, first.next).value, 2);
});

test('amf0: ECMA array count is only a hint (ffmpeg writes 0 in some versions)', () => {
  const decoded = decodeAmf0(hex('08 00000000 0001 77 00 4000000000000000 000009'));
  assert.deepEqual(amf0ToPlain(decoded[0] as Amf0Value), { w: 2 });
});

test('amf0: a __proto__ key stays an own property', () => {
  const buf = hex('03 0009 5f5f70726f746f5f5f 05 000009');
  const obj = decodeAmf0(buf)[0] as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(obj), Object.prototype);
  assert.ok(Object.prototype.hasOwnProperty.call(obj, '__proto__'));
});

test('amf0: malformed input raises Amf0Error naming the problem', () => {
  const cases: { name: string; bytes: Buffer; match: RegExp }[] = [
    { name: 'value truncated after its marker', bytes: hex('02'), match: /truncated string length/ },
    { name: 'truncated number', bytes: hex('00 3ff0'), match: /truncated number/ },
    { name: 'truncated string body', bytes: hex('02 0005 6162'), match: /truncated string/ },
    { name: 'truncated long string', bytes: hex('0c ffffffff 61'), match: /truncated long string/ },
    { name: 'object without end', bytes: hex('03 0001 61 05'), match: /truncated property name length/ },
    { name: 'object end outside object', bytes: hex('09'), match: /object end marker outside/ },
    { name: 'reference marker', bytes: hex('07 0001'), match: /unsupported type marker 0x07/ },
    { name: 'AMF3 switch', bytes: hex('11 00'), match: /unsupported type marker 0x11/ },
    { name: 'strict array count beyond input', bytes: hex('0a 7fffffff 05'), match: /exceeds remaining/ },
    { name: 'empty key followed by a value', bytes: hex('03 0000 05 000009'), match: /empty property name/ },
  ];
  for (const c of cases) {
    assert.throws(() => decodeAmf0(c.bytes), (err: unknown) => err instanceof Amf0Error && c.match.test(err.message), c.name);
  }
});

test('amf0: decodeAmf0Value on empty input names the missing marker; decodeAmf0 of nothing is []', () => {
  assert.throws(() => decodeAmf0Value(Buffer.alloc(0)), /truncated type marker .* at offset 0/);
  assert.deepEqual(decodeAmf0(Buffer.alloc(0)), []);
});

test('amf0: nesting deeper than the cap is refused, not a stack overflow', () => {
  const depth = AMF0_MAX_DEPTH + 5;
  const bytes = Buffer.concat([...Array.from({ length: depth }, () => hex('0a 00000001')), hex('05')]);
  assert.throws(() => decodeAmf0(bytes), /nesting deeper/);
  let deep: Amf0Value = null;
  for (let i = 0; i < depth; i++) deep = [deep];
  assert.throws(() => encodeAmf0(deep), /nesting deeper/);
});

test('amf0ToPlain: Maps become objects, Dates ISO strings', () => {
  const plain = amf0ToPlain(new Map<string, Amf0Value>([['d', new Date(0)], ['a', [new Map([['x', 1]])]]]));
  assert.deepEqual(plain, { d: '1970-01-01T00:00:00.000Z', a: [{ x: 1 }] });
});
