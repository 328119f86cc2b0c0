import { defineConfig } from 'vitest/config';

// Tests import workspace packages through their built `dist/` (run `pnpm build` first; `scripts/test.sh` does),
// exactly as users get them. Each package's own tests import its `src/` directly.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'examples/*/src/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
