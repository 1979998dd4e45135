import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { compilePart, schemaMessage } from '../../../engine/api/route-schemas';
import { ChannelParams, FormatBody, PagingQuery } from '../../../engine/api/schemas';
import { errorResponse } from '../../../engine/api/app';
import { BeamError } from '../../../core/model/errors';

describe('route schemas: parameters and queries', () => {
  const query = compilePart(PagingQuery, 'querystring');
  it('strings pass (their grammar is the pure parsers\')', () => {
    assert.equal(query({ limit: '5', offset: '-2' }), true);
    assert.equal(query({ limit: 'abc' }), true, 'parsePaging gives the precise message');
    assert.equal(query({ other: ['a', 'b'] }), true, 'unknown parameters are left alone');
  });
  it('a parameter given twice is a 400 naming it', () => {
    const r = query({ limit: ['1', '2'] });
    assert.notEqual(r, true);
    const err = (r as { error: BeamError }).error;
    assert.ok(err instanceof BeamError);
    assert.equal(err.statusCode, 400);
    assert.equal(err.message, "Query parameter 'limit' is given more than once.");
  });
  it('a path parameter that is not a string is named', () => {
    const r = compilePart(ChannelParams, 'params')({ name: 5 });
    assert.match((r as { error: Error }).error.message, /^Path parameter 'name' is not valid: expected string\.$/);
  });
  it('bodies and headers are left to the model\'s validators', () => {
    assert.equal(compilePart(FormatBody, 'body')(42), true);
    assert.equal(compilePart(FormatBody, 'headers')(undefined), true);
  });
  const cases: [string, string, string, unknown, string][] = [
    ['querystring', '/limit', 'Expected string', 5, "Query parameter 'limit' is not valid: expected string."],
    ['querystring', '/offset', 'Expected string', ['1', '2'], "Query parameter 'offset' is given more than once."],
    ['params', '/content', 'Expected string', null, "Path parameter 'content' is not valid: expected string."],
    ['params', '', 'Expected object', null, 'Path parameters are not valid: expected object.'],
  ];
  for (const [part, path, reason, value, message] of cases) it(`message: ${part} ${path || '(root)'}`, () => assert.equal(schemaMessage(part, path, reason, value), message));
});

describe('error handler: fastify\'s own validation errors', () => {
  it('answer 400 {statusCode, error, message}, the message naming the field', () => {
    const err = Object.assign(new Error('querystring/limit must be integer'), { statusCode: 400, validation: [{ instancePath: '/limit' }], validationContext: 'querystring' });
    assert.deepEqual(errorResponse(err), { status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'querystring/limit must be integer' } });
  });
});
