/**
 * The Content Beam API (/beams/…) as the original Aerostat Beam Engine README documents it, plus what
 * it left unfinished: format update and delete, media element delete. Relationships live in relations.ts.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../model/errors';
import { validateContentName, validateElement, validateFormat } from '../model/content';
import type { ElementMeta, Format, Stream } from '../model/media';
import { parseMediaRef, type MediaRef } from '../model/media-ref';
import { parseStreamName, selectStream } from '../model/stream-name';
import { planQuery, type Paging } from '../model/query-plan';
import type { Store } from '../store/store';
import { requireBody } from './body';

export interface BeamsLimits {
  defaultLimit: number;
  mediaDefaultLimit: number;
  maxLimit: number;
}

type Params = { content: string; stream: string; ref: string; data?: string };

const RE_INT = /^-?(0|[1-9][0-9]{0,15})$/;

/** Pure: offset/limit (and the README's `start` for offset) from a query string, with clear errors. */
export function parsePaging(query: unknown, defaultLimit: number, maxLimit: number): Paging {
  const q = (query ?? {}) as Record<string, unknown>;
  const one = (name: string): string | undefined => {
    const v = q[name];
    if (Array.isArray(v)) throw badRequest(`Query parameter '${name}' is given more than once.`);
    return v === undefined ? undefined : String(v);
  };
  const rawOffset = one('offset') ?? one('start');
  const rawLimit = one('limit');
  if (rawOffset !== undefined && !RE_INT.test(rawOffset)) throw badRequest(`Query parameter 'offset' must be an integer (negative counts from the end), not '${rawOffset.slice(0, 32)}'.`);
  if (rawLimit !== undefined && (!RE_INT.test(rawLimit) || Number(rawLimit) < 1)) throw badRequest(`Query parameter 'limit' must be a positive integer, not '${rawLimit.slice(0, 32)}'.`);
  const limit = rawLimit === undefined ? defaultLimit : Number(rawLimit);
  if (limit > maxLimit) throw badRequest(`Query parameter 'limit' must be at most ${maxLimit}.`);
  return { offset: rawOffset === undefined ? 0 : Number(rawOffset), limit };
}

function stripJson(name: string): string {
  return name.endsWith('.json') ? name.slice(0, -5) : name;
}

export function contentPath(name: string): string {
  return `/beams/${encodeURIComponent(name)}`;
}

async function loadFormat(store: Store, rawName: string): Promise<Format> {
  const name = validateContentName(stripJson(rawName));
  const format = await store.getFormat(name);
  if (!format) throw notFound(`Content item '${name}' was not found.`);
  return format;
}

async function loadStream(store: Store, rawName: string, rawStream: string): Promise<{ format: Format; stream: Stream }> {
  const selector = parseStreamName(rawStream);
  const format = await loadFormat(store, rawName);
  const stream = selectStream(format.streams, selector);
  if (!stream) throw notFound(`Content item '${format.url}' has no stream '${rawStream}' (it has ${format.streams.length} stream(s)).`);
  return { format, stream };
}

/** Pure: parse a Beam-Buf-Sizes header against a payload length. */
export function parseBufSizes(header: string | string[] | undefined, length: number): number[] | undefined {
  if (header === undefined) return undefined;
  let sizes: unknown;
  try {
    sizes = JSON.parse(Array.isArray(header) ? header.join(',') : header);
  } catch {
    throw badRequest('Header Beam-Buf-Sizes must be a JSON array of plane sizes, e.g. [2073664, 1036864, 1036864].');
  }
  if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    throw badRequest('Header Beam-Buf-Sizes must be a non-empty JSON array of non-negative integers.');
  }
  const total = (sizes as number[]).reduce((a, b) => a + b, 0);
  if (total !== length) throw badRequest(`Header Beam-Buf-Sizes adds up to ${total} bytes but the body has ${length}.`);
  return sizes as number[];
}

/** Pure: one plane of a payload (or all of it), or null when the plane does not exist. */
export function selectPlane(data: Buffer, bufSizes: number[] | null, plane: number | 'all'): Buffer | null {
  if (plane === 'all') return data;
  const sizes = bufSizes ?? [data.length];
  if (plane >= sizes.length) return null;
  const start = sizes.slice(0, plane).reduce((a, b) => a + b, 0);
  return data.subarray(start, start + (sizes[plane] as number));
}

export async function beamsPlugin(app: FastifyInstance, opts: { store: Store; limits: BeamsLimits }): Promise<void> {
  const { store, limits } = opts;

  app.get('/beams', async (req) => {
    const { offset, limit } = parsePaging(req.query, limits.defaultLimit, limits.maxLimit);
    return store.listContents(offset, limit);
  });

  app.post('/beams', async (req, reply) => {
    const body = requireBody(req, 'json') as Record<string, unknown>;
    const name = validateContentName(typeof body === 'object' && body && 'url' in body ? body.url : crypto.randomUUID());
    const format = validateFormat(body, name);
    await store.createContent(format);
    return reply.code(201).header('Location', contentPath(name)).send(format);
  });

  app.get<{ Params: { content: string } }>('/beams/:content', async (req) => loadFormat(store, req.params.content));

  app.put<{ Params: { content: string } }>('/beams/:content', async (req) => {
    const name = validateContentName(stripJson(req.params.content));
    const existing = await store.getFormat(name);
    if (!existing) throw notFound(`Content item '${name}' was not found: create it with POST /beams/.`);
    const format = validateFormat(requireBody(req, 'json'), name);
    await store.updateFormat(format);
    return format;
  });

  app.delete<{ Params: { content: string } }>('/beams/:content', async (req, reply) => {
    const format = await loadFormat(store, req.params.content);
    await store.deleteContent(format.url);
    return reply.code(204).send();
  });

  app.get<{ Params: Pick<Params, 'content' | 'stream'> }>('/beams/:content/:stream', async (req) => {
    return (await loadStream(store, req.params.content, req.params.stream)).stream;
  });

  async function getMedia(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const ref = parseMediaRef(req.params.ref, req.params.data);
    const { format, stream } = await loadStream(store, req.params.content, req.params.stream);
    if (ref.kind === 'direct') {
      if (!ref.data) {
        const meta = await store.getElement(format.url, stream.index, ref.element, ref.pts);
        if (!meta) throw notFound(`No ${ref.element} with pts ${ref.pts} in stream ${stream.index} of '${format.url}'.`);
        return meta;
      }
      const payload = await store.getPayload(format.url, stream.index, ref.element, ref.pts);
      if (!payload) throw notFound(`The payload of ${ref.element}_${ref.pts} is not available (never written, or expired from the cache).`);
      const body = selectPlane(payload.data, payload.bufSizes, ref.data.plane);
      if (!body) throw notFound(`${ref.element}_${ref.pts} has no plane ${String(ref.data.plane)}.`);
      if (ref.element === 'frame' && ref.data.plane === 'all') reply.header('Beam-Buf-Sizes', JSON.stringify(payload.bufSizes ?? [payload.data.length]));
      return reply.type('application/octet-stream').send(body);
    }
    const paging = parsePaging(req.query, limits.mediaDefaultLimit, limits.maxLimit);
    const found = await store.query(format.url, stream.index, planQuery(ref, stream, paging));
    if (found.length === 0) throw notFound(`No media elements match '${req.params.ref}' in stream ${stream.index} of '${format.url}'.`);
    if (ref.kind === 'redirect') {
      const first = found[0] as { member: string };
      return reply.redirect(`${contentPath(format.url)}/stream_${stream.index}/${first.member}`, 302);
    }
    return found.map((e) => e.meta) satisfies ElementMeta[];
  }

  async function putMedia(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const ref: MediaRef = parseMediaRef(req.params.ref, req.params.data);
    if (ref.kind !== 'direct') {
      throw badRequest(`PUT needs a direct reference such as packet_<pts> or frame_<pts>, not '${req.params.ref}'.`);
    }
    const { format, stream } = await loadStream(store, req.params.content, req.params.stream);
    if (!ref.data) {
      const meta = validateElement(requireBody(req, 'json'), ref.element, ref.pts, stream.index);
      const created = await store.putElement(format.url, stream.index, ref.element, meta, store.elementTtlMs(format, ref.element));
      return reply.code(created ? 201 : 200).send(meta);
    }
    const body = requireBody(req, 'binary') as Buffer;
    const sizes = ref.data.plane === 'all' ? parseBufSizes(req.headers['beam-buf-sizes'], body.length) : undefined;
    const size = await store.putPayload(format.url, stream.index, ref.element, ref.pts, body, ref.data.plane, sizes);
    return reply.code(200).send({ type: 'payload', element: `${ref.element}_${ref.pts}`, stream_index: stream.index, size });
  }

  async function deleteMedia(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const ref = parseMediaRef(req.params.ref, req.params.data);
    if (ref.kind !== 'direct' || ref.data) {
      throw badRequest(`DELETE needs a direct reference such as packet_<pts> or frame_<pts>, not '${req.params.ref}'.`);
    }
    const { format, stream } = await loadStream(store, req.params.content, req.params.stream);
    const existed = await store.deleteElement(format.url, stream.index, ref.element, ref.pts);
    if (!existed) throw notFound(`No ${ref.element} with pts ${ref.pts} in stream ${stream.index} of '${format.url}'.`);
    return reply.code(204).send();
  }

  for (const path of ['/beams/:content/:stream/:ref', '/beams/:content/:stream/:ref/:data']) {
    app.get<{ Params: Params }>(path, getMedia);
    app.put<{ Params: Params }>(path, putMedia);
  }
  app.delete<{ Params: Params }>('/beams/:content/:stream/:ref', deleteMedia);
}
