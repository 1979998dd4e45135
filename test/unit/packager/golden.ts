/**
 * Golden-file comparison for the packager's unit tests. `UPDATE_GOLDEN=1` rewrites the goldens
 * in the source tree (test/unit/packager/golden/); review the diff by eye before committing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Compiled tests live in dist/test/unit/packager; goldens are copied beside them. */
const compiledDir = path.join(__dirname, 'golden');
const sourceDir = path.resolve(__dirname, '../../../../test/unit/packager/golden');

export function expectGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(sourceDir, { recursive: true });
    writeFileSync(path.join(sourceDir, name), actual);
    mkdirSync(compiledDir, { recursive: true });
    writeFileSync(path.join(compiledDir, name), actual);
    return;
  }
  const file = path.join(compiledDir, name);
  assert.ok(existsSync(file), `golden ${name} missing: run the tests once with UPDATE_GOLDEN=1, then node infra/copy-assets.js`);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from golden ${name}`);
}
