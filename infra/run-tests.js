#!/usr/bin/env node
// Runs the test suite with vitest over the TypeScript sources in test/ (projects in vitest.config.mts):
// unit (pure), integration (real redis-server on loopback), e2e (real publishers, Chromium, the built product).
// Files run two at a time; `*.solo.test.ts` run alone, one at a time, after the rest (same vitest run).
// Ends with one plain line, `N passed, N failed` (`, N skipped` when some were), and exits non-zero on any failure.
// Usage: node infra/run-tests.js [unit|integration|e2e ...] [vitest arguments, e.g. a file filter, -t name, --coverage]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const KINDS = ['unit', 'integration', 'e2e'];
const args = process.argv.slice(2);
const kinds = args.filter((a) => KINDS.includes(a));
const passThrough = args.filter((a) => !KINDS.includes(a));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beamline-tests-'));
const resultsFile = path.join(tmp, 'results.json');

const vitestArgs = [
  path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run',
  ...kinds.flatMap((k) => ['--project', k, '--project', `${k}-solo`]),
  '--reporter=default', '--reporter=json', `--outputFile.json=${resultsFile}`,
  ...passThrough,
];

const child = spawn(process.execPath, vitestArgs, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, BEAM_LOG_LEVEL: process.env.BEAM_LOG_LEVEL ?? 'silent' },
});
const forward = (sig) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

child.on('close', (code, signal) => {
  let status = code ?? 1;
  let line;
  try {
    const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    // A file that failed outside its tests (an import error, a failing beforeAll/afterAll) counts as one failure.
    const fileFailures = r.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')).length;
    const failed = r.numFailedTests + fileFailures;
    const skipped = r.numPendingTests + r.numTodoTests;
    line = `${r.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    if (failed > 0 && status === 0) status = 1;
    if (status !== 0 && failed === 0) console.log('\nvitest reported an error outside the tests (see above)');
  } catch (e) {
    console.log(`\nvitest wrote no results (${signal ?? `exit ${code}`}): ${e.message}`);
    status = status || 1;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  if (line) console.log(`\n${line}`);
  process.exit(status);
});
