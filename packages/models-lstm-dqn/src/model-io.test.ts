// The optional state layout + statistics files of a saved model (what @rec/serve builds its state encoder from).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, RecError } from '@rec/core';
import { LstmDqn } from './lstm-dqn.js';
import { loadLstmDqn, loadModel, readModelState, saveModel } from './model-io.js';

const tmp = mkdtempSync(join(tmpdir(), 'lstm-dqn-io-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('cpu');
});

/** The paper+items network shape on the replay state (10 steps x 11), tiny. */
function agent(): LstmDqn {
  return new LstmDqn({ numActions: 6, network: { seqLen: 10, featureDim: 11, itemInputDim: 4, hidden: 8, layers: 1, mlp: [8], rnnDropout: 0, mlpDropout: 0 }, seed: 2 });
}
const layout = { name: 'replay-profile', historyLength: 10, history: 'interacted', itemHistory: true, profile: { recentWindow: 10 } };
const stats = { itemIds: Int32Array.of(0, 1, 2, 3, 4, 5), itemCategories: Int32Array.of(7, 7, 9, 9, 9, 11) };

describe('saveModel state layout', () => {
  it('writes the layout and statistics, checksummed, and readModelState / loadLstmDqn read them back', async () => {
    const a = agent();
    const dir = join(tmp, 'with-layout');
    await saveModel(a, dir, { stateLayout: layout, stateStats: stats });
    const sums = JSON.parse(readFileSync(join(dir, 'checksum.json'), 'utf8')).sha256;
    expect(Object.keys(sums).sort()).toEqual(['config.json', 'model.json', 'state-layout.json', 'state-stats.bin', 'vocab.bin', 'weights.bin']);
    const st = await readModelState(dir);
    expect(st?.layout).toEqual(layout);
    expect(Array.from(st!.stats!.itemCategories!)).toEqual([7, 7, 9, 9, 9, 11]);
    expect(st!.stats!.popularity).toBeUndefined();
    const served = await loadLstmDqn(dir);
    expect(served.state?.layout.name).toBe('replay-profile');
    served.dispose();
    // a flipped byte in the statistics is caught
    const b = readFileSync(join(dir, 'state-stats.bin'));
    b[b.length - 1] ^= 0xff;
    writeFileSync(join(dir, 'state-stats.bin'), b);
    await expect(readModelState(dir)).rejects.toThrow(/state-stats\.bin.*corrupt|corrupt.*state-stats\.bin/s);
    rmSync(join(dir, 'state-stats.bin'));
    await expect(readModelState(dir)).rejects.toThrow(/missing a file/);
    a.dispose();
  });

  it('a save without options has no layout files and the same files as before (backward compatible)', async () => {
    const a = agent();
    const dir = join(tmp, 'plain');
    await saveModel(a, dir);
    const sums = JSON.parse(readFileSync(join(dir, 'checksum.json'), 'utf8')).sha256;
    expect(Object.keys(sums).sort()).toEqual(['config.json', 'model.json', 'vocab.bin', 'weights.bin']);
    expect(await readModelState(dir)).toBeNull();
    const m = await loadModel(dir);
    m.dispose();
    a.dispose();
  });

  it('refuses layouts that do not fit the network and statistics that do not fit their ids', async () => {
    const a = agent();
    const dir = join(tmp, 'bad');
    const err = await saveModel(a, dir, { stateLayout: { ...layout, itemHistory: false } }).catch((e) => e);
    expect(RecError.isInstance(err)).toBe(true);
    expect(String(err.message)).toMatch(/does not fit the network.*10 steps x 11.*replay-profile: 10 x 10/s);
    await expect(saveModel(a, dir, { stateLayout: { ...layout, historyLength: 5 } })).rejects.toThrow(/does not fit the network/);
    await expect(saveModel(a, dir, { stateLayout: { name: '' } })).rejects.toThrow(/needs a name/);
    await expect(saveModel(a, dir, { stateStats: stats })).rejects.toThrow(/without a layout/);
    await expect(saveModel(a, dir, { stateLayout: layout, stateStats: { ...stats, itemCategories: Int32Array.of(1, 2) } })).rejects.toThrow(/itemCategories.*6 values/s);
    await expect(saveModel(a, dir, { stateLayout: layout, stateStats: { itemIds: new Int32Array(0) } })).rejects.toThrow(/item ids/);
    a.dispose();
  });
});
