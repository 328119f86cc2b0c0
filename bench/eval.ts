/**
 * Evaluation benchmark (@rec/eval, built dist):
 * 1. Ranking metrics over 1,000,000 lists of 20 (100k items, 1-10 relevant items per user): per-user precision,
 *    recall, F1, AP, NDCG, hit, RR + their means, coverage, intra-list diversity and novelty. Target < 2 s.
 *    Peer: an idiomatic implementation with a JS Set per user, measured in the same run (ratio).
 *    Also: the seeded bootstrap of all seven means (100 resamples).
 * 2. Full-ranking top-10 for 10,000 users x 100,000 items x 64-d embeddings, tfjs wasm: `fullRankingTopK`
 *    (matMul blocks + JS top-k with tie-breaking and exclusions) against a plain matMul + tf.topk lower bound
 *    over the same blocks (ratio), and with 20 excluded items per user.
 *
 *   pnpm tsx bench/eval.ts [--quick]
 *
 * `--quick`: 50,000 lists; 1,000 users x 10,000 items. Build first: `pnpm --filter @rec/eval... build`.
 */
import { join } from 'node:path';
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('eval'); // the built dist/, as users get it (bench/_dist.ts)
const ev = await import('@rec/eval');
const { initBackend, Rng } = await import('@rec/core');
const tf = await import('@tensorflow/tfjs-core');
const os = await import('node:os');

const quick = process.argv.includes('--quick');
const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
function time(fn: () => void, reps = 3): number {
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = now();
    fn();
    ts.push(now() - t);
  }
  return median(ts);
}

console.log(`# @rec/eval benchmark${quick ? ' (--quick)' : ''}, node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);

// ---- 1. metrics ------------------------------------------------------------------------------------------------
const nLists = quick ? 50_000 : 1_000_000;
const K = 20;
const nItems = 100_000;
const rng = new Rng(1);
const lists = new Int32Array(nLists * K);
for (let i = 0; i < lists.length; i++) lists[i] = rng.int(nItems);
const offsets = new Int32Array(nLists + 1);
const truthItems: number[] = [];
for (let u = 0; u < nLists; u++) {
  const m = 1 + rng.int(10);
  for (let j = 0; j < m; j++) truthItems.push(rng.next() < 0.3 ? lists[u * K + rng.int(K)] : rng.int(nItems)); // ~30% planted hits
  offsets[u + 1] = truthItems.length;
}
const truth = { offsets, items: Int32Array.from(truthItems) };
const itemCategory = Int32Array.from({ length: nItems }, () => rng.int(500));
const itemUsers = Float64Array.from({ length: nItems }, () => 1 + Math.floor(rng.exponential(0.01)));

console.log(`\n## ranking metrics: ${fmt(nLists)} lists of ${K}, ${fmt(nItems)} items, ${fmt(truth.items.length)} relevant items`);
let summary: ReturnType<typeof ev.summarizeRanking> | undefined;
const tRank = time(() => {
  summary = ev.summarizeRanking(ev.rankingMetricsPerUser(lists, truth, K), { samples: 0 });
});
const tBeyond = time(() => {
  ev.catalogCoverage(lists, nItems);
  ev.nanMean(ev.intraListDiversity(lists, K, itemCategory));
  ev.nanMean(ev.novelty(lists, K, itemUsers, 1_000_000));
});

// Peer: the same seven metrics written the obvious way (a Set per user, arrays of numbers).
function naive(): number {
  let sum = 0;
  for (let u = 0; u < nLists; u++) {
    const rel = new Set<number>();
    for (let j = offsets[u]; j < offsets[u + 1]; j++) rel.add(truth.items[j]);
    const seen = new Set<number>();
    let hits = 0, ap = 0, dcg = 0, rr = 0;
    for (let i = 0; i < K; i++) {
      const it = lists[u * K + i];
      if (rel.has(it) && !seen.has(it)) {
        seen.add(it);
        hits++;
        ap += hits / (i + 1);
        dcg += 1 / Math.log2(i + 2);
        if (!rr) rr = 1 / (i + 1);
      }
    }
    let idcg = 0;
    for (let i = 0; i < Math.min(rel.size, K); i++) idcg += 1 / Math.log2(i + 2);
    const p = hits / K, r = hits / rel.size;
    sum += p + r + (p + r > 0 ? (2 * p * r) / (p + r) : 0) + ap / Math.min(rel.size, K) + dcg / idcg + (hits > 0 ? 1 : 0) + rr;
  }
  return sum;
}
const tNaive = time(() => naive(), quick ? 3 : 1);
const tBoot = time(() => ev.summarizeRanking(ev.rankingMetricsPerUser(lists, truth, K), { samples: 100, seed: 1 }), 1) - tRank;
console.log(`precision/recall/F1/AP/NDCG/hit/RR per user + means: ${fmt(tRank, 1)} ms (${fmt((nLists / tRank) * 1000)} lists/s)`);
console.log(`coverage + intra-list diversity + novelty:            ${fmt(tBeyond, 1)} ms`);
console.log(`all metrics:                                            ${fmt(tRank + tBeyond, 1)} ms  (target < 2,000 ms for 1M lists${quick ? '; quick mode' : ''})`);
console.log(`peer (Set per user, same seven metrics):               ${fmt(tNaive, 1)} ms  -> ours is ${fmt(tNaive / tRank, 2)}x faster`);
console.log(`bootstrap of the seven means, 100 resamples:            ${fmt(tBoot, 1)} ms extra`);
console.log(`check: mean precision ${summary!.precision.value.toFixed(4)}, recall ${summary!.recall.value.toFixed(4)}, ndcg ${summary!.ndcg.value.toFixed(4)}`);

// ---- 2. full ranking ---------------------------------------------------------------------------------------------
const info = await initBackend('wasm', { ignoreEnv: true });
const nu = quick ? 1_000 : 10_000;
const ni = quick ? 10_000 : 100_000;
const d = 64;
const k = 10;
const block = 256;
const userEmb = rng.fillNormal(new Float32Array(nu * d)) as Float32Array;
const itemEmb = rng.fillNormal(new Float32Array(ni * d)) as Float32Array;
console.log(`\n## full-ranking top-${k}: ${fmt(nu)} users x ${fmt(ni)} items x ${d}-d, backend ${info.name}, blocks of ${block} users`);

function lowerBound(): Int32Array {
  const out = new Int32Array(nu * k);
  const itemsT = tf.tidy(() => tf.transpose(tf.tensor2d(itemEmb, [ni, d])));
  for (let a = 0; a < nu; a += block) {
    const b = Math.min(nu, a + block);
    const idx = tf.tidy(() => tf.topk(tf.matMul(tf.tensor2d(userEmb.subarray(a * d, b * d), [b - a, d]), itemsT), k).indices);
    out.set(idx.dataSync() as Int32Array, a * k);
    idx.dispose();
  }
  itemsT.dispose();
  return out;
}
function matmulOnly(): void {
  const itemsT = tf.tidy(() => tf.transpose(tf.tensor2d(itemEmb, [ni, d])));
  for (let a = 0; a < nu; a += block) {
    const b = Math.min(nu, a + block);
    const s = tf.tidy(() => tf.sum(tf.matMul(tf.tensor2d(userEmb.subarray(a * d, b * d), [b - a, d]), itemsT)));
    s.dataSync();
    s.dispose();
  }
  itemsT.dispose();
}
const seenOffsets = Int32Array.from({ length: nu + 1 }, (_, u) => u * 20);
const seen = { offsets: seenOffsets, items: Int32Array.from({ length: nu * 20 }, () => rng.int(ni)) };
const reps = quick ? 3 : 1;
let ours: Int32Array = new Int32Array(0);
let lb: Int32Array = new Int32Array(0);
const tMat = time(() => matmulOnly(), reps);
const tLb = time(() => (lb = lowerBound()), reps);
const tOurs = time(() => (ours = ev.fullRankingTopK(userEmb, itemEmb, d, k, { blockSize: block })), reps);
const tEx = time(() => ev.fullRankingTopK(userEmb, itemEmb, d, k, { blockSize: block, exclude: seen }), reps);
let agree = 0;
for (let i = 0; i < ours.length; i++) if (ours[i] === lb[i]) agree++;
console.log(`matMul only (scores summed on device):  ${fmt(tMat)} ms`);
console.log(`lower bound matMul + tf.topk:            ${fmt(tLb)} ms`);
console.log(`fullRankingTopK:                         ${fmt(tOurs)} ms  -> ${fmt(tOurs / tLb, 2)}x the lower bound (${fmt((nu / tOurs) * 1000)} users/s)`);
console.log(`fullRankingTopK, 20 excluded per user:   ${fmt(tEx)} ms  -> ${fmt(tEx / tLb, 2)}x the lower bound`);
console.log(`same ids as tf.topk in ${fmt((100 * agree) / ours.length, 2)}% of slots (ties among float32 scores may order differently)`);
