/**
 * The browser pages: the viewer at /player/ (?channel=<name>), the operator dashboard at /, and hls.js
 * from our own node_modules at /vendor/hls.js/ (no CDN). Static files only: the pages talk to the
 * channel API and /live like any other client. Directories are injected by the composition root;
 * `findPagesDirs` finds them beside the project for the usual layout (source or dist/).
 */

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

export interface PagesOptions {
  /** Folder holding index.html (viewer), dashboard.html and their scripts and styles. */
  playerDir: string;
  /** Folder holding hls.js's dist build (hls.min.js, hls.js). */
  hlsJsDir: string;
}

/** URL path under which hls.js's dist files are served. */
export const HLS_JS_PREFIX = '/vendor/hls.js/';

const HLS_JS_FILES = new Set(['hls.min.js', 'hls.min.js.map', 'hls.js', 'hls.js.map', 'hls.light.min.js', 'hls.light.min.js.map']);

/**
 * Find player/ and node_modules/hls.js/dist by walking up from `from` (default: this file's folder,
 * which is engine/api in the sources or dist/engine/api once compiled). Throws a clear error if absent.
 */
export function findPagesDirs(from: string = __dirname): PagesOptions {
  let dir = resolve(from);
  for (;;) {
    const playerDir = join(dir, 'player');
    const hlsJsDir = join(dir, 'node_modules', 'hls.js', 'dist');
    if (existsSync(join(playerDir, 'index.html')) && existsSync(join(hlsJsDir, 'hls.min.js'))) return { playerDir, hlsJsDir };
    const up = dirname(dir);
    if (up === dir) throw new Error(`Could not find player/index.html and node_modules/hls.js/dist/hls.min.js above ${from}.`);
    dir = up;
  }
}

/** Headers every page and script carries: no sniffing, no framing by other sites, no referrer leaks. */
function securityHeaders(res: { setHeader: (name: string, value: string) => unknown }): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'SAMEORIGIN');
  res.setHeader('Referrer-Policy', 'same-origin');
}

export async function pagesPlugin(app: FastifyInstance, opts: PagesOptions): Promise<void> {
  for (const [what, file] of [['playerDir', join(opts.playerDir, 'index.html')], ['playerDir', join(opts.playerDir, 'dashboard.html')], ['hlsJsDir', join(opts.hlsJsDir, 'hls.min.js')]] as const) {
    if (!existsSync(file)) throw new Error(`pagesPlugin: ${what} has no ${file}.`);
  }

  await app.register(fastifyStatic, {
    root: opts.playerDir,
    prefix: '/player/',
    index: ['index.html'],
    redirect: true,
    decorateReply: true,
    cacheControl: true,
    maxAge: 0,
    dotfiles: 'deny',
    setHeaders: securityHeaders,
  });

  await app.register(fastifyStatic, {
    root: opts.hlsJsDir,
    prefix: HLS_JS_PREFIX,
    decorateReply: false,
    index: false,
    maxAge: '1h',
    allowedPath: (pathName) => HLS_JS_FILES.has(pathName.replace(/^\/+/, '')),
    setHeaders: securityHeaders,
  });

  // The app ignores trailing slashes, which hides the static wildcard's directory index: route it here.
  const page = (file: string) => async (_req: unknown, reply: FastifyReply) => {
    securityHeaders({ setHeader: (n, v) => reply.header(n, v) });
    return reply.header('Cache-Control', 'no-cache').sendFile(file, opts.playerDir);
  };
  app.get('/', page('dashboard.html'));
  app.get('/player', page('index.html'));
}
