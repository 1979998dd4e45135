/** The packager's Prometheus metrics, registered on the registry the composition root passes in. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface PackagerMetrics {
  cacheHits: Counter<string>;
  cacheMisses: Counter<string>;
  archivedStreams: Counter<string>;
  buildSeconds: Histogram<'object'>;
  blockedRequests: Counter<'kind'>;
  blockedSeconds: Histogram<'outcome'>;
  followers: Gauge<string>;
}

export function createPackagerMetrics(registry: Registry): PackagerMetrics {
  const registers = [registry];
  return {
    cacheHits: new Counter({ name: 'beam_packager_cache_hits_total', help: 'Media objects served from the LRU or from a build already running', registers }),
    cacheMisses: new Counter({ name: 'beam_packager_cache_misses_total', help: 'Media objects that had to be built', registers }),
    archivedStreams: new Counter({ name: 'beam_packager_archived_streams_total', help: 'Segments served streamed from the archive (not built, not cached)', registers }),
    buildSeconds: new Histogram({
      name: 'beam_packager_build_seconds',
      help: 'Time to build a media object or playlist from the store, by object',
      labelNames: ['object'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    blockedRequests: new Counter({ name: 'beam_packager_blocked_requests_total', help: 'Requests that waited for media not yet ready (blocking reload, preload)', labelNames: ['kind'], registers }),
    blockedSeconds: new Histogram({
      name: 'beam_packager_blocked_seconds',
      help: 'How long blocked requests waited, by outcome (ready or timeout)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8],
      registers,
    }),
    followers: new Gauge({ name: 'beam_packager_event_followers', help: 'Channels whose event stream this process follows (one blocking Redis connection each)', registers }),
  };
}
