import { defineConfig } from 'vitest/config';

/**
 * End-to-end tests: they drive twnn as a user does — the CLI in a child
 * process, the packed and installed package, a page in headless Chromium,
 * a second runtime, the committed paper models — and take most of the suite's
 * time. Everything else is a unit test: in process, one module at a time
 * (against the Python references where it has one). `npm test` runs both;
 * `npm test -- --project unit` is the quick loop. test/api/projects.test.ts
 * checks that every file that spawns the CLI is listed here.
 */
export const E2E = [
  'test/cli/**/*.test.ts',
  'test/package/**/*.test.ts',
  'test/interop/**/*.test.ts',
  'test/web/browser-training.test.ts',
  'test/api/readme.test.ts',
  'test/bench/cli.test.ts',
  'test/bench/memory.test.ts',
  'test/bench/paper-models.test.ts',
  'test/bench/study-models.test.ts',
  'test/bench/solvers.test.ts',
  'test/bench/stability.test.ts',
  'test/bench/torch.test.ts',
  'test/bench/torch-twin-graphs.test.ts',
  'test/bench/torch-twin-modes.test.ts',
  'test/bench/to-accuracy.test.ts',
  'test/codegen/cli.test.ts',
  'test/contract/committed-models.test.ts',
  'test/contract/read-manifest.test.ts',
  'test/report/sine-report.test.ts',
  'test/tools/cuda-install.test.ts',
  'test/tools/gpu-check.test.ts',
];

export default defineConfig({
  test: {
    // Limits guard against hangs, not slowness: they hold at several times a test's quiet duration on a loaded machine (issue 23).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // onnxruntime-node sessions are native; forks isolate them better than threads.
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: E2E } },
      { extends: true, test: { name: 'e2e', include: E2E } },
    ],
  },
});
