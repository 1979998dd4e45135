#!/usr/bin/env node
// Runs the whole suite with Node's test runner over the compiled tests in dist/test:
// unit (pure), integration (real redis-server on loopback), e2e (real publishers, Chromium).
// Files run two at a time, except `*.solo.test.js`: they load both cores (a 1080p30 default ladder) and
// would starve timing-sensitive tests beside them (a player's quality switch), so they run alone, last.
// Usage: node infra/run-tests.js [unit|integration|e2e ...]  (default: all three)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];

function find(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return find(full);
    return e.name.endsWith('.test.js') ? [full] : [];
  }).sort();
}

// Only compiled tests whose source still exists: a renamed or deleted test must not run from a stale build.
const sourceOf = (f) => path.join(root, path.relative(path.join(root, 'dist'), f)).replace(/\.js$/, '.ts');
const files = kinds.flatMap((k) => find(path.join(root, 'dist', 'test', k))).filter((f) => fs.existsSync(sourceOf(f)));
if (files.length === 0) {
  console.error(`no compiled tests found for ${kinds.join(', ')}; run npm run build first`);
  process.exit(1);
}
const solo = files.filter((f) => f.endsWith('.solo.test.js'));
const shared = files.filter((f) => !solo.includes(f));

/** One run of Node's test runner, its output passed through as it comes; resolves with its summary counts. */
function run(list, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      '--enable-source-maps', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`,
      ...list.map((f) => path.relative(root, f)),
    ], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BEAM_LOG_LEVEL: process.env.BEAM_LOG_LEVEL ?? 'silent' } });
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      tail = (tail + d.toString()).slice(-65536);
    });
    child.on('close', (code) => {
      const count = (name) => Number((new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(tail) || [])[1] || 0);
      resolve({ status: code ?? 1, tests: count('tests'), pass: count('pass'), fail: count('fail') });
    });
  });
}

(async () => {
  const results = [];
  if (shared.length) results.push(await run(shared, 2));
  if (solo.length) results.push(await run(solo, 1));
  const total = results.reduce((a, r) => ({ tests: a.tests + r.tests, pass: a.pass + r.pass, fail: a.fail + r.fail }), { tests: 0, pass: 0, fail: 0 });
  const status = results.every((r) => r.status === 0) ? 0 : 1;
  console.log(`\nwhole suite: ${total.tests} tests, ${total.pass} pass, ${total.fail} fail (${solo.length} file(s) run alone, after the rest)`);
  process.exit(status);
})();
