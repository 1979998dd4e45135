#!/usr/bin/env node
// Copies the non-TypeScript files the compiled product reads at run time (Lua scripts, JSON) from the source
// tree into dist/, keeping their relative paths, and removes such files from dist/ whose source is gone (a
// renamed script left behind would still be loaded). Tests run from their sources (vitest) and read their
// fixtures and golden files there, so test/ is not copied.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const patterns = [/\.lua$/, /\.golden(\.[a-z0-9]+)?$/, /\.json$/];
const folders = ['core', 'engine', 'ingest', 'transcoders', 'packager'];

function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'build') continue;
      walk(full);
    } else if (patterns.some((p) => p.test(entry.name))) {
      const dest = path.join(root, 'dist', path.relative(root, full));
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(full, dest);
    }
  }
}
function prune(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) prune(full);
    else if (patterns.some((p) => p.test(entry.name)) && !fs.existsSync(path.join(root, path.relative(path.join(root, 'dist'), full)))) fs.rmSync(full);
  }
}
for (const f of folders) if (fs.existsSync(path.join(root, 'dist', f))) prune(path.join(root, 'dist', f));
for (const f of folders) if (fs.existsSync(path.join(root, f))) walk(path.join(root, f));
