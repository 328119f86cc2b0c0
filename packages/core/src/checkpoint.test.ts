import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readdirSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packArrays, unpackArrays, saveCheckpoint, loadCheckpoint, latestCheckpoint } from './checkpoint.js';
import { RecError } from './errors.js';

describe('packArrays', () => {
  it('round-trips typed arrays of every kind', () => {
    const arrays = {
      w: new Float32Array([1.5, -2, 3]),
      d: new Float64Array([Math.PI]),
      i: new Int32Array([-7, 8]),
      u: new Uint8Array([1, 2, 3, 4, 5]),
      empty: new Float32Array(0),
    };
    const back = unpackArrays(packArrays(arrays));
    for (const [k, v] of Object.entries(arrays)) {
      expect(back[k].constructor).toBe(v.constructor);
      expect(Array.from(back[k])).toEqual(Array.from(v));
    }
  });
});

describe('checkpoints', () => {
  it('saves, verifies, points latest at the newest and prunes old ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ckpt-'));
    for (let i = 1; i <= 5; i++) await saveCheckpoint(root, `step-${i}`, { 'a.bin': new Uint8Array([i]), 'meta.json': `{"i":${i}}` }, { i }, 2);
    expect(await latestCheckpoint(root)).toBe(join(root, 'step-5'));
    const kept = readdirSync(root).filter((d) => d.startsWith('step-'));
    expect(kept.sort()).toEqual(['step-4', 'step-5']);
    const { manifest, files } = await loadCheckpoint(join(root, 'step-5'));
    expect(manifest.meta).toEqual({ i: 5 });
    expect(Array.from(files['a.bin'])).toEqual([5]);
  });

  it('detects a corrupted file and ignores a half-written checkpoint', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ckpt-'));
    await saveCheckpoint(root, 'step-1', { 'a.bin': new Uint8Array([1, 2, 3]) });
    writeFileSync(join(root, 'step-1', 'a.bin'), new Uint8Array([9, 9, 9]));
    await expect(loadCheckpoint(join(root, 'step-1'))).rejects.toSatisfy((e: unknown) => RecError.isInstance(e) && /corrupt/.test(String(e)));
    // A crash while writing leaves only a temp dir without a manifest: latest still names the good one.
    const root2 = mkdtempSync(join(tmpdir(), 'ckpt-'));
    await saveCheckpoint(root2, 'step-1', { 'a.bin': new Uint8Array([1]) });
    mkdirSync(join(root2, '.step-2.123.tmp'));
    writeFileSync(join(root2, '.step-2.123.tmp', 'a.bin'), 'partial');
    expect(await latestCheckpoint(root2)).toBe(join(root2, 'step-1'));
    expect(existsSync(join(root2, 'step-1', 'MANIFEST.json'))).toBe(true);
  });
});
