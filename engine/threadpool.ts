/**
 * Imported first by the composition root, before anything can touch libuv's thread pool: every open
 * beamcoder demuxer holds a pool thread while it waits for a publisher's bytes, and the default pool of 4
 * would let four silent publishers starve all file, DNS and crypto work. libuv sizes the pool once, on first
 * use, from UV_THREADPOOL_SIZE; an explicit setting is respected.
 */

export const DEFAULT_THREADPOOL_SIZE = 64;

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(DEFAULT_THREADPOOL_SIZE);
