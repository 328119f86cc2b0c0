import { defineConfig } from 'tsup';

export default defineConfig({
  // Two entries: the library, and the test utilities (`@rec/core/testing`, which imports vitest). ESM code
  // splitting puts what both use (backend selection, gradient registration) in one shared chunk, run once.
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  splitting: true,
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The gradient registrations of tfjs-core are only reachable through a deep ESM import that Node cannot load
  // (extensionless paths): bundle that part; the tfjs-core package itself stays an external peer.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  external: ['@tensorflow/tfjs-core', /^@tensorflow\/tfjs-backend-/, /^@tensorflow\/tfjs-node/, 'webgpu', 'vitest'],
});
