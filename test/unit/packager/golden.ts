/**
 * Golden-file comparison for the packager's unit tests. `UPDATE_GOLDEN=1` rewrites the goldens
 * in the source tree (test/unit/packager/golden/); review the diff by eye before committing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The goldens, beside this file in the source tree (vitest runs the sources). */
const goldenDir = path.join(__dirname, 'golden');

export function expectGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(path.join(goldenDir, name), actual);
    return;
  }
  const file = path.join(goldenDir, name);
  assert.ok(existsSync(file), `golden ${name} missing: run the tests once with UPDATE_GOLDEN=1`);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from golden ${name}`);
}
