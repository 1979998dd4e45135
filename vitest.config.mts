// The test suite: `npm test` (infra/run-tests.js) runs it; see README, "Testing".
// vitest runs the TypeScript sources in test/ directly; e2e tests spawn the compiled product in dist/,
// which `npm test` builds first (infra/setup.sh). tsc stays the type checker (it compiles test/ too).
import { defineConfig } from 'vitest/config';

const SOLO = '**/*.solo.test.ts';
const kinds = ['unit', 'integration', 'e2e'] as const;

export default defineConfig({
  test: {
    // One child process per test file (real servers, native addons, signal handlers): forks, not threads.
    pool: 'forks',
    // The machine has 2 cores, and e2e files drive real ffmpeg publishers and Chromium.
    maxWorkers: 2,
    // node:test had no default timeout; tests that need less say so (`it(name, { timeout }, fn)`).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    env: { BEAM_LOG_LEVEL: process.env.BEAM_LOG_LEVEL ?? 'silent' },
    projects: [
      ...kinds.map((kind) => ({
        extends: true as const,
        test: { name: kind, include: [`test/${kind}/**/*.test.ts`], exclude: [SOLO] },
      })),
      // `*.solo.test.ts` load both cores (a 1080p30 default ladder) and would starve timing-sensitive tests
      // beside them (a player's quality switch): they run alone, one at a time, after every other file.
      ...kinds.map((kind) => ({
        extends: true as const,
        test: { name: `${kind}-solo`, include: [`test/${kind}/${SOLO}`], maxWorkers: 1, sequence: { groupOrder: 1 } },
      })),
    ],
    coverage: {
      provider: 'v8',
      include: ['core/**/*.ts', 'engine/**/*.ts', 'ingest/**/*.ts', 'transcoders/**/*.ts', 'packager/**/*.ts', 'webrtc/**/*.ts', 'beamline.ts'],
      exclude: ['**/*.d.ts', '**/node_modules/**', '**/build/**'],
      reporter: ['text-summary', 'html'],
      reportsDirectory: 'coverage',
      // The figure is wanted even when a timing-sensitive test failed on a loaded machine.
      reportOnFailure: true,
    },
  },
});
