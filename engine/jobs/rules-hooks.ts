/**
 * Installs the rules on the ROOT fastify instance (hooks inside an encapsulated plugin would only see that
 * plugin's routes): pre-route jobs in `onRequest` (after authentication, before any route or the 404
 * handler), post-route jobs in `onSend` (after a route, the error handler or the 404 handler produced a
 * response, so a rule can act on its status). A request answered by a pre-route job skips post-route rules.
 * The dispatcher gets the client's address (rate limit) and a signal that aborts when the client closes
 * the connection before its answer (a job nobody waits for any more leaves the queue).
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingRequest, JobDispatcher } from './dispatcher';
import type { JobAnswer } from './job-types';

/** Run `fn` with a signal that aborts if the response's connection closes before the response ended. */
async function untilClientGone<T>(reply: FastifyReply, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableEnded) ac.abort();
  };
  res.once('close', onClose);
  try {
    return await fn(ac.signal);
  } finally {
    res.off('close', onClose);
  }
}

function incoming(req: FastifyRequest, signal: AbortSignal): IncomingRequest {
  return { method: req.method, url: req.url, headers: req.headers, ip: req.ip, signal };
}

export function installRulesHooks(app: FastifyInstance, dispatcher: JobDispatcher): void {
  const answeredByJob = new WeakSet<FastifyRequest>();
  const apply = (reply: { code(n: number): unknown; header(k: string, v: string): unknown }, a: JobAnswer) => {
    reply.code(a.status);
    for (const [k, v] of Object.entries(a.headers)) reply.header(k, v);
    reply.header('content-type', a.type);
  };

  if (dispatcher.hasRules(false)) {
    app.addHook('onRequest', async (req, reply) => {
      const answer = await untilClientGone(reply, (signal) => dispatcher.preRoute(incoming(req, signal)));
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
      const answer = await untilClientGone(reply, (signal) => dispatcher.postRoute(incoming(req, signal), reply.statusCode));
      if (!answer) return payload;
      reply.removeHeader('content-length');
      apply(reply, answer);
      return answer.body;
    });
  }
}
