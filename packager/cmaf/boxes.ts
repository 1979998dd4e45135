/**
 * The CMAF writer's public face: every box function, and the init/media segment builders.
 */
export * from './init-boxes';
export * from './fragment-boxes';
export { buildInitSegment, buildMediaSegment, type MediaSegmentOptions } from './segments';
