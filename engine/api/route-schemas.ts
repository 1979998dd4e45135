/**
 * How the API's route schemas (engine/api/schemas.ts) are applied, in the calling plugin's scope only:
 *
 * - path parameters and query strings are checked against their TypeBox schema (compiled once per route);
 *   a failure is a 400 `{statusCode, error, message}` naming the parameter;
 * - JSON bodies and headers are not checked here: the pure validators of core/model own them and give the
 *   precise messages (and a body's Content-Type rules, engine/api/body.ts, come first). Their schemas
 *   document the shapes in the OpenAPI document;
 * - answers are serialised with JSON.stringify, as before: a response schema documents, it never filters.
 */

import type { FastifyInstance } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { badRequest } from '../../core/model/errors';

const PART_NAME: Record<string, string> = { params: 'Path parameter', querystring: 'Query parameter' };

/** Pure: the 400 message for a value that failed its schema at `path` (a JSON pointer such as /limit). */
export function schemaMessage(part: string, path: string, reason: string, value: unknown): string {
  const field = path.replace(/^\//, '').split('/')[0] ?? '';
  const what = PART_NAME[part] ?? 'Request';
  if (!field) return `${what}s are not valid: ${reason.toLowerCase()}.`;
  if (Array.isArray(value)) return `${what} '${field.slice(0, 64)}' is given more than once.`;
  return `${what} '${field.slice(0, 64)}' is not valid: ${reason.toLowerCase()}.`;
}

type Validator = (data: unknown) => true | { error: Error };

/** A validator for one HTTP part of one route. */
export function compilePart(schema: TSchema, part: string): Validator {
  if (part !== 'params' && part !== 'querystring') return () => true;
  const check = TypeCompiler.Compile(schema);
  return (data) => {
    if (check.Check(data)) return true;
    const first = check.Errors(data).First();
    const path = first?.path ?? '';
    const field = path.replace(/^\//, '').split('/')[0] ?? '';
    const value = field && typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[field] : data;
    return { error: badRequest(schemaMessage(part, path, first?.message ?? 'does not match its schema', value)) };
  };
}

/** Install the compilers on a plugin's scope (encapsulated: other plugins keep fastify's own). */
export function useRouteSchemas(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => compilePart(schema as TSchema, httpPart ?? ''));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}
