/**
 * HTTP authentication: one API token (BEAM_API_TOKEN, or the one generated at first start: see
 * core/config/api-token.ts). Every write (POST, PUT, PATCH, DELETE, and any method that is not a read)
 * needs `Authorization: Bearer <token>`; the check runs in onRequest, before any body is read, so an
 * anonymous client cannot make the server buffer a body. Reads are public, but a route may show secrets
 * (stream keys, passphrases, publisher addresses) only when `req.authorized` is true. A wrong token on a
 * read is refused too (401), so a client learns at once that its saved token is stale.
 */

import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BeamError } from '../../core/model/errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** True when the request carries the API token. */
    authorized: boolean;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The bearer credential of an Authorization header, or null when there is none (pure). */
export function bearerOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+(\S{1,1024})[ \t]*$/i.exec(header);
  return m ? (m[1] as string) : null;
}

/** Constant-time comparison of a given token with the expected one (hashes first: lengths may differ). */
export function tokenMatches(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export function unauthorized(message: string): BeamError {
  return new BeamError('BEAM_ERR_UNAUTHORIZED', message);
}

/** Install the token check on the root instance (it then covers every route, plugins included). */
/** isPublicWrite: writes that need no token (a WHEP viewer's offer and session end): the route answers for itself. */
export function installAuth(app: FastifyInstance, token: string, isPublicWrite?: (method: string, url: string) => boolean): void {
  if (!token) throw new Error('installAuth needs a non-empty API token');
  app.decorateRequest('authorized', false);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const given = bearerOf(req.headers.authorization);
    req.authorized = tokenMatches(given, token);
    if (req.authorized) return;
    const isRead = READ_METHODS.has(req.method);
    if (isRead && req.headers.authorization === undefined) return;
    if (!isRead && isPublicWrite?.(req.method, req.url)) return;
    reply.header('WWW-Authenticate', 'Bearer realm="beamline"');
    throw unauthorized(
      isRead
        ? 'The API token in the Authorization header is not valid: send the current one, or none for the public view.'
        : 'This write needs the header Authorization: Bearer <API token> (BEAM_API_TOKEN, or the token Beamline generated: see the README, Security).',
    );
  });
}
