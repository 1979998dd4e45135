/** Request body checks shared by the API's plugins: the right Content-Type, and a body at all. */

import type { FastifyRequest } from 'fastify';
import { BeamError, badRequest } from '../model/errors';

const TYPES = { json: 'application/json', binary: 'application/octet-stream' } as const;
const WHAT = { json: 'Metadata and JSON documents', binary: 'Payloads' } as const;

export function requireBody(req: FastifyRequest, type: 'json' | 'binary'): unknown {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (ct !== TYPES[type]) {
    throw new BeamError('BEAM_ERR_UNSUPPORTED_MEDIA_TYPE', `${WHAT[type]} must be sent as Content-Type: ${TYPES[type]} (got '${ct || 'none'}').`);
  }
  if (req.body === undefined || req.body === null) throw badRequest('The request has no body.');
  return req.body;
}
