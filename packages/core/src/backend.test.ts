import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTfjsNodeInstall, initBackend, parseBackendPreference } from './backend.js';
import { NotAvailableError } from './errors.js';

// tfjs-node(-gpu) cannot be installed on this machine (its install step downloads libtensorflow), so the detection
// and fallback paths are tested against fake packages in a temporary node_modules.
const root = mkdtempSync(join(tmpdir(), 'rec-backend-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Write a fake package `name` under `<dir>/node_modules`, with `index.js` as its body and optionally a binding file. */
function fakePackage(dir: string, name: string, body: string, withBinding: boolean): void {
  const pkgDir = join(dir, 'node_modules', ...name.split('/'));
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name, version: '4.22.0', main: 'index.js' }));
  writeFileSync(join(pkgDir, 'index.js'), body);
  if (withBinding) {
    mkdirSync(join(pkgDir, 'lib', 'napi-v8'), { recursive: true });
    writeFileSync(join(pkgDir, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
  }
}

const g = globalThis as Record<string, unknown>;

describe('findTfjsNodeInstall', () => {
  it('returns null when the package is absent', () => {
    const dir = join(root, 'absent');
    mkdirSync(dir, { recursive: true });
    expect(findTfjsNodeInstall('@tensorflow/tfjs-node-gpu', [dir])).toBeNull();
  });

  it('returns null for a half-installed package (no native binding), without importing it', () => {
    const dir = join(root, 'half');
    fakePackage(dir, '@tensorflow/tfjs-node-gpu', 'globalThis.__recHalfImported = true;', false);
    expect(findTfjsNodeInstall('@tensorflow/tfjs-node-gpu', [dir])).toBeNull();
    expect(g.__recHalfImported).toBeUndefined();
  });

  it('finds the entry and binding of a complete install', () => {
    const dir = join(root, 'complete');
    fakePackage(dir, '@tensorflow/tfjs-node', '', true);
    const found = findTfjsNodeInstall('@tensorflow/tfjs-node', [dir]);
    expect(found?.entry).toBe(join(dir, 'node_modules', '@tensorflow', 'tfjs-node', 'index.js'));
    expect(found?.binding).toBe(join(dir, 'node_modules', '@tensorflow', 'tfjs-node', 'lib', 'napi-v8', 'tfjs_binding.node'));
  });
});

describe("initBackend('tensorflow') fallback", () => {
  it('falls back to cpu with the reason when tfjs-node(-gpu) is absent', async () => {
    const dir = join(root, 'none');
    mkdirSync(dir, { recursive: true });
    const info = await initBackend(['tensorflow', 'cpu'], { ignoreEnv: true, searchFrom: [dir] });
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.attempts[0]).toMatchObject({ name: 'tensorflow', ok: false });
    expect(info.attempts[0].detail).toContain('@tensorflow/tfjs-node-gpu is not installed');
    expect(info.attempts[0].detail).toContain('@tensorflow/tfjs-node is not installed');
  });

  it('skips a half-installed tfjs-node-gpu and never imports it', async () => {
    const dir = join(root, 'half-gpu');
    fakePackage(dir, '@tensorflow/tfjs-node-gpu', 'globalThis.__recHalfGpuImported = true;', false);
    const info = await initBackend('cuda,cpu', { ignoreEnv: true, searchFrom: [dir] });
    expect(info.name).toBe('cpu');
    expect(g.__recHalfGpuImported).toBeUndefined();
  });

  it('tries only one package: a tfjs-node-gpu that throws on import (missing CUDA) is reported, tfjs-node is not tried', async () => {
    const dir = join(root, 'broken-gpu');
    fakePackage(
      dir,
      '@tensorflow/tfjs-node-gpu',
      "globalThis.__recGpuTried = true; throw new Error('libcudart.so.11.0: cannot open shared object file');",
      true,
    );
    fakePackage(dir, '@tensorflow/tfjs-node', 'globalThis.__recCpuTried = true;', true);
    const info = await initBackend(['tensorflow', 'cpu'], { ignoreEnv: true, searchFrom: [dir] });
    expect(info.name).toBe('cpu');
    expect(g.__recGpuTried).toBe(true);
    expect(g.__recCpuTried).toBeUndefined();
    expect(info.attempts[0].detail).toContain('libcudart.so.11.0');
  });

  it('reports a package that loads but registers no tensorflow backend', async () => {
    const dir = join(root, 'no-backend');
    fakePackage(dir, '@tensorflow/tfjs-node', '', true);
    const info = await initBackend(['tensorflow', 'cpu'], { ignoreEnv: true, searchFrom: [dir] });
    expect(info.name).toBe('cpu');
    expect(info.attempts[0].detail).toContain("loaded but the 'tensorflow' backend did not initialise");
  });

  it('throws NotAvailableError listing every reason when nothing works', async () => {
    const dir = join(root, 'none2');
    mkdirSync(dir, { recursive: true });
    const err = await initBackend('tensorflow', { ignoreEnv: true, searchFrom: [dir] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotAvailableError);
    expect(String((err as Error).message)).toContain('tensorflow: @tensorflow/tfjs-node-gpu is not installed');
  });
});

describe('parseBackendPreference', () => {
  it("maps 'cuda' to tensorflow and rejects unknown names", () => {
    expect(parseBackendPreference('cuda, webgpu ,wasm')).toEqual(['tensorflow', 'webgpu', 'wasm']);
    expect(() => parseBackendPreference('webgl')).toThrow(/unknown backend/);
  });
});

describe('isSoftwareAdapter', () => {
  it('recognises CPU-emulated WebGPU adapters, which the default order skips in favour of wasm', async () => {
    const { isSoftwareAdapter } = await import('./backend.js');
    expect(isSoftwareAdapter({ description: 'llvmpipe (LLVM 19.1.7, 256 bits)', vendor: 'mesa' })).toBe(true);
    expect(isSoftwareAdapter({ description: 'SwiftShader Device (Subzero)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', description: 'NVIDIA H100 80GB HBM3' })).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3' }, true)).toBe(true);
    expect(isSoftwareAdapter(undefined)).toBe(false);
  });
});

