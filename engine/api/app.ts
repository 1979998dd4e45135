/**
 * buildApp(deps, config): the fastify instance with the engine's plugins. It never listens;
 * the composition root does. One error handler turns every failure into `{statusCode, error, message}`.
 */

import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BeamError, reasonPhrase } from '../model/errors';
import type { Store } from '../store/store';
import { beamsPlugin } from './beams';
import { relationsPlugin } from './relations';
import { healthPlugin } from './health';
import { createHttpMetrics, type EngineMetrics } from './metrics';
import { installRulesHooks } from '../jobs/rules-hooks';
import type { JobDispatcher } from '../jobs/dispatcher';

export interface AppConfig {
  apiToken: string | null;
  jsonBodyLimit: number;
  payloadBodyLimit: number;
  defaultLimit: number;
  mediaDefaultLimit: number;
  maxLimit: number;
  logLevel: string;
}

export interface AppDeps {
  store: Store;
  metrics: EngineMetrics;
  /** The process's pino logger; without one, the app makes its own at config.logLevel. */
  log?: FastifyBaseLogger;
  /** Extra plugins (channel API, packager, player) registered by the composition root. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  /** The rules (config `jobs`) as jobs: installed on the root instance so they see every route. */
  jobs?: JobDispatcher;
  /** Writes that need no API token (a WHEP viewer's offer and session end): the route answers for itself. */
  isPublicWrite?: (method: string, url: string) => boolean;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from((m[1] as string).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Map any error to the JSON body and status the API answers with. 5xx only for our own faults. */
export function errorResponse(err: FastifyError | BeamError | Error): { status: number; body: { statusCode: number; error: string; message: string } } {
  if (err instanceof BeamError) return { status: err.statusCode, body: err.toJSON() };
  const fe = err as FastifyError & { validation?: unknown };
  let status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (fe.validation) status = 400;
  if (err instanceof SyntaxError && status === 500) status = 400;
  if (status < 400 || status > 599) status = 500;
  const message = status >= 500 ? 'Internal server error: the failure has been logged.' : err.message;
  return { status, body: { statusCode: status, error: reasonPhrase(status), message } };
}

export async function buildApp(deps: AppDeps, config: AppConfig): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.log ? { loggerInstance: deps.log } : { logger: { level: config.logLevel } }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: Math.max(config.jsonBodyLimit, config.payloadBodyLimit),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    return503OnClosing: true,
  });

  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.jsonBodyLimit }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(text, (k, v: unknown) => (k === '__proto__' || k === 'constructor' ? undefined : v)));
    } catch (e) {
      done(new BeamError('BEAM_ERR_BAD_REQUEST', `Body is not valid JSON: ${(e as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: config.payloadBodyLimit }, (_req, body, done) =>
    done(null, body),
  );

  const http = createHttpMetrics(deps.metrics);
  app.addHook('onResponse', async (req, reply) => {
    http.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  if (config.apiToken) {
    const token = config.apiToken;
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!WRITE_METHODS.has(req.method)) return;
      if (tokenMatches(req.headers.authorization, token)) return;
      if (deps.isPublicWrite?.(req.method, req.url)) return;
      reply.header('WWW-Authenticate', 'Bearer realm="beamline"');
      throw new BeamError('BEAM_ERR_UNAUTHORIZED', 'This write needs the header Authorization: Bearer <BEAM_API_TOKEN>.');
    });
  }

  // After authentication (a job never bypasses the write token), before any route: see engine/jobs/rules-hooks.ts.
  if (deps.jobs) installRulesHooks(app, deps.jobs);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = errorResponse(err);
    if (status >= 500) req.log.error({ err, url: req.url }, 'request failed');
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `No route for ${req.method} ${req.url.split('?')[0]}` }),
  );

  await app.register(healthPlugin, { store: deps.store, metrics: deps.metrics });
  await app.register(relationsPlugin, { store: deps.store });
  await app.register(beamsPlugin, { store: deps.store, limits: config });
  for (const plugin of deps.plugins ?? []) await app.register(async (scope) => plugin(scope));
  return app;
}
