/**
 * Drives Debian's chromium headless through playwright-core: the built page must show, for every sample user,
 * exactly the items the Node side recommends (@rec/models-lstm-dqn's loadLstmDqn on the wasm backend) from the
 * same saved model, with scores equal within float32 rounding. Takes a screenshot into test-output/.
 * Runs twice: with the prescribed flags (`--disable-gpu`: no WebGPU adapter, so the page uses threaded wasm), and
 * with `--enable-unsafe-webgpu --use-webgpu-adapter=swiftshader` instead of `--disable-gpu`, where chromium offers
 * its SwiftShader (CPU) WebGPU adapter and the page runs tfjs-backend-webgpu.
 * Skipped when /usr/bin/chromium is missing, unless CI is set (then it fails: scripts/test.sh installs chromium).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { initBackend } from '@rec/core';
import { loadLstmDqn, type LstmDqnServable } from '@rec/models-lstm-dqn';
import { DEMO_ROOT, buildDemo } from '../scripts/build.js';
import { serveDir } from '../scripts/serve.js';
import type { SampleFile } from '../src/sample.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WEBGPU_FLAGS = [...FLAGS.filter((f) => f !== '--disable-gpu'), '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
const CONFIGS = [
  { name: 'wasm, --disable-gpu', args: FLAGS, backend: 'wasm', shot: 'browser-demo.png' },
  { name: 'webgpu on SwiftShader', args: WEBGPU_FLAGS, backend: 'webgpu', shot: 'browser-demo-webgpu.png' },
] as const;
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: scripts/setup.sh ensure_chromium installs it`);

describe.skipIf(!haveChromium).each(CONFIGS)('browser demo in headless chromium ($name)', (config) => {
  const out = mkdtempSync(join(tmpdir(), 'rec-browser-demo-'));
  let sample: SampleFile;
  let server: Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  let node: LstmDqnServable;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sample = await buildDemo(out);
    ({ server, url } = await serveDir(out));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...config.args] });
    page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"], body[data-error]', { timeout: 60_000 });
    await initBackend('wasm', { ignoreEnv: true });
    node = await loadLstmDqn(join(out, 'model'));
  });

  afterAll(async () => {
    node?.dispose();
    await browser?.close();
    server?.close();
    rmSync(out, { recursive: true, force: true });
  });

  async function showUser(id: number): Promise<{ items: number[]; scores: number[] }> {
    await page.selectOption('#user', String(id));
    await page.waitForSelector(`body[data-ready="true"][data-user="${id}"]`, { timeout: 30_000 });
    return page.$$eval('#recs li', (lis) => ({
      items: lis.map((li) => Number((li as HTMLElement).dataset.item)),
      scores: lis.map((li) => Number((li as HTMLElement).dataset.score)),
    }));
  }

  it(`loads the saved model on ${config.backend}`, async () => {
    expect(pageErrors).toEqual([]);
    expect(await page.getAttribute('body', 'data-error')).toBeNull();
    expect(await page.getAttribute('body', 'data-backend')).toBe(config.backend);
    // Served cross-origin isolated (COOP/COEP), so on wasm tfjs picks its threaded build.
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    if (config.backend === 'wasm') expect(await page.getAttribute('body', 'data-wasm-threads')).toBe('true');
    expect(await page.textContent('#status')).toContain(`${node.vocab.size} items`);
  });

  it('shows the same top-10 items as the Node backend for every sample user', async () => {
    expect(sample.users.length).toBeGreaterThanOrEqual(5);
    for (const u of sample.users) {
      const shown = await showUser(u.id);
      const want = node.recommend(Float32Array.from(u.state), 10, { exclude: u.exclude });
      expect(shown.items, `user ${u.id}`).toEqual(Array.from(want.items));
      shown.scores.forEach((s, i) => expect(Math.abs(s - want.scores[i]), `user ${u.id} rank ${i}`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want.scores[i])));
      // Seen items are never recommended.
      for (const item of shown.items) expect(u.exclude).not.toContain(item);
    }
    // The sample covers both paths: Q-values and cold-start popularity.
    const coldFlags = sample.users.map((u) => node.recommend(Float32Array.from(u.state), 10, { exclude: u.exclude }).coldStart);
    expect(coldFlags).toContain(true);
    expect(coldFlags).toContain(false);
  });

  it('takes a screenshot', async () => {
    await showUser(sample.users[0].id);
    const dir = join(DEMO_ROOT, 'test-output');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, config.shot);
    await page.screenshot({ path: file });
    expect(statSync(file).size).toBeGreaterThan(5_000);
  });
});
