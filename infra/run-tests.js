#!/usr/bin/env node
// Runs the whole suite with Node's test runner over the compiled tests in dist/test:
// unit (pure), integration (real redis-server on loopback), e2e (real publishers, Chromium).
// Usage: node infra/run-tests.js [unit|integration|e2e ...]  (default: all three)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

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

const files = kinds.flatMap((k) => find(path.join(root, 'dist', 'test', k)));
if (files.length === 0) {
  console.error(`no compiled tests found for ${kinds.join(', ')}; run npm run build first`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [
  '--enable-source-maps', '--test', '--test-reporter=spec', '--test-concurrency=2',
  ...files.map((f) => path.relative(root, f)),
], { cwd: root, stdio: 'inherit', env: { ...process.env, BEAM_LOG_LEVEL: process.env.BEAM_LOG_LEVEL ?? 'silent' } });
process.exit(r.status ?? 1);
