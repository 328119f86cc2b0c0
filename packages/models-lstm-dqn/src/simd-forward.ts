/**
 * A CPU inference engine for the Q-network: the same forward pass as network.ts (evaluation mode), as wasm SIMD
 * matrix kernels and SIMD LSTM and GRU cells (exp by range reduction and a degree-6 polynomial), on weights
 * copied out of the tfjs variables once.
 *
 * Why: serving scores one to a few users at a time, and there tfjs' per-op cost (tens of microseconds for each of
 * the ~150 small ops of the paper network: dispatch, tensor bookkeeping, wasm calls) is most of the time. Here a
 * forward is direct calls into a few kernels (matrix products, one cell call per user and step), nothing allocated.
 *
 * The matrix products are @rec/core's wasm SIMD kernel (simd-gemm.ts: `C = init + A B` over B packed in panels of
 * 8 columns, 1 to 4 rows of A per call, optional bias and ReLU; `init = C` adds h U to the projected input in
 * place). Every activation row is padded to a multiple of 8 floats so panels never straddle rows.
 *
 * Supported: LSTM and GRU cells, any depth, bidirectional, the item-id input, the ReLU MLP, dense and embedding
 * heads, dueling. Not supported (`SimdForward.unsupported` says so and callers stay on tfjs): self-attention.
 */
import { FuncBuilder, GEMM_INIT_BIAS as INIT_BIAS, GEMM_INIT_C as INIT_C, GEMM_PANEL as PANEL, GEMM_RELU as RELU, I32, ModuleBuilder, NotAvailableError, ShapeError, V128, buildGemm, packPanels, type Gemm } from '@rec/core';
import type { NetworkConfig } from './network.js';
import { networkParamShapes } from './network.js';

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** lstm_cell(z, c, h, Hb, groups, first): byte pointers; see buildLstmCell. */
type LstmCell = (z: number, c: number, h: number, Hb: number, groups: number, first: number) => void;
/** gru_cell(x, hp, prev, h, Hb, groups, first): byte pointers; see buildGruCell. */
type GruCell = (x: number, hp: number, prev: number, h: number, Hb: number, groups: number, first: number) => void;

/**
 * exp(x) on the vector in local `x` into local `out`: x clamped to [-87.3, 88.3], x = n ln2 + r with |r| <= ln2/2
 * (ln2 split in two for an exact n ln2), e^r by its degree-6 Taylor polynomial (relative error < 2e-7), times 2^n
 * built in the exponent bits. `t` and `n` are scratch vector locals.
 */
export function emitExp(f: FuncBuilder, x: number, out: number, t: number, n: number): void {
  const splat = (v: number) => f.f32const(v).simd('f32x4.splat');
  f.get(x);
  splat(88.3);
  f.simd('f32x4.min');
  splat(-87.3);
  f.simd('f32x4.max').set(t);
  f.get(t);
  splat(Math.LOG2E);
  f.simd('f32x4.mul').simd('f32x4.nearest').set(n);
  // r = t - n ln2_hi - n ln2_lo
  f.get(t).get(n);
  splat(0.693359375);
  f.simd('f32x4.mul').simd('f32x4.sub').get(n);
  splat(-2.12194440e-4);
  f.simd('f32x4.mul').simd('f32x4.sub').set(t);
  // Horner: ((((((1/720) r + 1/120) r + 1/24) r + 1/6) r + 1/2) r + 1) r + 1
  splat(1 / 720);
  for (const c of [1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) {
    f.get(t).simd('f32x4.mul');
    splat(c);
    f.simd('f32x4.add');
  }
  // * 2^n: (n + 127) << 23 as float bits
  f.get(n).simd('i32x4.trunc_sat_f32x4_s').const(127).simd('i32x4.splat').simd('i32x4.add').const(23).simd('i32x4.shl');
  f.simd('f32x4.mul').set(out);
}

/** 1 / (1 + exp(-scale x)) of local `x` into `out` (scratch `e`, `t`, `n`). */
export function emitSigmoid(f: FuncBuilder, x: number, out: number, e: number, t: number, n: number, scale = 1): void {
  // e = -scale x
  f.f32const(-scale).simd('f32x4.splat').get(x).simd('f32x4.mul').set(e);
  emitExp(f, e, e, t, n);
  f.f32const(1).simd('f32x4.splat');
  f.f32const(1).simd('f32x4.splat').get(e).simd('f32x4.add');
  f.simd('f32x4.div').set(out);
}

/** tanh(x) = 2 sigmoid(2x) - 1 of local `x` into `out`. */
export function emitTanh(f: FuncBuilder, x: number, out: number, e: number, t: number, n: number): void {
  emitSigmoid(f, x, out, e, t, n, 2);
  f.get(out).get(out).simd('f32x4.add');
  f.f32const(1).simd('f32x4.splat');
  f.simd('f32x4.sub').set(out);
}

/** Push the vector of gate `k` (Hb bytes per gate) at byte offset local `j` of the row at local `base`. */
export function emitGateLoad(f: FuncBuilder, base: number, Hb: number, j: number, k: number): void {
  f.get(base);
  if (k > 0) f.get(Hb).const(k).op('i32.mul').op('i32.add');
  f.get(j).op('i32.add').simdMem('v128.load', 0);
}

/**
 * The four LSTM gates of the vector at byte offset local `j` of the pre-activation row at local `z` (gates [i | f |
 * o | g], Hb bytes apart): sigmoid of the first three into `ig`, `fg`, `og`, tanh of the last into `g`. `x`, `e`,
 * `t`, `n` are scratch vector locals.
 */
export function emitLstmGates(f: FuncBuilder, z: number, Hb: number, j: number, out: { ig: number; fg: number; og: number; g: number }, x: number, e: number, t: number, n: number): void {
  [out.ig, out.fg, out.og, out.g].forEach((o, k) => {
    emitGateLoad(f, z, Hb, j, k);
    f.set(x);
    if (k === 3) emitTanh(f, x, o, e, t, n);
    else emitSigmoid(f, x, o, e, t, n);
  });
}

/**
 * lstm_cell(z, c, h, Hb, groups, first): one row's LSTM cell over `groups` x 4 units. z holds the gate
 * pre-activations [i | f | o | g] (Hb bytes apart), c the cell state (updated in place), h the output.
 * first = 1: no previous cell (c = i g).
 */
function buildLstmCell(): FuncBuilder {
  const [z, c, h, Hb, groups, first] = [0, 1, 2, 3, 4, 5];
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const j = f.local(I32);
  const end = f.local(I32);
  const [x, ig, fg, og, g, cc, e, t, n] = Array.from({ length: 9 }, () => f.local(V128));
  f.get(groups).op('i32.eqz').if().op('return').end();
  f.const(0).set(j);
  f.get(groups).const(4).op('i32.shl').set(end);
  f.loop();
  {
    emitLstmGates(f, z, Hb, j, { ig, fg, og, g }, x, e, t, n);
    // cc = i g (+ f c)
    f.get(ig).get(g).simd('f32x4.mul').set(cc);
    f.get(first).op('i32.eqz').if();
    f.get(cc).get(fg).get(c).get(j).op('i32.add').simdMem('v128.load', 0).simd('f32x4.mul').simd('f32x4.add').set(cc);
    f.end();
    f.get(c).get(j).op('i32.add').get(cc).simdMem('v128.store', 0);
    emitTanh(f, cc, x, e, t, n);
    f.get(h).get(j).op('i32.add').get(og).get(x).simd('f32x4.mul').simdMem('v128.store', 0);
    f.get(j).const(16).op('i32.add').tee(j).get(end).op('i32.lt_u').brIf(0);
  }
  f.end();
  return f;
}

/**
 * gru_cell(x, hp, prev, h, Hb, groups, first): one row's GRU cell (reset-after) over `groups` x 4 units. x holds
 * the input projection [z | r | n] with its bias, hp the recurrent projection (h_prev U + recurrent bias), Hb bytes
 * between gates; h = n + z (h_prev - n), with h_prev = 0 when first = 1.
 */
function buildGruCell(): FuncBuilder {
  const [x, hp, prev, h, Hb, groups, first] = [0, 1, 2, 3, 4, 5, 6];
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32], []);
  const j = f.local(I32);
  const end = f.local(I32);
  const [v, zg, rg, nn, hprev, e, t, n] = Array.from({ length: 8 }, () => f.local(V128));
  const gate = (base: number, k: number) => emitGateLoad(f, base, Hb, j, k);
  f.get(groups).op('i32.eqz').if().op('return').end();
  f.const(0).set(j);
  f.get(groups).const(4).op('i32.shl').set(end);
  f.loop();
  {
    gate(x, 0);
    gate(hp, 0);
    f.simd('f32x4.add').set(v);
    emitSigmoid(f, v, zg, e, t, n);
    gate(x, 1);
    gate(hp, 1);
    f.simd('f32x4.add').set(v);
    emitSigmoid(f, v, rg, e, t, n);
    gate(x, 2);
    f.get(rg);
    gate(hp, 2);
    f.simd('f32x4.mul').simd('f32x4.add').set(v);
    emitTanh(f, v, nn, e, t, n);
    f.const(0).simd('i32x4.splat').set(hprev);
    f.get(first).op('i32.eqz').if();
    f.get(prev).get(j).op('i32.add').simdMem('v128.load', 0).set(hprev);
    f.end();
    // h = nn + z (hprev - nn)
    f.get(h).get(j).op('i32.add');
    f.get(nn).get(zg).get(hprev).get(nn).simd('f32x4.sub').simd('f32x4.mul').simd('f32x4.add');
    f.simdMem('v128.store', 0);
    f.get(j).const(16).op('i32.add').tee(j).get(end).op('i32.lt_u').brIf(0);
  }
  f.end();
  return f;
}

function buildModule(pages: number): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder({ initial: pages, maximum: pages, shared: false });
  for (let R = 1; R <= 4; R++) mod.addFunction(buildGemm(R), `gemm${R}`);
  mod.addFunction(buildLstmCell(), 'lstm_cell');
  mod.addFunction(buildGruCell(), 'gru_cell');
  return mod.encode();
}

// Compiled modules by memory size: an agent rebuilds its engine after every weight change (the same size each time).
const compiled = new Map<number, WebAssembly.Module>();
function compiledModule(pages: number): WebAssembly.Module {
  let m = compiled.get(pages);
  if (!m) {
    m = new WebAssembly.Module(buildModule(pages));
    if (compiled.size >= 8) compiled.delete(compiled.keys().next().value!);
    compiled.set(pages, m);
  }
  return m;
}

let simdSupport: boolean | undefined;
/** Whether this runtime validates the kernels (WebAssembly SIMD). */
export function simdForwardAvailable(): boolean {
  if (simdSupport === undefined) {
    try {
      simdSupport = typeof WebAssembly === 'object' && WebAssembly.validate(buildModule(1));
    } catch {
      simdSupport = false;
    }
  }
  return simdSupport;
}

/** A packed weight matrix in wasm memory. */
interface Mat {
  ptr: number;
  K: number;
  N: number;
  panels: number;
}

export interface SimdForwardOptions {
  /** Users per internal block (activation memory is sized for this; larger calls run block by block). Default 64. */
  maxBatch?: number;
}

/** Float offsets in wasm memory, laid out once. */
class Arena {
  floats = 0;
  take(n: number): number {
    const at = this.floats;
    this.floats += roundUp(n, PANEL);
    return at;
  }
}

interface DirWeights {
  kernel: Mat;
  bias: number; // byte pointer, padded
  recurrent: Mat;
  recurrentBias: number; // GRU only
}

export class SimdForward {
  readonly config: NetworkConfig;
  readonly maxBatch: number;
  /** Bytes of wasm memory (weights + activations). */
  readonly memoryBytes: number;
  private readonly f32: Float32Array;
  private readonly gemms: Gemm[];
  private readonly H: number;
  private readonly dirs: number;
  private readonly in0: number; // layer-0 input width
  private readonly ldX0: number;
  private readonly ldY: number;
  private readonly ldP: number;
  private readonly layers: DirWeights[][];
  private readonly itemTable: Float32Array | null;
  private readonly mlp: { w: Mat; bias: number }[];
  private readonly head: { w: Mat; bias: number };
  private readonly proj: { w: Mat; bias: number } | null;
  private readonly value: { w: Mat; bias: number } | null;
  private readonly buf: { x0: number; y: [number, number]; p: number; hp: number; last: number; m: [number, number]; e: number; q: number; v: number; cell: number };
  private readonly ldM: number;
  private readonly ldQ: number;
  private readonly lstmCell: LstmCell;
  private readonly gruCell: GruCell;

  /** Why `config` cannot run here, or null when it can. */
  static unsupported(config: NetworkConfig): string | null {
    if (config.attentionHeads > 0) return 'self-attention (attentionHeads > 0) is not in the SIMD engine';
    if (!simdForwardAvailable()) return 'this runtime has no WebAssembly SIMD';
    return null;
  }

  /** `params`: every parameter of `networkParamShapes(config)` by name, row-major. */
  constructor(config: NetworkConfig, params: Record<string, Float32Array>, options: SimdForwardOptions = {}) {
    const why = SimdForward.unsupported(config);
    if (why) throw new NotAvailableError('network not supported by the SIMD inference engine', { where: 'SimdForward', expected: 'no self-attention, WebAssembly SIMD', got: why, hint: 'Use the tfjs forward (network.ts qValues).' });
    const shapes = networkParamShapes(config);
    for (const [name, shape] of Object.entries(shapes)) {
      const size = shape.reduce((x, y) => x * y, 1);
      if (!params[name] || params[name].length !== size) {
        throw new ShapeError('parameter missing or wrong size', { where: `SimdForward (${name})`, expected: `${size} values of shape [${shape.join(', ')}]`, got: params[name] ? `${params[name].length} values` : 'nothing' });
      }
    }
    this.config = config;
    const mb = (this.maxBatch = options.maxBatch ?? 64);
    const T = config.seqLen;
    const H = (this.H = config.hidden);
    const G = config.cell === 'lstm' ? 4 : 3;
    const dirs = (this.dirs = config.bidirectional ? 2 : 1);
    const itemDim = config.itemInputDim ?? 0;
    this.in0 = itemDim > 0 ? config.featureDim - 1 + itemDim : config.featureDim;
    this.ldX0 = roundUp(this.in0, PANEL);
    const D = H * dirs;
    this.ldY = roundUp(D, PANEL);
    this.ldP = roundUp(G * H, PANEL);

    // Layout: weights first, then activations.
    const arena = new Arena();
    const mats: [Mat, Float32Array][] = [];
    const vecs: [number, Float32Array][] = [];
    const mat = (name: string): Mat => {
      const [K, N] = shapes[name];
      const panels = Math.ceil(N / PANEL);
      const m = { ptr: arena.take(panels * K * PANEL) * 4, K, N, panels };
      mats.push([m, params[name]]);
      return m;
    };
    const vec = (name: string): number => {
      const at = arena.take(params[name].length);
      vecs.push([at, params[name]]);
      return at * 4;
    };
    this.layers = [];
    for (let l = 0; l < config.layers; l++) {
      const row: DirWeights[] = [];
      for (const d of dirs === 2 ? ['fw', 'bw'] : ['fw']) {
        const p = `rnn.l${l}.${d}`;
        row.push({
          kernel: mat(`${p}.kernel`),
          recurrent: mat(`${p}.recurrent`),
          bias: vec(config.cell === 'lstm' ? `${p}.lstmBias` : `${p}.bias`),
          recurrentBias: config.cell === 'gru' ? vec(`${p}.recurrentBias`) : 0,
        });
      }
      this.layers.push(row);
    }
    this.itemTable = itemDim > 0 ? params['items.input'] : null;
    this.mlp = config.mlp.map((_, i) => ({ w: mat(`mlp.${i}`), bias: vec(`mlp.${i}.bias`) }));
    if (config.head === 'dense') {
      this.proj = null;
      this.head = { w: mat('head.q'), bias: vec('head.q.bias') };
    } else {
      this.proj = { w: mat('head.proj'), bias: vec('head.proj.bias') };
      this.head = { w: mat('items.embT'), bias: vec('items.bias') };
    }
    this.value = config.dueling ? { w: mat('head.value'), bias: vec('head.value.bias') } : null;
    const widest = Math.max(D, ...config.mlp);
    this.ldM = roundUp(widest, PANEL);
    this.ldQ = roundUp(config.numActions, PANEL);
    this.buf = {
      x0: arena.take(T * mb * this.ldX0) * 4,
      y: [arena.take(T * mb * this.ldY) * 4, arena.take(T * mb * this.ldY) * 4],
      p: arena.take(T * mb * this.ldP) * 4,
      hp: arena.take(mb * this.ldP) * 4,
      last: arena.take(mb * this.ldY) * 4,
      m: [arena.take(mb * this.ldM) * 4, arena.take(mb * this.ldM) * 4],
      e: arena.take(mb * roundUp(config.embeddingDim, PANEL)) * 4,
      q: arena.take(mb * this.ldQ) * 4,
      v: arena.take(mb * PANEL) * 4,
      cell: arena.take(mb * roundUp(H, 4)) * 4,
    };
    const bytes = arena.floats * 4;
    const pages = Math.ceil(bytes / 65536);
    if (pages > 65536) throw new NotAvailableError('network too large for one wasm memory', { where: 'SimdForward', expected: '<= 4 GiB of weights and activations', got: `${bytes} bytes`, hint: 'Use the tfjs forward, or a smaller maxBatch.' });
    this.memoryBytes = pages * 65536;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const inst = new WebAssembly.Instance(compiledModule(pages), { e: { m: memory } }).exports as Record<string, Gemm>;
    this.gemms = [inst.gemm1, inst.gemm1, inst.gemm2, inst.gemm3, inst.gemm4];
    this.lstmCell = inst.lstm_cell as unknown as LstmCell;
    this.gruCell = inst.gru_cell as unknown as GruCell;
    this.f32 = new Float32Array(memory.buffer);
    for (const [m, w] of mats) packPanels(this.f32, m.ptr / 4, w, m.K, m.N);
    for (const [at, v] of vecs) this.f32.set(v, at);
  }

  /** `M` rows of A (byte pointer, byte stride) times `w` into C. */
  private gemm(a: number, lda: number, M: number, w: Mat, c: number, ldc: number, mode: number, bias = 0): void {
    const g4 = this.gemms[4];
    let r = 0;
    for (; r + 4 <= M; r += 4) g4(a + r * lda, lda, w.ptr, w.K, w.panels, c + r * ldc, ldc, mode, bias);
    if (r < M) this.gemms[M - r](a + r * lda, lda, w.ptr, w.K, w.panels, c + r * ldc, ldc, mode, bias);
  }

  /**
   * Q-values `[n * numActions]` for `n` states `[n, seqLen, featureDim]` (flattened; item ids, when the network
   * reads them, already vocabulary indices), as network.ts `qValues` in evaluation mode.
   */
  qValues(states: Float32Array): Float32Array {
    const c = this.config;
    const per = c.seqLen * c.featureDim;
    const n = states.length / per;
    const out = new Float32Array(n * c.numActions);
    for (let at = 0; at < n; at += this.maxBatch) {
      const B = Math.min(this.maxBatch, n - at);
      this.block(states.subarray(at * per, (at + B) * per), B, out.subarray(at * c.numActions, (at + B) * c.numActions));
    }
    return out;
  }

  private block(states: Float32Array, B: number, out: Float32Array): void {
    const c = this.config;
    const f32 = this.f32;
    const { H, dirs, ldY, ldP } = this;
    const T = c.seqLen;
    const F = c.featureDim;
    // Layer-0 input, time-major: row t*B + b.
    const x0 = this.buf.x0 / 4;
    const itemDim = c.itemInputDim ?? 0;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const src = (b * T + t) * F;
        const dst = x0 + (t * B + b) * this.ldX0;
        if (!this.itemTable) {
          f32.set(states.subarray(src, src + F), dst);
        } else {
          f32.set(states.subarray(src, src + F - 1), dst);
          const id = states[src + F - 1];
          const row = id >= 0 && id < c.numActions ? Math.floor(id) + 1 : 0;
          f32.set(this.itemTable.subarray(row * itemDim, (row + 1) * itemDim), dst + F - 1);
        }
      }
    }
    let inPtr = this.buf.x0;
    let ldIn = this.ldX0 * 4;
    let outIdx = 0;
    for (let l = 0; l < c.layers; l++) {
      const y = this.buf.y[outIdx];
      for (let d = 0; d < dirs; d++) {
        const w = this.layers[l][d];
        const P = this.buf.p;
        // Every step's input projection at once: P = X W + bias, [T*B, G*H].
        this.gemm(inPtr, ldIn, T * B, w.kernel, P, ldP * 4, INIT_BIAS, w.bias);
        if (c.cell === 'lstm') this.lstmDirection(w, P, y, d, B, T);
        else this.gruDirection(w, P, y, d, B, T);
      }
      inPtr = y;
      ldIn = ldY * 4;
      outIdx ^= 1;
    }
    // Summary: forward direction's last step joined with the backward direction's first.
    const yLast = inPtr;
    let h: number;
    let ldh: number;
    if (dirs === 1) {
      h = yLast + (T - 1) * B * ldY * 4;
      ldh = ldY * 4;
    } else {
      const last = this.buf.last / 4;
      const y = yLast / 4;
      for (let b = 0; b < B; b++) {
        const fw = y + ((T - 1) * B + b) * ldY;
        const bw = y + b * ldY + H;
        f32.copyWithin(last + b * ldY, fw, fw + H);
        f32.copyWithin(last + b * ldY + H, bw, bw + H);
      }
      h = this.buf.last;
      ldh = ldY * 4;
    }
    let mi = 0;
    for (const layer of this.mlp) {
      const dst = this.buf.m[mi];
      this.gemm(h, ldh, B, layer.w, dst, this.ldM * 4, INIT_BIAS | RELU, layer.bias);
      h = dst;
      ldh = this.ldM * 4;
      mi ^= 1;
    }
    const N = c.numActions;
    const ldQ = this.ldQ;
    if (this.proj) {
      const ldE = roundUp(c.embeddingDim, PANEL) * 4;
      this.gemm(h, ldh, B, this.proj.w, this.buf.e, ldE, INIT_BIAS, this.proj.bias);
      this.gemm(this.buf.e, ldE, B, this.head.w, this.buf.q, ldQ * 4, INIT_BIAS, this.head.bias);
    } else {
      this.gemm(h, ldh, B, this.head.w, this.buf.q, ldQ * 4, INIT_BIAS, this.head.bias);
    }
    const q = this.buf.q / 4;
    if (this.value) {
      this.gemm(h, ldh, B, this.value.w, this.buf.v, PANEL * 4, INIT_BIAS, this.value.bias);
      for (let b = 0; b < B; b++) {
        const row = q + b * ldQ;
        let sum = 0;
        for (let j = 0; j < N; j++) sum += f32[row + j];
        const shift = f32[this.buf.v / 4 + b * PANEL] - sum / N;
        for (let j = 0; j < N; j++) out[b * N + j] = f32[row + j] + shift;
      }
    } else {
      for (let b = 0; b < B; b++) out.set(f32.subarray(q + b * ldQ, q + b * ldQ + N), b * N);
    }
  }

  /** One direction of an LSTM layer; outputs go to columns d*H .. d*H+H of `y` (byte pointer). */
  private lstmDirection(w: DirWeights, P: number, y: number, d: number, B: number, T: number): void {
    const f32 = this.f32;
    const { H, ldY, ldP } = this;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    for (let s = 0; s < T; s++) {
      const t = d === 1 ? T - 1 - s : s;
      const z0 = P + t * B * ldP * 4;
      if (s > 0) {
        const tPrev = d === 1 ? t + 1 : t - 1;
        this.gemm(y + (tPrev * B * ldY + d * H) * 4, ldY * 4, B, w.recurrent, z0, ldP * 4, INIT_C);
      }
      const groups = H >> 2;
      const ldC = roundUp(H, 4);
      for (let b = 0; b < B; b++) {
        const zb = z0 + b * ldP * 4;
        const cb = this.buf.cell + b * ldC * 4;
        const ob = y + ((t * B + b) * ldY + d * H) * 4;
        this.lstmCell(zb, cb, ob, H * 4, groups, s === 0 ? 1 : 0);
        // Units past the last group of four: the same arithmetic in JavaScript.
        const z = zb / 4;
        const o = ob / 4;
        const cs = cb / 4;
        for (let j = groups * 4; j < H; j++) {
          const ig = sig(f32[z + j]);
          const fg = sig(f32[z + H + j]);
          const og = sig(f32[z + 2 * H + j]);
          const g = Math.tanh(f32[z + 3 * H + j]);
          const cc = s > 0 ? fg * f32[cs + j] + ig * g : ig * g;
          f32[cs + j] = cc;
          f32[o + j] = og * Math.tanh(cc);
        }
      }
    }
  }

  /** One direction of a GRU layer (reset-after, gates [z, r, n]). */
  private gruDirection(w: DirWeights, P: number, y: number, d: number, B: number, T: number): void {
    const f32 = this.f32;
    const { H, ldY, ldP } = this;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const hpBase = this.buf.hp;
    const rb = w.recurrentBias / 4;
    for (let s = 0; s < T; s++) {
      const t = d === 1 ? T - 1 - s : s;
      const tPrev = d === 1 ? t + 1 : t - 1;
      if (s > 0) this.gemm(y + (tPrev * B * ldY + d * H) * 4, ldY * 4, B, w.recurrent, hpBase, ldP * 4, INIT_BIAS, w.recurrentBias);
      const groups = H >> 2;
      for (let b = 0; b < B; b++) {
        const x = P / 4 + (t * B + b) * ldP;
        const hp = s > 0 ? hpBase / 4 + b * ldP : rb;
        const o = y / 4 + (t * B + b) * ldY + d * H;
        const prev = y / 4 + (tPrev * B + b) * ldY + d * H;
        this.gruCell(x * 4, hp * 4, s > 0 ? prev * 4 : 0, o * 4, H * 4, groups, s > 0 ? 0 : 1);
        // Units past the last group of four: the same arithmetic in JavaScript.
        for (let j = groups * 4; j < H; j++) {
          const zg = sig(f32[x + j] + f32[hp + j]);
          const rg = sig(f32[x + H + j] + f32[hp + H + j]);
          const nn = Math.tanh(f32[x + 2 * H + j] + rg * f32[hp + 2 * H + j]);
          const hPrev = s > 0 ? f32[prev + j] : 0;
          f32[o + j] = nn + zg * (hPrev - nn);
        }
      }
    }
  }
}
