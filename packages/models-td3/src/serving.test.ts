// The optional serving data of a TD3 save (item embeddings + ids + state layout), read back by loadTd3Serving.
import { initBackend, ModelFormatError, RecError } from '@rec/core';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTd3, loadTd3, loadTd3Serving } from './td3.js';

const root = mkdtempSync(join(tmpdir(), 'td3-serving-'));
beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = { stateDim: 7, actionDim: 3, actorHidden: [8], criticHidden: [8], seed: 5 };
const serving = {
  itemIds: Int32Array.of(40, 41, 42, 43),
  itemEmbeddings: Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0),
  itemCategories: Int32Array.of(1, 1, 2, 2),
  stateLayout: { name: 'replay-profile', historyLength: 1, history: 'interacted', itemHistory: false, profile: {} },
};

describe('TD3 save with serving data', () => {
  it('writes serving.bin + serving.json in the manifest, reads them back, and loadTd3 is unaffected', async () => {
    const agent = createTd3(config);
    const dir = join(root, 'served');
    await agent.save(dir, { serving });
    expect(readdirSync(dir).sort()).toEqual(['MANIFEST.json', 'config.json', 'optimizer.bin', 'serving.bin', 'serving.json', 'state.json', 'weights.bin']);
    const sv = await loadTd3Serving(dir);
    expect(Array.from(sv!.itemIds)).toEqual([40, 41, 42, 43]);
    expect(Array.from(sv!.itemEmbeddings)).toEqual(Array.from(serving.itemEmbeddings));
    expect(Array.from(sv!.itemCategories!)).toEqual([1, 1, 2, 2]);
    expect(sv!.stateLayout).toEqual(serving.stateLayout);
    const obs = new Float32Array(7).fill(0.3);
    const loaded = await loadTd3(dir);
    expect(Array.from(loaded.act(obs))).toEqual(Array.from(agent.act(obs)));
    // tampering is caught by the manifest checksums
    const b = readFileSync(join(dir, 'serving.bin'));
    b[b.length - 1] ^= 0xff;
    writeFileSync(join(dir, 'serving.bin'), b);
    await expect(loadTd3Serving(dir)).rejects.toThrow(ModelFormatError);
    loaded.dispose();
    agent.dispose();
  });

  it('a save without serving has none (null), as every older save', async () => {
    const agent = createTd3(config);
    const dir = join(root, 'plain');
    await agent.save(dir);
    expect(await loadTd3Serving(dir)).toBeNull();
    agent.dispose();
  });

  it('refuses embeddings that do not fit actionDim, bad categories and unnamed layouts', async () => {
    const agent = createTd3(config);
    const dir = join(root, 'bad');
    const err = await agent.save(dir, { serving: { ...serving, itemEmbeddings: new Float32Array(8) } }).catch((e) => e);
    expect(RecError.isInstance(err)).toBe(true);
    expect(String(err.message)).toMatch(/4 items x actionDim 3 = 12.*8/s);
    await expect(agent.save(dir, { serving: { ...serving, itemCategories: Int32Array.of(1) } })).rejects.toThrow(/itemCategories.*4/s);
    await expect(agent.save(dir, { serving: { ...serving, stateLayout: { name: '' } } })).rejects.toThrow(/named JSON object/);
    await expect(agent.save(dir, { serving: { ...serving, itemEmbeddings: new Float32Array(12).fill(NaN) } })).rejects.toThrow(/not finite/);
    await expect(agent.save(dir, { serving: { ...serving, itemIds: new Int32Array(0) } })).rejects.toThrow(/item ids/);
    agent.dispose();
  });
});
