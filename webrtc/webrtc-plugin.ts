/**
 * The WHEP routes (draft-ietf-wish-whep): POST an SDP offer to /live/<channel>/whep → 201 with the SDP answer
 * and a Location for the session; DELETE the Location ends it; PATCH it with an
 * application/trickle-ice-sdpfrag body adds remote candidates (optional: Beamline answers only once its own
 * gathering is complete, so clients need not trickle). Errors are JSON {statusCode, error, message}.
 * `?rendition=<rung>` plays a transcoded rung instead of the source. CORS is open like the rest of /live.
 */

import type { FastifyInstance, FastifyReply } from 'fastify';
import { BeamError } from '../core/model/errors';
import { MAX_SDP_BYTES } from './sdp-offer';
import type { WebrtcService } from './webrtc-service';
import type { WhipService } from './whip-service';
import { CHANNEL_NAME_BODY } from '../core/model/channel';

export interface WebrtcPluginOptions {
  service: WebrtcService;
  /** WHIP ingest (POST /whip/<channel>); without it the routes are not registered. */
  whip?: WhipService;
}

const EXPOSED = 'Location, ETag, Link, Beam-Rendition, Beam-Note';

function cors(reply: FastifyReply): FastifyReply {
  return reply.header('Access-Control-Allow-Origin', '*').header('Access-Control-Expose-Headers', EXPOSED);
}

export async function webrtcPlugin(app: FastifyInstance, opts: WebrtcPluginOptions): Promise<void> {
  const { service, whip } = opts;
  // WHIP sessions first: the WHEP service's close releases libdatachannel, after which no connection may be touched.
  app.addHook('onClose', async () => {
    await whip?.close();
    await service.close();
  });
  for (const type of ['application/sdp', 'application/trickle-ice-sdpfrag']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_SDP_BYTES }, (_req, body, done) => done(null, body));
  }
  app.addHook('onSend', async (_req, reply, payload) => {
    cors(reply);
    return payload;
  });

  const preflight = async (_req: unknown, reply: FastifyReply) => reply
    .header('Access-Control-Allow-Methods', 'POST, PATCH, DELETE, OPTIONS')
    .header('Access-Control-Allow-Headers', 'Content-Type, Authorization, If-Match')
    .header('Access-Control-Max-Age', '86400')
    .code(204)
    .send();
  app.options('/live/:channel/whep', preflight);
  app.options('/live/:channel/whep/:id', preflight);
  if (whip) {
    app.options('/whip/:channel', preflight);
    app.options('/whip/:channel/:id', preflight);
    // WHIP ingest: the stream key is the bearer token (OBS Studio 30+ sends it so).
    app.post<{ Params: { channel: string } }>('/whip/:channel', async (req, reply) => {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/sdp') throw new BeamError('BEAM_ERR_UNSUPPORTED_MEDIA_TYPE', 'A WHIP offer is sent with Content-Type: application/sdp.');
      const { channel } = req.params;
      const r = await whip.whip(channel, req.body, { authorization: req.headers.authorization, address: req.ip, port: req.socket.remotePort ?? 0 });
      return reply.code(201).header('Content-Type', 'application/sdp').header('Location', `/whip/${channel}/${r.id}`)
        .header('ETag', `"${r.id}"`).header('Cache-Control', 'no-store').send(r.answer);
    });
    app.delete<{ Params: { channel: string; id: string } }>('/whip/:channel/:id', async (req, reply) => {
      if (!whip.endWhip(req.params.channel, req.params.id)) throw new BeamError('BEAM_ERR_NOT_FOUND', `No WHIP session '${req.params.id}' on channel '${req.params.channel}'.`);
      return reply.code(204).send();
    });
    // Beamline answers once its ICE gathering is complete; an encoder that trickles its own candidates PATCHes them.
    app.patch<{ Params: { channel: string; id: string } }>('/whip/:channel/:id', async (req, reply) => {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/trickle-ice-sdpfrag') throw new BeamError('BEAM_ERR_UNSUPPORTED_MEDIA_TYPE', 'Trickle ICE is sent with Content-Type: application/trickle-ice-sdpfrag.');
      whip.trickle(req.params.channel, req.params.id, typeof req.body === 'string' ? req.body : '');
      return reply.code(204).send();
    });
  }

  app.post<{ Params: { channel: string }; Querystring: { rendition?: string } }>('/live/:channel/whep', async (req, reply) => {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/sdp') throw new BeamError('BEAM_ERR_UNSUPPORTED_MEDIA_TYPE', 'A WHEP offer is sent with Content-Type: application/sdp.');
    const { channel } = req.params;
    const rendition = typeof req.query?.rendition === 'string' ? req.query.rendition : undefined;
    const r = await service.whep(channel, req.body, { address: req.ip, ...(rendition ? { rendition } : {}) });
    reply.code(201).header('Content-Type', 'application/sdp').header('Location', `/live/${channel}/whep/${r.id}`)
      .header('ETag', `"${r.id}"`).header('Beam-Rendition', r.rendition).header('Cache-Control', 'no-store');
    if (r.note) reply.header('Beam-Note', r.note);
    return reply.send(r.answer);
  });

  app.delete<{ Params: { channel: string; id: string } }>('/live/:channel/whep/:id', async (req, reply) => {
    if (!service.endWhep(req.params.channel, req.params.id)) throw new BeamError('BEAM_ERR_NOT_FOUND', `No WebRTC session '${req.params.id}' on channel '${req.params.channel}'.`);
    return reply.code(204).send();
  });

  app.patch<{ Params: { channel: string; id: string } }>('/live/:channel/whep/:id', async (req, reply) => {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/trickle-ice-sdpfrag') throw new BeamError('BEAM_ERR_UNSUPPORTED_MEDIA_TYPE', 'Trickle ICE is sent with Content-Type: application/trickle-ice-sdpfrag.');
    service.trickle(req.params.channel, req.params.id, typeof req.body === 'string' ? req.body : '');
    return reply.code(204).send();
  });
}

const WHEP_OFFER_PATH = new RegExp(`^/live/${CHANNEL_NAME_BODY}/whep/?$`);
const WHEP_SESSION_PATH = new RegExp(`^/live/${CHANNEL_NAME_BODY}/whep/[\\w-]{1,64}/?$`);
const WHIP_OFFER_PATH = new RegExp(`^/whip/${CHANNEL_NAME_BODY}/?$`);
const WHIP_SESSION_PATH = new RegExp(`^/whip/${CHANNEL_NAME_BODY}/[\\w-]{1,64}/?$`);

/**
 * The WebRTC writes made without the API token: a WHEP offer and a session's DELETE/PATCH (its id is the
 * secret); a WHIP offer (its bearer token is the channel's stream key, checked by the ingest) and its
 * session's DELETE/PATCH.
 */
export function isWhepWrite(method: string, url: string): boolean {
  const path = url.split('?')[0] ?? '';
  if (method === 'POST') return WHEP_OFFER_PATH.test(path) || WHIP_OFFER_PATH.test(path);
  if (method === 'DELETE' || method === 'PATCH') return WHEP_SESSION_PATH.test(path) || WHIP_SESSION_PATH.test(path);
  return false;
}
