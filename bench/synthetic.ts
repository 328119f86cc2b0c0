/**
 * Modelling-side benchmark of @rec/data: the synthetic generator, sequences/sessions, per-step features,
 * embeddings and k-means, each with a peer measured in the same run where one exists.
 *
 *   pnpm tsx bench/synthetic.ts [--rows N] [--quick]
 *
 * - generator: streaming CSV writer (rows/s, bytes, peak RSS at two sizes to show memory does not grow with rows);
 *   peer: formatting the same rows with template strings and join.
 * - features: userProfileAllSteps (one incremental pass) vs recomputing userProfileAt at every position (the
 *   naive O(n^2) way) on the same users.
 * - embeddings: ms per training step with 10k items on wasm, and the same on cpu (peer).
 * - k-means: 10k x 64 points, k = 5.
 * `--quick` = 200k rows, 2k items, few steps. Build @rec/core and @rec/data first: this imports their dist.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('data'); // the built dist/, as users get it (bench/_dist.ts)
const data = await import('@rec/data');
const core = await import('@rec/core');
const tf = await import('@tensorflow/tfjs-core');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes('--quick');
const rows = Number(flag('--rows') ?? (quick ? 200_000 : 5_000_000));
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;
const now = () => performance.now();

const dir = join(tmpdir(), 'rec-bench-synthetic');
mkdirSync(dir, { recursive: true });

// --- generator ---------------------------------------------------------------------------------------------
{
  const small = Math.max(10_000, Math.floor(rows / 10));
  let t = now();
  const a = await data.writeSyntheticUserBehavior(join(dir, 'small.csv'), { rows: small, seed: 1 });
  const sSmall = (now() - t) / 1000;
  const rssSmall = maxRssMiB();
  t = now();
  const b = await data.writeSyntheticUserBehavior(join(dir, 'big.csv'), { rows, seed: 1 });
  const sBig = (now() - t) / 1000;
  const rssBig = maxRssMiB();
  console.log(`generator: ${small.toLocaleString()} rows in ${sSmall.toFixed(2)} s; ${rows.toLocaleString()} rows in ${sBig.toFixed(2)} s = ${(rows / sBig / 1e6).toFixed(2)}M rows/s, ${(b.bytes / 2 ** 20 / sBig).toFixed(0)} MiB/s, ${(b.bytes / rows).toFixed(1)} B/row`);
  console.log(`generator: peak RSS ${rssSmall.toFixed(0)} MiB after ${small.toLocaleString()} rows, ${rssBig.toFixed(0)} MiB after ${rows.toLocaleString()} rows (streaming: should not grow with rows)`);
  console.log(`generator: full calibrated log (100,150,807 rows) projected at ${(100_150_807 / (rows / sBig) / 60).toFixed(1)} min, ${((100_150_807 * b.bytes) / rows / 2 ** 30).toFixed(2)} GiB`);
  statSync(a.path);
  rmSync(a.path);
  rmSync(b.path);
  // Peer for the formatting part: template strings + join over the same rows. Generation alone is timed through
  // `syntheticUsers` (no formatting), so generate+format minus generate is the byte writer's share.
  const cmp = Math.min(rows, 1_000_000);
  const log = data.generateSyntheticLog({ rows: cmp, seed: 1 });
  const names = ['pv', 'cart', 'fav', 'buy'];
  t = now();
  const lines: string[] = [];
  for (let r = 0; r < log.numRows; r++) lines.push(`${log.user[r]},${log.item[r]},${log.category[r]},${names[log.behavior[r]]},${log.timestamp[r]}`);
  const text = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
  const sJoin = (now() - t) / 1000;
  t = now();
  let n = 0;
  for (const u of data.syntheticUsers({ rows: cmp, seed: 1 })) n += u.length;
  const sUsers = (now() - t) / 1000;
  t = now();
  let bytes = 0;
  for await (const c of data.syntheticUserBehaviorChunks({ rows: cmp, seed: 1 })) bytes += c.length;
  const sGen = (now() - t) / 1000;
  const sFmt = Math.max(1e-9, sGen - sUsers);
  console.log(`generator: ${cmp.toLocaleString()} rows: generate only ${sUsers.toFixed(3)} s, generate+format ${sGen.toFixed(3)} s -> byte writer ${sFmt.toFixed(3)} s vs peer template strings + join + Buffer.from ${sJoin.toFixed(3)} s: ${(sJoin / sFmt).toFixed(1)}x (${text.length === bytes && n === cmp ? 'same bytes' : 'byte counts differ'})`);
}

// --- statistics against the real sample ------------------------------------------------------------------
{
  const here = dirname(fileURLToPath(import.meta.url));
  const head = join(here, '..', process.env.REC_DATA_DIR ?? '../shared/data', 'userbehavior-head', 'UserBehavior.csv');
  const { existsSync } = await import('node:fs');
  if (existsSync(head)) {
    const { log: real } = await data.readInteractions(head);
    const rs = data.logStatistics(real);
    const syn = data.logStatistics(data.generateSyntheticLog({ rows: real.numRows, users: rs.users, seed: 1 }));
    console.log(`report: synthetic (seed 1, same rows and users) vs ${head}\n${data.formatComparison(data.compareLogStatistics(syn, rs))}`);
  } else console.log(`report: ${head} not found, comparison skipped`);
}

// --- sequences, sessions, features -------------------------------------------------------------------------
{
  const raw = data.generateSyntheticLog({ rows, seed: 2 });
  const log = data.reindex(raw);
  let t = now();
  const seqs = data.userSequences(log);
  const sSeq = (now() - t) / 1000;
  t = now();
  const sess = data.sessionize(log, { sequences: seqs });
  const sSess = (now() - t) / 1000;
  t = now();
  const prof = data.userProfileAllSteps(log, seqs);
  const sProf = (now() - t) / 1000;
  const items = data.itemStats(log);
  const categories = data.categoryStats(log);
  t = now();
  const states = data.eventStateFeatures(log, seqs, { items, categories });
  const sState = (now() - t) / 1000;
  console.log(`features: ${rows.toLocaleString()} rows, ${log.numUsers.toLocaleString()} users, ${sess.numSessions.toLocaleString()} sessions`);
  console.log(`features: userSequences ${(rows / sSeq / 1e6).toFixed(1)}M rows/s, sessionize ${(rows / sSess / 1e6).toFixed(1)}M rows/s, 10-d profiles ${(rows / sProf / 1e6).toFixed(1)}M steps/s, 20-d states ${(rows / sState / 1e6).toFixed(1)}M steps/s (${prof.length + states.length} floats)`);
  // Peer: recompute the as-of profile at every position of the first users (quadratic in sequence length).
  let steps = 0;
  t = now();
  for (let u = 0; u < log.numUsers && steps < 20_000; u++) {
    for (let p = seqs.offsets[u]; p < seqs.offsets[u + 1]; p++, steps++) data.userProfileAt(log, seqs, u, log.timestamp[seqs.rows[p]]);
  }
  const sNaive = (now() - t) / 1000;
  const naiveRate = steps / sNaive;
  console.log(`features: naive per-step userProfileAt ${(naiveRate / 1e3).toFixed(0)}k steps/s on ${steps.toLocaleString()} steps; incremental is ${(rows / sProf / naiveRate).toFixed(0)}x faster`);
}

// --- embeddings and k-means --------------------------------------------------------------------------------
{
  const nItems = quick ? 2_000 : 10_000;
  const steps = quick ? 20 : 300;
  const raw = data.generateSyntheticLog({ rows: quick ? 50_000 : 400_000, seed: 3, items: nItems, categories: 200 });
  const log = data.reindex(raw);
  const perStep: Record<string, number> = {};
  for (const backend of ['wasm', 'cpu'] as const) {
    await core.initBackend(backend, { ignoreEnv: true });
    const n = backend === 'cpu' ? Math.max(3, Math.floor(steps / 20)) : steps;
    data.learnEmbeddings(log, { steps: 2, seed: 1 }); // warm-up
    const before = tf.memory().numTensors;
    const t = now();
    const emb = data.learnEmbeddings(log, { steps: n, seed: 1 });
    perStep[backend] = (now() - t) / n;
    console.log(`embeddings: ${backend}: ${log.numItems.toLocaleString()} items, dim 64, 1024 pairs x (1 + 5 negatives) per step: ${perStep[backend].toFixed(1)} ms/step = ${((1024 / perStep[backend]) * 1000 / 1e3).toFixed(0)}k pairs/s (${n} steps, loss ${emb.lossFirst.toFixed(2)} -> ${emb.lossLast.toFixed(2)}, tensors leaked ${tf.memory().numTensors - before})`);
    if (backend === 'wasm') {
      // Quality: items of the same (latent) category should be closer than random pairs.
      const r = new core.Rng(5);
      let same = 0;
      let rand = 0;
      let ns = 0;
      const byCat = new Map<number, number[]>();
      for (let row = 0; row < log.numRows; row++) {
        const a = byCat.get(log.category[row]) ?? [];
        if (a.length < 200) a.push(log.item[row]);
        byCat.set(log.category[row], a);
      }
      const cats = [...byCat.values()].filter((a) => a.length >= 10);
      for (let k = 0; k < 5000; k++) {
        const a = cats[r.int(cats.length)];
        same += data.cosineSimilarity(emb.items, 64, a[r.int(a.length)], a[r.int(a.length)]);
        rand += data.cosineSimilarity(emb.items, 64, r.int(log.numItems), r.int(log.numItems));
        ns++;
      }
      console.log(`embeddings: mean cosine of same-category item pairs ${(same / ns).toFixed(3)} vs random pairs ${(rand / ns).toFixed(3)} (${emb.steps} steps, ${((perStep.wasm * emb.steps) / 1000).toFixed(1)} s)`);
    }
  }
  console.log(`embeddings: wasm is ${(perStep.cpu / perStep.wasm).toFixed(1)}x faster than cpu per step`);
  const rng = new core.Rng(4);
  const pts = rng.fillNormal(new Float32Array(nItems * 64)) as Float32Array;
  const t = now();
  const km = data.kMeans(pts, 64, { k: 5, seed: 1 });
  console.log(`k-means: ${nItems.toLocaleString()} x 64, k 5, 3 restarts: ${(now() - t).toFixed(0)} ms, ${km.iterations} iterations in the best run`);
}
