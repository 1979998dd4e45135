/**
 * Where things are, for tests. vitest runs the TypeScript sources in test/, while the product that e2e tests
 * spawn (and files a child process must `require`) is the compiled build in dist/, which `npm test` makes
 * first. Nothing here depends on where the calling test file lives.
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The repository root (holds package.json). */
export const REPO_ROOT = findRoot(__dirname);

/** A path in the source tree, relative to the repository root. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/** A compiled file in dist/ (e.g. `built('beamline.js')`); throws a clear error when the build is missing. */
export function built(...parts: string[]): string {
  const file = join(REPO_ROOT, 'dist', ...parts);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first (npm test builds before it runs)`);
  return file;
}

/** The sandboxed transcode processor a test's in-process transcode worker forks (the compiled one). */
export function transcodeProcessorFile(): string {
  return built('transcoders', 'transcode-processor.js');
}
