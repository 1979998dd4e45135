/**
 * The library face of Beamline, for user-written workers and tools: the store (the original engine's
 * `redisio`), the key schema, configuration and the media model. No HTTP server is started by importing it.
 */

export { createStore, type Store, type IndexQuery, type PacketWrite, type StoredElement } from './core/store/store';
export { createKeys, elementMember, type Keys } from './core/store/keys';
export { connectRedis, parseRedisUrl, type RedisClient } from './core/store/redis-connection';
export { createEmbeddedRedis } from './core/store/embedded-redis';
export { createEngineRuntime, type EngineRuntime } from './engine/runtime';
export { loadConfig, readConfigFile, DEFAULTS, type BeamConfig, type JobRule } from './core/config/config';
export { parseMediaRef, type MediaRef } from './core/model/media-ref';
export { parseStreamName, selectStream } from './core/model/stream-name';
export { BeamError, BEAM_ERRORS, type BeamErrorCode } from './core/model/errors';
export * from './core/model/media';
export * from './engine/jobs';
export { createJitFunctions } from './transcoders/jit/jit-functions';
export { verifySignature, signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_HEADER, DELIVERY_HEADER } from './core/webhooks/signature';
