/**
 * Ad markers (SCTE-35) of a live channel: POST inserts one (now or at a time within the next hour), GET lists
 * them, DELETE cancels one that has not begun. Writes need the API token (as every channel write); the list of
 * a private channel too. The packager picks markers up with its next snapshot (the `marker:added` event wakes it).
 */

import type { FastifyInstance } from 'fastify';
import { conflict, notFound } from '../../core/model/errors';
import { isPrivate, validateChannelName, type Channel } from '../../core/model/channel';
import { createMarker, markerRequest, MAX_MARKERS_PER_CHANNEL, type Marker } from '../../core/model/marker';
import type { ChannelStore } from '../../core/store/channel-store';
import type { LiveStore } from '../../core/store/live-store';
import { requireBody } from './body';
import { unauthorized } from './auth';
import { useRouteSchemas } from './route-schemas';
import { ChannelParams, MarkerBody, MarkerParams, MarkerView, responses } from './schemas';
import { TOKEN_OPTIONAL, TOKEN_REQUIRED } from './openapi';
import { Type } from '@sinclair/typebox';

export interface MarkersApiDeps {
  channels: Pick<ChannelStore, 'get'>;
  live: Pick<LiveStore, 'addMarker' | 'markers' | 'removeMarker'>;
  now?: () => number;
}

/** Pure: a marker as the API answers it. */
export function markerView(m: Marker): Marker & { start: string } {
  return { ...m, start: new Date(m.startMs).toISOString() };
}

export async function markersPlugin(app: FastifyInstance, deps: MarkersApiDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  useRouteSchemas(app);
  const tags = ['channels'];

  async function load(raw: string): Promise<Channel> {
    const name = validateChannelName(raw);
    const ch = await deps.channels.get(name);
    if (!ch) throw notFound(`Channel '${name}' was not found.`);
    return ch;
  }

  app.post<{ Params: ChannelParams }>('/api/channels/:name/markers', {
    schema: {
      tags, summary: 'Insert an ad marker (SCTE-35 splice_insert) now or at a time', security: TOKEN_REQUIRED, params: ChannelParams, body: MarkerBody,
      response: responses({ 201: MarkerView }, [400, 401, 404, 503]),
    },
  }, async (req, reply) => {
    const body = requireBody(req, 'json', 'a marker {type, duration?, start?}');
    const ch = await load(req.params.name);
    const t = now();
    const marker = createMarker(markerRequest(body, t), t);
    await deps.live.addMarker(ch.name, marker, ch.dvrWindowSeconds * 1000, MAX_MARKERS_PER_CHANNEL, t);
    return reply.code(201).header('Location', `/api/channels/${ch.name}/markers/${marker.id}`).send(markerView(marker));
  });

  app.get<{ Params: ChannelParams }>('/api/channels/:name/markers', {
    schema: {
      tags, summary: "List a channel's ad markers (a private channel's need the API token)", security: TOKEN_OPTIONAL, params: ChannelParams,
      response: responses({ 200: Type.Array(MarkerView) }, [400, 401, 404, 503]),
    },
  }, async (req) => {
    const ch = await load(req.params.name);
    if (isPrivate(ch) && !req.authorized) throw unauthorized(`Channel '${ch.name}' is private: its markers need the API token.`);
    return (await deps.live.markers(ch.name)).map(markerView);
  });

  app.delete<{ Params: MarkerParams }>('/api/channels/:name/markers/:id', {
    schema: {
      tags, summary: 'Cancel an ad marker that has not begun', security: TOKEN_REQUIRED, params: MarkerParams,
      response: responses({ 204: null }, [400, 401, 404, 409, 503]),
    },
  }, async (req, reply) => {
    const ch = await load(req.params.name);
    const m = (await deps.live.markers(ch.name)).find((x) => x.id === req.params.id);
    if (!m) throw notFound(`Channel '${ch.name}' has no marker '${req.params.id.slice(0, 32)}'.`);
    if (m.startMs <= now()) throw conflict(`Marker '${m.id}' has already begun: it is in the published media and cannot be cancelled.`);
    await deps.live.removeMarker(ch.name, m.id);
    return reply.code(204).send();
  });
}
