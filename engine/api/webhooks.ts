/**
 * The webhook delivery log: `GET /api/webhooks/deliveries[?limit=N]`, with the API token only (a delivery names
 * channels, receivers' hosts and publishers' outcomes). The log is this process's, kept in memory
 * (core/webhooks/delivery-log.ts): with the roles in one process it has every delivery; when ingest runs in
 * processes of its own, their deliveries are in their logs (and their log lines), not here.
 */

import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../core/model/errors';
import type { Webhooks } from '../../core/webhooks/webhooks';
import { unauthorized } from './auth';
import { useRouteSchemas } from './route-schemas';
import { DeliveriesQuery, DeliveriesView, responses } from './schemas';
import { TOKEN_REQUIRED } from './openapi';

export type DeliveryLogReader = Pick<Webhooks, 'deliveries' | 'logCapacity' | 'queue'>;

/** Pure: the `limit` query parameter (default and at most `capacity`). */
export function deliveriesLimit(raw: string | undefined, capacity: number): number {
  if (raw === undefined) return capacity;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw badRequest(`Query parameter 'limit' must be a positive integer, not '${raw.slice(0, 32)}'.`);
  return Math.min(Number(raw), capacity);
}

export async function webhooksPlugin(app: FastifyInstance, opts: { webhooks: DeliveryLogReader }): Promise<void> {
  const { webhooks } = opts;
  useRouteSchemas(app);
  app.get<{ Querystring: DeliveriesQuery }>('/api/webhooks/deliveries', {
    schema: {
      tags: ['webhooks'],
      summary: "This process's last webhook deliveries, newest first (the API token is required)",
      security: TOKEN_REQUIRED,
      querystring: DeliveriesQuery,
      response: responses({ 200: DeliveriesView }, [400, 401]),
    },
  }, async (req, reply) => {
    if (!req.authorized) {
      reply.header('WWW-Authenticate', 'Bearer realm="beamline"');
      throw unauthorized('The webhook delivery log needs the header Authorization: Bearer <API token>.');
    }
    const limit = deliveriesLimit(req.query.limit, webhooks.logCapacity);
    return { deliveries: webhooks.deliveries(limit), capacity: webhooks.logCapacity, queue: webhooks.queue(), scope: `process ${process.pid}` };
  });
}
