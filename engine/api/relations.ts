/**
 * Relationships between content items (left unfinished by the original engine): renditions.
 *
 *   GET    /beams/<c>/relations              {renditionOf: {source, streamMap} | null, renditions: [{target, streamMap}]}
 *   GET    /beams/<c>/relations/rendition    c's source relationship, 404 when c is an original
 *   PUT    /beams/<c>/relations/rendition    assert "c is a rendition of source": {source, streamMap?}
 *   DELETE /beams/<c>/relations/rendition    remove it
 */

import type { FastifyInstance } from 'fastify';
import { notFound } from '../../core/model/errors';
import { validateContentName, validateRenditionBody } from '../../core/model/content';
import type { Store } from '../../core/store/store';
import { requireBody } from './body';
import { useRouteSchemas } from './route-schemas';
import { ContentParams, Relations, Rendition, RenditionBody, responses } from './schemas';
import { TOKEN_OPTIONAL, TOKEN_REQUIRED } from './openapi';

type P = ContentParams;

export async function relationsPlugin(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  const { store } = opts;
  useRouteSchemas(app);
  const base = { tags: ['relations'], params: ContentParams };

  async function existing(raw: string): Promise<string> {
    const name = validateContentName(raw);
    if (!(await store.getFormat(name))) throw notFound(`Content item '${name}' was not found.`);
    return name;
  }

  app.get<{ Params: P }>('/beams/:content/relations', {
    schema: { ...base, summary: "A content item's relationships", security: TOKEN_OPTIONAL, response: responses({ 200: Relations }, [400, 401, 404, 503]) },
  }, async (req) => store.getRelations(await existing(req.params.content)));

  app.get<{ Params: P }>('/beams/:content/relations/rendition', {
    schema: { ...base, summary: 'Which item this one is a rendition of', security: TOKEN_OPTIONAL, response: responses({ 200: Rendition }, [400, 401, 404, 503]) },
  }, async (req) => {
    const name = await existing(req.params.content);
    const r = (await store.getRelations(name)).renditionOf;
    if (!r) throw notFound(`Content item '${name}' is not a rendition of another item.`);
    return { source: r.source, target: name, streamMap: r.streamMap };
  });

  app.put<{ Params: P }>('/beams/:content/relations/rendition', {
    schema: { ...base, summary: 'Assert that this item is a rendition of another', security: TOKEN_REQUIRED, body: RenditionBody, response: responses({ 200: Rendition, 201: Rendition }, [400, 401, 404, 503]) },
  }, async (req, reply) => {
    const name = await existing(req.params.content);
    const rendition = validateRenditionBody(requireBody(req, 'json'), name);
    const before = (await store.getRelations(name)).renditionOf;
    await store.setRendition(rendition);
    return reply.code(before ? 200 : 201).send(rendition);
  });

  app.delete<{ Params: P }>('/beams/:content/relations/rendition', {
    schema: { ...base, summary: 'Remove the rendition relationship', security: TOKEN_REQUIRED, response: responses({ 204: null }, [400, 401, 404, 503]) },
  }, async (req, reply) => {
    const name = await existing(req.params.content);
    if (!(await store.deleteRendition(name))) throw notFound(`Content item '${name}' is not a rendition of another item.`);
    return reply.code(204).send();
  });
}
