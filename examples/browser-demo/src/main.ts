/**
 * The page: pick a backend (WebGPU when the browser has an adapter, wasm otherwise; `?backend=wasm|webgpu|cpu`
 * forces one), load the saved model and the bundled sample users, and list the top-10 items for the chosen user.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Registers itself only when navigator.gpu exists, which is what we want.
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@rec/core';
import { fetchSavedModel, parseSavedModel, recommend, type BrowserModel, type Recommendation } from './model.js';
import type { SampleFile } from './sample.js';

const TOP_K = 10;

/** The same `initBackend` as in Node: WebGPU when the browser has an adapter, else wasm, else cpu. */
async function pickBackend(forced: string | null): Promise<string> {
  setWasmPaths(new URL('./wasm/', location.href).href);
  const info = await initBackend(forced ?? ['webgpu', 'wasm', 'cpu']);
  console.log(info.attempts.map((a) => `${a.name}: ${a.ok ? 'ok' : a.detail}`).join(' | '));
  return info.name;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

function show(list: HTMLOListElement, r: Recommendation): void {
  list.replaceChildren();
  r.items.forEach((item, i) => {
    const li = el('li', `item ${item}  (${r.coldStart ? 'popularity' : 'Q'} ${r.scores[i].toFixed(4)})`);
    li.dataset.item = String(item);
    li.dataset.score = String(r.scores[i]);
    list.append(li);
  });
}

async function main(): Promise<void> {
  const status = document.getElementById('status')!;
  const select = document.getElementById('user') as HTMLSelectElement;
  const list = document.getElementById('recs') as HTMLOListElement;
  const history = document.getElementById('history')!;
  const backend = await pickBackend(new URLSearchParams(location.search).get('backend'));
  const [files, sample] = await Promise.all([fetchSavedModel('./model/'), fetch('./sample.json').then((r) => r.json() as Promise<SampleFile>)]);
  const model: BrowserModel = await parseSavedModel(files, './model');
  const threads = backend === 'wasm' && tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? ' (multi-threaded)' : '';
  document.body.dataset.wasmThreads = String(!!threads);
  status.textContent = `backend: ${backend}${threads} | model: ${model.network.cell.toUpperCase()} ${model.network.hidden} x ${model.network.layers}, ${model.vocab.size} items`;
  document.body.dataset.backend = backend;
  for (const u of sample.users) {
    const opt = el('option', `${u.label} (user ${u.id})`);
    opt.value = String(u.id);
    select.append(opt);
  }
  const update = async () => {
    const u = sample.users.find((x) => String(x.id) === select.value)!;
    history.textContent = `already seen (excluded): ${u.exclude.join(', ') || 'nothing'}`;
    document.body.dataset.ready = 'false';
    show(list, await recommend(model, Float32Array.from(u.state), TOP_K, u.exclude));
    document.body.dataset.user = String(u.id);
    document.body.dataset.ready = 'true';
  };
  select.addEventListener('change', () => void update());
  await update();
}

main().catch((e: unknown) => {
  const status = document.getElementById('status');
  if (status) status.textContent = `error: ${e instanceof Error ? e.message : String(e)}`;
  document.body.dataset.error = e instanceof Error ? e.message : String(e);
});
