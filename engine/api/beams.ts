/**
 * The Content Beam API (/beams/…) as the original Aerostat Beam Engine README documents it, plus what
 * it left unfinished: format update and delete, media element delete. Relationships live in relations.ts.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BeamError, badRequest, notFound } from '../../core/model/errors';
import { elementTypeOf, validateContentName, validateElement, validateFormat } from '../../core/model/content';
import type { ElementMeta, Format, Stream } from '../../core/model/media';
import { parseMediaRef, type MediaRef } from '../../core/model/media-ref';
import { parseStreamName, selectStream } from '../../core/model/stream-name';
import { planQuery, type Paging } from '../../core/model/query-plan';
import type { Store } from '../../core/store/store';
import type { MarkerStreams, MediaReader } from '../../core/store/marker-stream';
import { acceptAnyContentType, requireBody } from './body';
import { useRouteSchemas } from './route-schemas';
import {
  AnyObject, ContentParams, ElementBody, FormatBody, MediaDataParams, MediaParams, PagingQuery, PayloadBody, PayloadWritten, StreamBody,
  StreamParams, responses,
} from './schemas';
import { TOKEN_OPTIONAL, TOKEN_REQUIRED } from './openapi';
import { Type, type TSchema } from '@sinclair/typebox';

export interface BeamsLimits {
  defaultLimit: number;
  mediaDefaultLimit: number;
  maxLimit: number;
}

type Params = MediaParams;

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

/** A format as the API shows it (a channel's with its ad markers' data stream, see core/store/marker-stream.ts). */
type Shown = (stored: Format) => Format;

async function loadStream(store: Store, rawName: string, rawStream: string, shown: Shown = (f) => f): Promise<{ format: Format; stream: Stream }> {
  const selector = parseStreamName(rawStream);
  const format = shown(await loadFormat(store, rawName));
  const stream = selectStream(format.streams, selector);
  if (!stream) throw notFound(`Content item '${format.url}' has no stream '${rawStream}' (it has ${format.streams.length} stream(s)).`);
  return { format, stream };
}

function oneHeader(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header.join(',') : header;
}

/**
 * Pure: parse a Beam-Buf-Sizes header (a JSON array of plane sizes) against a payload length. Sizes that add
 * up to less than the body keep only that many bytes (as the original engine); more is a 400.
 */
export function parseBufSizes(header: string | string[] | undefined, length: number): number[] | undefined {
  const text = oneHeader(header);
  if (text === undefined) return undefined;
  let sizes: unknown;
  try {
    sizes = JSON.parse(text);
  } catch {
    throw badRequest('Header Beam-Buf-Sizes must be a JSON array of plane sizes, e.g. [2073664, 1036864, 1036864].');
  }
  if (!Array.isArray(sizes) || sizes.length === 0 || sizes.length > 64 || !sizes.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    throw badRequest('Header Beam-Buf-Sizes must be a non-empty JSON array of at most 64 non-negative integers.');
  }
  const total = (sizes as number[]).reduce((a, b) => a + b, 0);
  if (total > length) throw badRequest(`Header Beam-Buf-Sizes adds up to ${total} bytes, more than the body's ${length}.`);
  return sizes as number[];
}

/** Pure: a Beam-Buf-Size header (one payload size in bytes); larger than the body is a 400. */
export function parseBufSize(header: string | string[] | undefined, length: number): number | undefined {
  const text = oneHeader(header)?.trim();
  if (text === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) throw badRequest(`Header Beam-Buf-Size must be a size in bytes, not '${text.slice(0, 32)}'.`);
  const size = Number(text);
  if (size > length) throw badRequest(`Header Beam-Buf-Size ${size} exceeds the body's ${length} bytes.`);
  return size;
}

/**
 * Pure: what of a payload PUT to store. `Beam-Buf-Size` keeps only that many bytes; `Beam-Buf-Sizes` splits a
 * whole frame into planes (keeping only the bytes they add up to); a plane write may carry one size only.
 */
export function payloadToStore(
  body: Buffer,
  element: 'packet' | 'frame',
  plane: number | 'all',
  headers: { bufSize?: string | string[]; bufSizes?: string | string[] },
): { data: Buffer; sizes?: number[] } {
  if (element === 'packet' && plane !== 'all' && plane !== 0) {
    throw badRequest(`A packet has one payload: use /data, .raw, /data_0 or .raw_0, not plane ${plane}.`);
  }
  let data = body;
  const size = parseBufSize(headers.bufSize, data.length);
  if (size !== undefined) data = data.subarray(0, size);
  const sizes = parseBufSizes(headers.bufSizes, data.length);
  if (sizes === undefined) return { data };
  const total = sizes.reduce((a, b) => a + b, 0);
  data = data.subarray(0, total);
  if (plane !== 'all') {
    if (sizes.length > 1) throw badRequest(`A write to plane ${plane} carries one plane: Beam-Buf-Sizes must have one size, not ${sizes.length}.`);
    return { data };
  }
  return { data, sizes };
}

/** Pure: one plane of a payload (or all of it), or null when the plane does not exist. */
export function selectPlane(data: Buffer, bufSizes: number[] | null, plane: number | 'all'): Buffer | null {
  if (plane === 'all') return data;
  const sizes = bufSizes ?? [data.length];
  if (plane >= sizes.length) return null;
  const start = sizes.slice(0, plane).reduce((a, b) => a + b, 0);
  return data.subarray(start, start + (sizes[plane] as number));
}

const FORMAT_BODY = 'a JSON document describing a format';
const ELEMENT_BODY = 'a JSON document describing a media element (type Packet or Frame)';

export async function beamsPlugin(app: FastifyInstance, opts: { store: Store; limits: BeamsLimits; markers?: MarkerStreams }): Promise<void> {
  const { store, limits, markers } = opts;
  const shown: Shown = markers ? markers.format : (f) => f;
  const stream = (req: FastifyRequest<{ Params: StreamParams }>) => loadStream(store, req.params.content, req.params.stream, shown);
  /** The markers' data stream is made from the channel's markers: nothing can be written to it here. */
  const writable = (format: Format, s: Stream) => {
    if (markers?.owns(format, s)) {
      throw new BeamError('BEAM_ERR_CONFLICT', `Stream ${s.index} of '${format.url}' is the channel's ad markers, made by ingest where it cut for them; it is read-only: make markers with POST /api/channels/${format.url}/markers.`);
    }
  };
  acceptAnyContentType(app);
  useRouteSchemas(app);
  const tags = ['content'];
  const read = (summary: string, extra: Record<string, unknown>, ok: TSchema, errors = [400, 401, 404, 503]) => ({
    schema: { tags, summary, security: TOKEN_OPTIONAL, ...extra, response: responses({ 200: ok }, errors) },
  });
  const write = (summary: string, extra: Record<string, unknown>, ok: Record<number, TSchema | null>, errors = [400, 401, 404, 413, 503]) => ({
    schema: { tags, summary, security: TOKEN_REQUIRED, ...extra, response: responses(ok, errors) },
  });

  app.get<{ Querystring: PagingQuery }>('/beams', read('List content items (names), paged', { querystring: PagingQuery }, Type.Array(Type.String()), [400, 401, 503]), async (req) => {
    const { offset, limit } = parsePaging(req.query, limits.defaultLimit, limits.maxLimit);
    return store.listContents(offset, limit);
  });

  app.post('/beams', write('Create a content item from its format', { body: FormatBody }, { 201: FormatBody }, [400, 401, 409, 413, 503]), async (req, reply) => {
    const body = requireBody(req, 'json', FORMAT_BODY) as Record<string, unknown>;
    // As the original engine: no url, or an empty one, gets a v4 UUID.
    const url = typeof body === 'object' && body && !Array.isArray(body) ? body.url : undefined;
    if (url !== undefined && url !== null && typeof url !== 'string') {
      throw new BeamError('BEAM_ERR_BAD_FORMAT', `Invalid format: 'url' must be a string (the content name), not ${typeof url}.`);
    }
    const name = url === undefined || url === null || url === '' ? crypto.randomUUID() : validateContentName(url);
    if (url === '' || url === null) body.url = name;
    const format = validateFormat(body, name);
    await store.createContent(format);
    return reply.code(201).header('Location', contentPath(name)).send(format);
  });

  app.get<{ Params: ContentParams }>('/beams/:content', read("A content item's format", { params: ContentParams }, FormatBody), async (req) => shown(await loadFormat(store, req.params.content)));

  app.put<{ Params: ContentParams }>('/beams/:content', write("Replace a content item's format", { params: ContentParams, body: FormatBody }, { 200: FormatBody }), async (req) => {
    const name = validateContentName(stripJson(req.params.content));
    const existing = await store.getFormat(name);
    if (!existing) throw notFound(`Content item '${name}' was not found: create it with POST /beams/.`);
    const format = validateFormat(requireBody(req, 'json', FORMAT_BODY), name);
    // A channel's format as GET shows it ends with its markers' data stream, which is not stored.
    const last = format.streams[format.streams.length - 1];
    if (last && markers?.owns(format, last)) format.streams.pop();
    await store.updateFormat(format);
    return format;
  });

  app.delete<{ Params: ContentParams }>('/beams/:content', write('Delete a content item and its media', { params: ContentParams }, { 204: null }, [400, 401, 404, 503]), async (req, reply) => {
    const format = await loadFormat(store, req.params.content);
    await store.deleteContent(format.url);
    return reply.code(204).send();
  });

  app.get<{ Params: StreamParams }>('/beams/:content/:stream', read('One stream of a content item', { params: StreamParams }, StreamBody), async (req) => {
    return (await stream(req)).stream;
  });

  async function getMedia(req: FastifyRequest<{ Params: Params; Querystring: PagingQuery }>, reply: FastifyReply) {
    const ref = parseMediaRef(req.params.ref, req.params.data);
    const { format, stream } = await loadStream(store, req.params.content, req.params.stream, shown);
    // A channel's markers' data stream is read as a stored stream is: the same answers, errors and headers.
    const media: MediaReader = markers?.owns(format, stream) ? markers.reader(format) : store;
    if (ref.kind === 'direct') {
      if (!ref.data) {
        const meta = await media.getElement(format.url, stream.index, ref.element, ref.pts);
        if (!meta) throw notFound(`No ${ref.element} with pts ${ref.pts} in stream ${stream.index} of '${format.url}'.`);
        return meta;
      }
      const payload = await media.getPayload(format.url, stream.index, ref.element, ref.pts);
      if (!payload) throw notFound(`The payload of ${ref.element}_${ref.pts} is not available (never written, or expired from the cache).`);
      const body = selectPlane(payload.data, payload.bufSizes, ref.data.plane);
      if (!body) throw notFound(`${ref.element}_${ref.pts} has no plane ${String(ref.data.plane)}.`);
      reply.header('Beam-PTS', String(ref.pts));
      if (ref.element === 'frame') {
        const all = ref.data.plane === 'all';
        reply.header('Beam-Data-Index', all ? '' : String(ref.data.plane));
        reply.header('Beam-Buf-Sizes', JSON.stringify(all ? (payload.bufSizes ?? [payload.data.length]) : [body.length]));
      }
      return reply.type('application/octet-stream').send(body);
    }
    const paging = parsePaging(req.query, limits.mediaDefaultLimit, limits.maxLimit);
    const found = await media.query(format.url, stream.index, planQuery(ref, stream, paging));
    if (found.length === 0) throw notFound(`No media elements match '${req.params.ref}' in stream ${stream.index} of '${format.url}'.`);
    if (ref.kind === 'redirect') {
      const first = found[0] as { member: string };
      return reply.redirect(`${contentPath(format.url)}/stream_${stream.index}/${first.member}`, 302);
    }
    return found.map((e) => e.meta) satisfies ElementMeta[];
  }

  async function putMedia(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const ref: MediaRef = parseMediaRef(req.params.ref, req.params.data);
    if (ref.kind !== 'direct' && ref.kind !== 'pts') {
      throw badRequest(`PUT needs a direct reference such as packet_<pts>, frame_<pts> or <pts>, not '${req.params.ref}'.`);
    }
    const { format, stream } = await loadStream(store, req.params.content, req.params.stream, shown);
    writable(format, stream);
    if (ref.kind === 'pts' || !ref.data) {
      const body = requireBody(req, 'json', ELEMENT_BODY);
      // A bare pts stores what the body's type says (packet or frame), as the original engine.
      const element = ref.kind === 'pts' ? elementTypeOf(body, ref.pts) : ref.element;
      const meta = validateElement(body, element, ref.pts, stream.index);
      const created = await store.putElement(format.url, stream.index, element, meta, store.elementTtlMs(format, element));
      return reply.code(created ? 201 : 200).send(meta);
    }
    const { data, sizes } = payloadToStore(requireBody(req, 'binary') as Buffer, ref.element, ref.data.plane, {
      bufSize: req.headers['beam-buf-size'],
      bufSizes: req.headers['beam-buf-sizes'],
    });
    const written = await store.putPayload(format.url, stream.index, ref.element, ref.pts, data, ref.data.plane, sizes);
    return reply
      .code(written.created ? 201 : 200)
      .send({ type: 'payload', element: `${ref.element}_${ref.pts}`, stream_index: stream.index, size: written.size });
  }

  async function deleteMedia(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const ref = parseMediaRef(req.params.ref, req.params.data);
    if (ref.kind !== 'direct' || ref.data) {
      throw badRequest(`DELETE needs a direct reference such as packet_<pts> or frame_<pts>, not '${req.params.ref}'.`);
    }
    const { format, stream } = await loadStream(store, req.params.content, req.params.stream, shown);
    writable(format, stream);
    const existed = await store.deleteElement(format.url, stream.index, ref.element, ref.pts);
    if (!existed) throw notFound(`No ${ref.element} with pts ${ref.pts} in stream ${stream.index} of '${format.url}'.`);
    return reply.code(204).send();
  }

  const binary = { 'application/octet-stream': { schema: PayloadBody } };
  const headers = Type.Object({
    'beam-buf-size': Type.Optional(Type.String({ description: 'Keep only this many bytes of the payload.' })),
    'beam-buf-sizes': Type.Optional(Type.String({ description: 'A JSON array of plane sizes, e.g. [2073664, 1036864, 1036864].' })),
  });
  const elements = Type.Union([Type.Array(ElementBody), ElementBody]);
  for (const [path, params] of [['/beams/:content/:stream/:ref', MediaParams], ['/beams/:content/:stream/:ref/:data', MediaDataParams]] as const) {
    const data = params === MediaDataParams;
    app.get<{ Params: Params; Querystring: PagingQuery }>(path, {
      schema: {
        tags, security: TOKEN_OPTIONAL, params, ...(data ? {} : { querystring: PagingQuery }),
        summary: data ? 'The payload of one media element (or one plane)' : 'Media elements: one, a range (paged), or a redirect to latest/first/last',
        response: {
          200: data
            ? { description: 'The payload bytes.', content: binary }
            : { description: 'One element, an array of them, or (.raw) the payload.', content: { 'application/json': { schema: elements }, ...binary } },
          ...(data ? {} : { 302: Type.Null({ description: 'latest, first, last: redirect to the element.' }) }),
          ...responses({}, [400, 401, 404, 503]),
        },
      },
    }, getMedia);
    app.put<{ Params: Params }>(path, {
      schema: {
        tags, security: TOKEN_REQUIRED, params, headers,
        summary: data ? 'Write the payload of a media element (or one plane)' : 'Write the metadata of a media element (JSON), or its payload (.raw)',
        body: { content: data ? binary : { 'application/json': { schema: ElementBody }, ...binary } },
        response: responses({ 200: data ? PayloadWritten : AnyObject, 201: data ? PayloadWritten : AnyObject }, [400, 401, 404, 409, 411, 413, 415, 503]),
      },
    }, putMedia);
  }
  app.delete<{ Params: Params }>('/beams/:content/:stream/:ref', write('Delete one media element', { params: MediaParams }, { 204: null }, [400, 401, 404, 409, 503]), deleteMedia);
}
