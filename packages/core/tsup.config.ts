import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The gradient registrations of tfjs-core are only reachable through a deep ESM import that Node cannot load
  // (extensionless paths): bundle that part; the tfjs-core package itself stays an external peer.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  external: ['@tensorflow/tfjs-core', /^@tensorflow\/tfjs-backend-/, /^@tensorflow\/tfjs-node/, 'webgpu'],
});
