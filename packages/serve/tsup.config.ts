import { defineConfig } from 'tsup';

// Entries: the library, the rec-serve command, and the model worker thread script (loaded by WorkerRecommender
// from beside the built module).
export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts', 'src/model-worker.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
