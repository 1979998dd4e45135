/**
 * buildApp(deps, config): the fastify instance with the engine's plugins. It never listens;
 * the composition root does. One error handler turns every failure into `{statusCode, error, message}`.
 */

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { BeamError, badRequest, reasonPhrase } from '../../core/model/errors';
import { installAuth } from './auth';
import { jsonDepthExceeds } from './json-depth';
import type { Store } from '../../core/store/store';
import type { RedisMemory } from '../../core/store/redis-memory';
import type { MarkerStreams } from '../../core/store/marker-stream';
import { lingerOnClose } from './linger';
import { beamsPlugin } from './beams';
import { relationsPlugin } from './relations';
import { healthPlugin } from './health';
import { createHttpMetrics, type EngineMetrics } from './metrics';
import { installRulesHooks } from '../jobs/rules-hooks';
import { installPrivateMediaGuard, type PrivateMediaDeps } from './private-media';
import { installOpenApi } from './openapi';
import type { JobDispatcher } from '../jobs/dispatcher';
import { isRedisUnavailable } from '../../core/store/redis-errors';

export interface AppConfig {
  /** Required: writes and secret reads need it (engine/api/auth.ts). The composition root resolves it. */
  apiToken: string;
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
  /** Reads Redis memory use for /metrics and /healthz (core/store/redis-memory.ts readRedisMemory). */
  redisMemory?: () => Promise<RedisMemory>;
  /** The process's pino logger; without one, the app makes its own at config.logLevel. */
  log?: FastifyBaseLogger;
  /** Extra plugins (channel API, packager, player) registered by the composition root. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  /** The rules (config `jobs`) as jobs: installed on the root instance so they see every route. */
  jobs?: JobDispatcher;
  /** Writes that need no API token (a WHEP viewer's offer and session end): the route answers for itself. */
  isPublicWrite?: (method: string, url: string) => boolean;
  /** Private channels: anonymous reads of their content items and WebRTC offers need a playback token (private-media.ts). */
  privateMedia?: PrivateMediaDeps;
  /** Channels' ad markers as a data stream of their content items (core/store/marker-stream.ts). */
  markers?: MarkerStreams;
}

/** Where binary payloads are written (the media_ref grammar's data forms: /data, /data_<n>, .raw, .raw_<n>). */
const PAYLOAD_PATH = /^\/beams\/[^/]+\/[^/]+\/[^/]+(?:\/data(?:_\d+)?|\.raw(?:_\d+)?)$/;

/** Deepest JSON nesting a request body may have (parsing deeper input costs stack and memory for nothing). */
export const MAX_JSON_DEPTH = 64;

/** Version of the API's OpenAPI document (info.version). */
export const API_VERSION = '1.0.0';

/** Seconds a client is asked to wait (Retry-After) when Redis or the archive is unreachable. */
export const REDIS_RETRY_AFTER_S = 2;

/** Map any error to the JSON body and status the API answers with. 5xx only for our own faults. */
export function errorResponse(err: FastifyError | BeamError | Error): { status: number; body: { statusCode: number; error: string; message: string }; retryAfter?: number } {
  if (err instanceof BeamError) {
    // A dependency that is down (the archive): the client may retry, and is told when.
    if (err.code === 'BEAM_ERR_UNAVAILABLE') return { status: err.statusCode, body: err.toJSON(), retryAfter: REDIS_RETRY_AFTER_S };
    return { status: err.statusCode, body: err.toJSON() };
  }
  if (isRedisUnavailable(err)) {
    const unavailable = new BeamError('BEAM_ERR_UNAVAILABLE', `The store (Redis) is unavailable: ${err.message.slice(0, 120)}. Retry shortly.`);
    return { status: 503, body: unavailable.toJSON(), retryAfter: REDIS_RETRY_AFTER_S };
  }
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
    // The default limit is the JSON one; only binary payloads (authenticated PUTs) get payloadBodyLimit.
    // Fastify refuses a larger Content-Length before reading, and cuts a chunked body at the limit.
    bodyLimit: config.jsonBodyLimit,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    return503OnClosing: true,
  });

  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.jsonBodyLimit }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      return done(new BeamError('BEAM_ERR_BAD_REQUEST', `Body is nested deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
    }
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

  // Before any body is read: an anonymous write is refused without buffering a byte of it.
  installAuth(app, config.apiToken, deps.isPublicWrite);
  // Binary bodies (up to payloadBodyLimit) only where a payload is written; everything else is JSON-sized.
  app.addHook('onRequest', async (req) => {
    const ct = req.headers['content-type'];
    if (ct === undefined || !/^\s*application\/octet-stream\s*(;|$)/i.test(ct)) return;
    if (req.method === 'PUT' && PAYLOAD_PATH.test(req.url.split('?')[0] as string)) {
      // A payload declares its size, so one over the limit is refused before a byte is read (fastify checks
      // Content-Length first); a chunked one would be buffered up to the limit before the refusal.
      if (req.headers['content-length'] === undefined) {
        throw new BeamError('BEAM_ERR_LENGTH_REQUIRED', 'A payload needs a Content-Length header (chunked payloads are not accepted).');
      }
      return;
    }
    // Every other route takes JSON: as in the original engine, a body that is not JSON is a 400 whatever its
    // Content-Type, refused here before a byte of it is read.
    throw badRequest('The request body must be a JSON document, sent as Content-Type: application/json (application/octet-stream bodies are accepted only by PUT /beams/<content>/<stream>/<element>/data or .raw: payloads).');
  });
  // A request refused before its body was read closes its connection: the server never parses (nor buffers)
  // a body it has already refused, e.g. 80 MiB sent by an anonymous client; it reads and drops what is still
  // in flight for a moment (linger.ts), or the client would lose the answer to a reset.
  app.addHook('onSend', async (req, reply) => {
    if (reply.statusCode >= 400 && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) && !req.raw.complete) {
      reply.header('Connection', 'close');
      lingerOnClose(req.raw.socket);
    }
  });

  // After authentication, before the rules' jobs: a private channel's images and clips need its playback token.
  if (deps.privateMedia) installPrivateMediaGuard(app, deps.privateMedia);
  // After authentication (a job never bypasses the write token), before any route: see engine/jobs/rules-hooks.ts.
  if (deps.jobs) installRulesHooks(app, deps.jobs);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body, retryAfter } = errorResponse(err);
    if (retryAfter !== undefined) {
      req.log.warn({ err: err.message, url: req.url.split('?')[0] }, 'request failed: a dependency (Redis, the archive) is unavailable');
      reply.header('Retry-After', String(retryAfter));
    } else if (status >= 500) {
      req.log.error({ err, url: req.url.split('?')[0] }, 'request failed');
    }
    // A refusal (a private channel's playback token missing or expired) must not be kept by a cache or CDN.
    if (status === 403) reply.header('Cache-Control', 'no-store');
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `No route for ${req.method} ${req.url.split('?')[0]}` }),
  );

  // Before the routes: the OpenAPI document is collected as they are registered.
  await installOpenApi(app, { version: API_VERSION });
  await app.register(healthPlugin, { store: deps.store, metrics: deps.metrics, ...(deps.redisMemory ? { redisMemory: deps.redisMemory } : {}) });
  await app.register(relationsPlugin, { store: deps.store });
  await app.register(beamsPlugin, { store: deps.store, limits: config, markers: deps.markers });
  for (const plugin of deps.plugins ?? []) await app.register(async (scope) => plugin(scope));
  return app;
}
