import { defineConfig } from 'tsup';

// Two entries: the library and `@rec/env/testing` (MockEnv), so tests can import the mock without it ending up
// in production bundles.
export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
