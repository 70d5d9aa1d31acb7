import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests import src/ modules directly: the Node platform (files, workers) goes under them as under src/index.ts.
    setupFiles: ['src/platform/node.ts'],
    // The pool's judge off (src/kernels/pool.ts): on a busy machine it would run 2-thread cases on one thread, and
    // they are there to run the parallel paths. The judge's decisions are tested on their own (wasm-kernels).
    env: { CREMA_JUDGE: '0' },
    // One temporary directory per run, removed at its end (test/helpers/tmpdir.ts).
    globalSetup: ['test/helpers/tmpdir.ts'],
  },
});
