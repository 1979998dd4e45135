/**
 * Loading our N-API addons (built by infra/setup.sh into `<folder>/build/Release/` under the project root):
 * one place that finds the project root from a module's own folder (src or dist) and says what to run when an
 * addon is missing.
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The nearest folder at or above `from` that holds a package.json. */
export function findProjectRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${from}: cannot locate the project's native addons`);
    dir = parent;
  }
}

/**
 * Requires the addon at `relativePath` under the project root found from `from`; a clear error naming `what` and
 * the packages it `needs` when it is not built.
 */
export function requireNativeAddon(relativePath: string, what: string, needs: string, from: string): { file: string; addon: unknown } {
  const file = join(findProjectRoot(from), relativePath);
  if (!existsSync(file)) {
    throw new Error(`${what} is not built (${file} is missing): run "npm run setup" (it needs ${needs})`);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return { file, addon: require(file) as unknown };
}
