/**
 * The library face of Beamline, for user-written workers and tools: the store (the original engine's
 * `redisio`), the key schema, configuration and the media model. No HTTP server is started by importing it.
 */

export { createStore, type Store, type IndexQuery, type PacketWrite, type StoredElement } from './engine/store/store';
export { createKeys, elementMember, type Keys } from './engine/store/keys';
export { connectRedis, parseRedisUrl, type RedisClient } from './engine/store/redis-connection';
export { createEmbeddedRedis } from './engine/store/embedded-redis';
export { createEngineRuntime, type EngineRuntime } from './engine/runtime';
export { loadConfig, readConfigFile, DEFAULTS, type BeamConfig, type JobRule } from './engine/config/config';
export { parseMediaRef, type MediaRef } from './engine/model/media-ref';
export { parseStreamName, selectStream } from './engine/model/stream-name';
export { BeamError, BEAM_ERRORS, type BeamErrorCode } from './engine/model/errors';
export * from './engine/model/media';
export * from './engine/jobs';
export { createJitFunctions } from './transcoders/jit/jit-functions';
