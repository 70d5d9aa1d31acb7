import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests import src/ modules directly: the Node platform (files, workers) goes under them as under src/index.ts.
    setupFiles: ['src/platform/node.ts'],
    // One temporary directory per run, removed at its end (test/helpers/tmpdir.ts).
    globalSetup: ['test/helpers/tmpdir.ts'],
  },
});
