/**
 * infra/setup.sh when something is missing and we are not root: it must stop before changing anything and
 * print the exact command to run. (As root, the suite itself runs after setup.sh, which is its real test.)
 */

import { it } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../helpers/paths';

const SETUP = repoPath('infra', 'setup.sh');

it('not root with a package missing: exits 1 with the exact apt-get command, installs nothing', () => {
  const bin = mkdtempSync(join(tmpdir(), 'beamline-setup-'));
  try {
    writeFileSync(join(bin, 'id'), '#!/bin/sh\necho 1000\n');
    // Every package is installed except srt-tools.
    writeFileSync(join(bin, 'dpkg-query'), '#!/bin/sh\nfor a; do p=$a; done\n[ "$p" = srt-tools ] && exit 1\nprintf "install ok installed"\n');
    writeFileSync(join(bin, 'apt-get'), '#!/bin/sh\necho "apt-get must not run" >&2\nexit 99\n');
    for (const f of ['id', 'dpkg-query', 'apt-get']) chmodSync(join(bin, f), 0o755);
    const r = spawnSync('bash', [SETUP], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /missing Debian packages: srt-tools/);
    assert.match(r.stderr, /sudo sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends srt-tools"/);
    assert.doesNotMatch(r.stderr, /must not run/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
