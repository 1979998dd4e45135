/**
 * The channel API: create, list, read, change, delete channels and rotate their stream keys. Answers
 * carry paste-ready encoder settings (OBS, Larix, RTMP) and playback URLs. Addresses come from
 * app.publicUrl when set, else from the Host the operator used to reach this server.
 */

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { badRequest, conflict, notFound } from '../../core/model/errors';
import { newPlaybackSecret, signPlaybackToken } from '../../core/model/playback-token';
import {
  applyPatch, createChannel, ingestSettings, isPrivate, newStreamKey, playbackUrls, validateChannelName,
  type Channel, type ChannelStatus, type LadderValidator, type Rung,
} from '../../core/model/channel';
import type { ChannelStore } from '../../core/store/channel-store';
import type { Store } from '../../core/store/store';
import { requireBody } from './body';
import { useRouteSchemas } from './route-schemas';
import { isObject } from '../../core/model/json';
import { ChannelParams, ChannelView, CreateChannelBody, PatchChannelBody, PlaybackToken, PlaybackTokenBody, responses } from './schemas';
import { TOKEN_OPTIONAL, TOKEN_REQUIRED } from './openapi';
import { Type } from '@sinclair/typebox';

export interface ChannelApiConfig {
  publicUrl: string | null;
  srtPort: number;
  rtmpPort: number;
  /** SRT latency suggested to encoders, ms (the listener's). Default DEFAULT_SRT_LATENCY_MS. */
  srtLatencyMs?: number;
}

export interface ChannelApiDeps {
  channels: ChannelStore;
  store: Store;
  validateLadder: LadderValidator;
  defaultLadder: Rung[];
}

/**
 * What anyone may read about a channel: no stream key, passphrase, ingest URL (they embed the key), address or
 * playback secret; a private channel's playback URLs carry no token (they answer 403 as they are).
 */
export interface PublicChannelView {
  name: string;
  private: boolean;
  state: ChannelStatus['state'];
  status: Pick<ChannelStatus, 'state' | 'since' | 'lastConnectedAt' | 'lastDisconnectedAt' | 'reconnects'>;
  playback: ReturnType<typeof playbackUrls>;
}

/** Pure: the anonymous view of a channel (issue 10: keys, passphrases and publisher IPs were public). */
export function publicView(ch: Channel, status: ChannelStatus, httpBase: string): PublicChannelView {
  const { state, since, lastConnectedAt, lastDisconnectedAt, reconnects } = status;
  return { name: ch.name, private: isPrivate(ch), state, status: { state, since, lastConnectedAt, lastDisconnectedAt, reconnects }, playback: playbackUrls(ch.name, httpBase) };
}

/** Default and longest validity of a minted playback token, seconds. */
export const PLAYBACK_TOKEN_TTL = { default: 3600, max: 30 * 24 * 3600 } as const;

/** Pure: a POST …/playback-tokens body as {expiresIn, ip}; a clear 400 otherwise. */
export function playbackTokenRequest(body: unknown): { expiresIn: number; ip: string } {
  if (body === undefined || body === null) return { expiresIn: PLAYBACK_TOKEN_TTL.default, ip: '' };
  if (!isObject(body)) throw badRequest('The body must be a JSON object {expiresIn?, ip?} (or none).');
  const unknown = Object.keys(body).filter((k) => k !== 'expiresIn' && k !== 'ip');
  if (unknown.length) throw badRequest(`Unknown playback token field(s): ${unknown.join(', ')}; a token request is {expiresIn?, ip?}.`);
  const e = body.expiresIn ?? PLAYBACK_TOKEN_TTL.default;
  if (!Number.isSafeInteger(e) || (e as number) < 10 || (e as number) > PLAYBACK_TOKEN_TTL.max) throw badRequest(`'expiresIn' must be a whole number of seconds from 10 to ${PLAYBACK_TOKEN_TTL.max}.`);
  const ip = body.ip ?? '';
  if (typeof ip !== 'string' || (ip !== '' && (ip.length > 45 || isIP(ip) === 0))) throw badRequest("'ip' must be an IPv4 or IPv6 address (the viewer's, as this server sees it), or null for any.");
  return { expiresIn: e as number, ip };
}

/** Pure: a channel's settings as the token holder reads them: a webhook's secret is write-only (never answered). */
export function settingsView(ch: Channel): Omit<Channel, 'webhook'> & { webhook: { url: string } | null } {
  const { webhook, ...rest } = ch;
  return { ...rest, private: isPrivate(ch), captions: ch.captions ?? null, webhook: webhook ? { url: webhook.url } : null };
}

/** Pure: base URL and ingest host for a request. */
export function addressesFor(publicUrl: string | null, hostHeader: string | undefined, protocol: string): { httpBase: string; ingestHost: string } {
  if (publicUrl) return { httpBase: publicUrl, ingestHost: new URL(publicUrl).hostname };
  const host = hostHeader && /^[A-Za-z0-9.:[\]-]+$/.test(hostHeader) ? hostHeader : 'localhost';
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0] as string;
  return { httpBase: `${protocol}://${host}`, ingestHost: hostname };
}

export async function channelsPlugin(app: FastifyInstance, opts: { deps: ChannelApiDeps; config: ChannelApiConfig }): Promise<void> {
  const { channels, store, validateLadder, defaultLadder } = opts.deps;
  const { config } = opts;
  useRouteSchemas(app);
  const tags = ['channels'];
  const params = ChannelParams;

  /** The full view (settings, key, ingest URLs, diagnostics) with the API token; the public one without. */
  function view(req: FastifyRequest, ch: Channel, status: ChannelStatus) {
    const { httpBase, ingestHost } = addressesFor(config.publicUrl, req.headers.host, req.protocol);
    if (!req.authorized) return publicView(ch, status, httpBase);
    return {
      ...settingsView(ch),
      state: status.state,
      status,
      ingest: ingestSettings(ch, { httpBase, ingestHost, srtPort: config.srtPort, rtmpPort: config.rtmpPort, ...(config.srtLatencyMs ? { srtLatencyMs: config.srtLatencyMs } : {}) }),
      playback: playbackUrls(ch.name, httpBase),
    };
  }

  async function load(raw: string): Promise<Channel> {
    const name = validateChannelName(raw);
    const ch = await channels.get(name);
    if (!ch) throw notFound(`Channel '${name}' was not found.`);
    return ch;
  }

  app.post('/api/channels', {
    schema: {
      tags, summary: 'Create a channel', security: TOKEN_REQUIRED, body: CreateChannelBody,
      response: responses({ 201: ChannelView }, [400, 401, 409, 503]),
    },
  }, async (req, reply) => {
    const ch = createChannel(requireBody(req, 'json'), validateLadder, defaultLadder);
    await channels.create(ch);
    return reply.code(201).header('Location', `/api/channels/${ch.name}`).send(view(req, ch, await channels.status(ch.name)));
  });

  app.get('/api/channels', {
    schema: { tags, summary: 'List channels (public view without the API token)', security: TOKEN_OPTIONAL, response: responses({ 200: Type.Array(ChannelView) }, [401, 503]) },
  }, async (req) => {
    const list = await channels.list();
    const statuses = await channels.statuses(list.map((c) => c.name));
    return list.map((c, i) => view(req, c, statuses[i] as ChannelStatus));
  });

  app.get<{ Params: ChannelParams }>('/api/channels/:name', {
    schema: { tags, summary: 'Read a channel (public view without the API token)', security: TOKEN_OPTIONAL, params, response: responses({ 200: ChannelView }, [400, 401, 404, 503]) },
  }, async (req) => {
    const ch = await load(req.params.name);
    return view(req, ch, await channels.status(ch.name));
  });

  app.patch<{ Params: ChannelParams }>('/api/channels/:name', {
    schema: { tags, summary: "Change a channel's settings", security: TOKEN_REQUIRED, params, body: PatchChannelBody, response: responses({ 200: ChannelView }, [400, 401, 404, 409, 503]) },
  }, async (req) => {
    const ch = await load(req.params.name);
    const next = applyPatch(ch, requireBody(req, 'json'), validateLadder);
    await channels.update(ch, next);
    return view(req, next, await channels.status(ch.name));
  });

  app.post<{ Params: ChannelParams }>('/api/channels/:name/key', {
    schema: { tags, summary: 'Rotate the stream key (the old one stops working)', security: TOKEN_REQUIRED, params, response: responses({ 200: ChannelView }, [400, 401, 404, 409, 503]) },
  }, async (req) => {
    const ch = await load(req.params.name);
    const next = { ...ch, streamKey: newStreamKey(), updatedAt: new Date().toISOString() };
    await channels.update(ch, next);
    return view(req, next, await channels.status(ch.name));
  });

  app.post<{ Params: ChannelParams }>('/api/channels/:name/playback-tokens', {
    schema: {
      tags, summary: 'Mint a playback token of a private channel', security: TOKEN_REQUIRED, params, body: PlaybackTokenBody,
      response: responses({ 201: PlaybackToken }, [400, 401, 404, 409, 503]),
    },
  }, async (req, reply) => {
    const ch = await load(req.params.name);
    const { expiresIn, ip } = playbackTokenRequest(req.body);
    if (!isPrivate(ch) || !ch.playbackSecret) throw conflict(`Channel '${ch.name}' is public: its playback needs no token (PATCH {"private": true} first).`);
    const expires = Math.floor(Date.now() / 1000) + expiresIn;
    const token = signPlaybackToken(ch.playbackSecret, ch.name, expires, ip);
    const { httpBase } = addressesFor(config.publicUrl, req.headers.host, req.protocol);
    const urls = playbackUrls(ch.name, httpBase, token);
    return reply.code(201).header('Cache-Control', 'no-store').send({ token, expiresAt: new Date(expires * 1000).toISOString(), ...urls });
  });

  app.post<{ Params: ChannelParams }>('/api/channels/:name/playback-secret', {
    schema: { tags, summary: 'Rotate the playback secret (every token minted before stops working)', security: TOKEN_REQUIRED, params, response: responses({ 200: ChannelView }, [400, 401, 404, 503]) },
  }, async (req) => {
    const ch = await load(req.params.name);
    const next = { ...ch, playbackSecret: newPlaybackSecret(), updatedAt: new Date().toISOString() };
    await channels.update(ch, next);
    return view(req, next, await channels.status(ch.name));
  });

  app.delete<{ Params: ChannelParams }>('/api/channels/:name', {
    schema: { tags, summary: 'Delete a channel and its content', security: TOKEN_REQUIRED, params, response: responses({ 204: null }, [400, 401, 404, 503]) },
  }, async (req, reply) => {
    const ch = await load(req.params.name);
    await channels.remove(ch);
    if (await store.getFormat(ch.name)) {
      const { renditions } = await store.getRelations(ch.name);
      for (const r of renditions) await store.deleteContent(r.target);
      await store.deleteContent(ch.name);
    }
    return reply.code(204).send();
  });
}
