/**
 * The OpenAPI 3 document of the channel API and the Content Beam API, built by @fastify/swagger from the
 * routes' TypeBox schemas (engine/api/schemas.ts) and served at /api/openapi.json; a browsable page
 * (@fastify/swagger-ui, its assets served from node_modules, no CDN) at /api/docs. Both are public reads:
 * they hold no secrets. The document declares the bearer API token and, per operation, whether it is needed.
 *
 * installOpenApi must run before the routes are registered (the document is collected as they are).
 */

import type { FastifyInstance, FastifySchema } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorBody } from './schemas';

export const OPENAPI_PATH = '/api/openapi.json';
export const DOCS_PREFIX = '/api/docs';

/** Paths the document covers; the rest (pages, /live, the docs themselves) is not part of the API. */
const DOCUMENTED = /^\/(api\/channels|api\/webhooks|beams|healthz$|metrics$)/;

type Security = { [scheme: string]: string[] }[];

/** Security of a write: the API token is required. */
export const TOKEN_REQUIRED: Security = [{ bearerAuth: [] }];
/** Security of a read: anonymous, or the token (which may show more, e.g. a channel's stream key). */
export const TOKEN_OPTIONAL: Security = [{}, { bearerAuth: [] }];

/**
 * The page's Content-Security-Policy: everything from this origin (the UI's scripts are files, no inline
 * script), inline style attributes (the UI sets them), data: images (its logo); nothing from elsewhere.
 */
export const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'self'; form-action 'self'";

export async function installOpenApi(app: FastifyInstance, opts: { version: string }): Promise<void> {
  app.addSchema(ErrorBody);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Beamline API',
        version: opts.version,
        description:
          'The channel API (/api/channels), the webhook delivery log (/api/webhooks) and the Content Beam API (/beams). Reads are public (a channel read without the ' +
          'API token is redacted); every write needs `Authorization: Bearer <API token>` (BEAM_API_TOKEN, or the token ' +
          'Beamline generated: see the README, Security). Every error is JSON `{statusCode, error, message}`.',
      },
      tags: [
        { name: 'channels', description: 'Create, read, change, delete channels; rotate stream keys.' },
        { name: 'content', description: 'The Content Beam API: formats, streams, media elements and payloads.' },
        { name: 'relations', description: 'Relationships between content items (renditions).' },
        { name: 'health', description: 'Health and Prometheus metrics.' },
        { name: 'webhooks', description: 'The webhook delivery log (admissions and notifications) of this process.' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'The API token (BEAM_API_TOKEN or the generated one).' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url }) => {
      const s = { ...(schema as FastifySchema & { hide?: boolean }) };
      if (!DOCUMENTED.test(url)) s.hide = true;
      return { schema: s, url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CSP,
    uiConfig: { deepLinking: true, persistAuthorization: false, displayRequestDuration: false },
    theme: { title: 'Beamline API' },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } as FastifySchema }, async (_req, reply) => {
    return reply.header('Cache-Control', 'no-cache').send(app.swagger());
  });
}
