import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'plugins/**/*.test.ts', 'lab/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Tests spawn ffmpeg and servers; two cores cannot run many files at once.
    fileParallelism: false,
    pool: 'forks',
  },
});
