/**
 * Request body checks shared by the API's plugins: the right Content-Type, and a body at all.
 *
 * As in the original engine, a JSON document sent as anything but `application/json` (or not sent) is a
 * 400 naming what was expected; a payload sent as anything but `application/octet-stream` is a 415.
 */

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BeamError, badRequest } from '../../core/model/errors';

const TYPES = { json: 'application/json', binary: 'application/octet-stream' } as const;

function contentTypeOf(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * The parsed body. `what` describes the JSON document a route expects, for the 400 when the body is not
 * JSON (e.g. 'a JSON document describing a format').
 */
export function requireBody(req: FastifyRequest, type: 'json' | 'binary', what = 'a JSON document'): unknown {
  const ct = contentTypeOf(req);
  if (ct !== TYPES[type]) {
    if (type === 'json') throw badRequest(`The request body must be ${what}, sent as Content-Type: application/json (got '${ct.slice(0, 64) || 'none'}').`);
    throw new BeamError('BEAM_ERR_UNSUPPORTED_MEDIA_TYPE', `Payloads must be sent as Content-Type: application/octet-stream (got '${ct.slice(0, 64) || 'none'}').`);
  }
  if (req.body === undefined || req.body === null) {
    throw badRequest(type === 'json' ? `The request has no body: send ${what}.` : 'The request has no body.');
  }
  return req.body;
}

/**
 * In the calling plugin's scope only: accept a body of any other Content-Type without reading it, so the
 * route answers with its own error (400 for JSON routes, 415 for payload routes) instead of fastify's
 * generic 415. The unread body is discarded by Node once the answer is sent; nothing is buffered.
 */
export function acceptAnyContentType(app: FastifyInstance): void {
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
}
