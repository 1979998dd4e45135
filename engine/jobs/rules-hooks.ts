/**
 * Installs the rules on the ROOT fastify instance (hooks inside an encapsulated plugin would only see that
 * plugin's routes): pre-route jobs in `onRequest` (after authentication, before any route or the 404
 * handler), post-route jobs in `onSend` (after a route, the error handler or the 404 handler produced a
 * response, so a rule can act on its status). A request answered by a pre-route job skips post-route rules.
 */

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobDispatcher } from './dispatcher';
import type { JobAnswer } from './job-types';

export function installRulesHooks(app: FastifyInstance, dispatcher: JobDispatcher): void {
  const answeredByJob = new WeakSet<FastifyRequest>();
  const apply = (reply: { code(n: number): unknown; header(k: string, v: string): unknown }, a: JobAnswer) => {
    reply.code(a.status);
    for (const [k, v] of Object.entries(a.headers)) reply.header(k, v);
    reply.header('content-type', a.type);
  };

  if (dispatcher.hasRules(false)) {
    app.addHook('onRequest', async (req, reply) => {
      const answer = await dispatcher.preRoute({ method: req.method, url: req.url, headers: req.headers });
      if (!answer) return;
      answeredByJob.add(req);
      apply(reply, answer);
      await reply.send(answer.body);
      return reply;
    });
  }

  if (dispatcher.hasRules(true)) {
    app.addHook('onSend', async (req, reply, payload) => {
      if (answeredByJob.has(req)) return payload;
      const answer = await dispatcher.postRoute({ method: req.method, url: req.url, headers: req.headers }, reply.statusCode);
      if (!answer) return payload;
      reply.removeHeader('content-length');
      apply(reply, answer);
      return answer.body;
    });
  }
}
