/**
 * TD3 (Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic Methods") acting in
 * item-embedding space: the actor maps a user's state (5 beliefs + 64-d user embedding = 69) to a 64-d "virtual
 * item" in [-1, 1]; twin critics score (state, action); target networks move by Polyak averaging; the critics'
 * target uses clipped noise on the target action (target policy smoothing); the actor and targets update every
 * `policyDelay` critic updates. Read top to bottom: config, agent state, update step, acting, persistence.
 * The training controller (the design's episode/round schedule) is in `train.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  check,
  checkPositiveInt,
  EnvContractError,
  InvalidArgumentError,
  loadCheckpoint,
  ModelFormatError,
  NotAvailableError,
  packArrays,
  ReplayBuffer,
  replaceDirAtomic,
  Rng,
  sha256,
  ShapeError,
  unpackArrays,
  writeJsonAtomic,
  type ItemsCsr,
  type PackableArray,
  type ReplayState,
  type RngState,
  Adam,
  clipByGlobalNorm,
} from '@rec/core';
import type { RecEnv } from '@rec/env';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Mlp } from './mlp.js';
import { SimdMlp, simdMlpAvailable } from './simd-mlp.js';
import type { ItemMatcher, MergedLists } from './matching.js';
import { evaluateAgent, learnTd3, type EpisodeStats, type LearnOptions } from './train.js';

export const TD3_FORMAT_VERSION = 1;

// ---------------------------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------------------------

export interface Td3Config {
  /** Observation size per user (beliefs 5 + user embedding 64). */
  stateDim: number;
  /** Action size: the virtual item's embedding dimension. */
  actionDim: number;
  /** Actions lie in [-maxAction, maxAction] (tanh output times this). */
  maxAction: number;
  /** Actor hidden layers (69 -> 512 -> 512 -> 256 -> 64). */
  actorHidden: number[];
  /** Critic hidden layers ((69 + 64) -> 512 -> 512 -> 256 -> 1), for each twin. */
  criticHidden: number[];
  /** Dropout after each hidden layer, in training mode only. */
  dropout: number;
  /** Batch normalisation after each hidden layer. */
  batchNorm: boolean;
  /** Batch-normalise the networks' inputs too (not in the design; helps when state features differ in scale). */
  inputBatchNorm: boolean;
  /** Running-statistics momentum: running = m * running + (1 - m) * batch (0.9 = PyTorch's 0.1). */
  batchNormMomentum: number;
  batchNormEpsilon: number;
  /** Discount factor. */
  gamma: number;
  /** Polyak coefficient of the soft target updates. */
  tau: number;
  /** Std of the Gaussian noise on the target action (times maxAction). */
  policyNoise: number;
  /** The target noise is clipped to +-noiseClip (times maxAction). */
  noiseClip: number;
  /** Actor and target updates happen once per this many critic updates. */
  policyDelay: number;
  /** Transitions per update. */
  batchSize: number;
  actorLearningRate: number;
  criticLearningRate: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** Gradients are clipped to this global L2 norm (per network group); 0 disables clipping. */
  maxGradNorm: number;
  /** Std of the Gaussian exploration noise added to actions while learning (times maxAction). */
  explorationNoise: number;
  /** Rewards are multiplied by this when stored for learning (e.g. 0.01 keeps the belief simulator's 0-100 near 1). */
  rewardScale: number;
  /** Replay capacity in transitions (memory: capacity x (2 stateDim + actionDim + 2) x 4 bytes). */
  replayCapacity: number;
  /** Users per actor forward pass (the design's batches of 4,000). */
  inferenceBatch: number;
  /**
   * Which forward pass computes the actor's actions in `act` and `recommend` (training always runs on tfjs).
   * `'wasm-simd'`: SimdMlp (simd-mlp.ts: wasm SIMD kernels on `inferenceThreads` threads, batch normalisation folded
   * into the weights) on a copy of the actor's weights, refreshed whenever they change; `'tfjs'`: the tfjs graph on
   * the active backend; `'auto'` (default): the engine when the tfjs backend is `cpu` or `wasm` (a GPU backend keeps
   * its own forward), else tfjs.
   */
  inference: 'auto' | 'tfjs' | 'wasm-simd';
  /** Threads of the wasm-simd engine (the caller + workers); 0 = min(2, available cores). */
  inferenceThreads: number;
  // --- training controller (train.ts) ---
  /** Episodes to train. */
  episodes: number;
  /** Rounds (environment steps per user) per episode. */
  rounds: number;
  /** Transitions collected with uniform random actions before any update. */
  warmup: number;
  /** Train after every this many rounds (once warm). */
  trainEvery: number;
  /** Gradient updates per training phase. */
  updatesPerTrain: number;
  /** Seed of every random choice (initialisation, replay sampling, noise, dropout, environment seeds). */
  seed: number;
}

export const TD3_DEFAULTS: Readonly<Td3Config> = Object.freeze({
  stateDim: 69,
  actionDim: 64,
  maxAction: 1,
  actorHidden: [512, 512, 256],
  criticHidden: [512, 512, 256],
  dropout: 0.1,
  batchNorm: true,
  inputBatchNorm: false,
  batchNormMomentum: 0.9,
  batchNormEpsilon: 1e-5,
  gamma: 0.95,
  tau: 0.005,
  policyNoise: 0.2,
  noiseClip: 0.5,
  policyDelay: 2,
  batchSize: 512,
  actorLearningRate: 3e-4,
  criticLearningRate: 3e-4,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  maxGradNorm: 1.0,
  explorationNoise: 0.1,
  rewardScale: 1,
  replayCapacity: 300_000,
  inferenceBatch: 4_000,
  inference: 'auto',
  inferenceThreads: 0,
  episodes: 10,
  rounds: 20,
  warmup: 100_000,
  trainEvery: 3,
  updatesPerTrain: 100,
  seed: 0,
});

/** Fill in defaults and validate; throws InvalidArgumentError naming the bad key. */
export function resolveTd3Config(partial: Partial<Td3Config> = {}): Td3Config {
  const c: Td3Config = { ...TD3_DEFAULTS, ...partial, actorHidden: [...(partial.actorHidden ?? TD3_DEFAULTS.actorHidden)], criticHidden: [...(partial.criticHidden ?? TD3_DEFAULTS.criticHidden)] };
  for (const key of ['stateDim', 'actionDim', 'policyDelay', 'batchSize', 'replayCapacity', 'inferenceBatch', 'episodes', 'rounds', 'trainEvery'] as const) {
    checkPositiveInt(c[key], `Td3Config.${key}`);
  }
  for (const key of ['warmup', 'updatesPerTrain'] as const) check(Number.isInteger(c[key]) && c[key] >= 0, `Td3Config.${key}`, 'a non-negative integer', c[key]);
  for (const key of ['gamma', 'tau', 'dropout'] as const) check(c[key] >= 0 && c[key] <= 1, `Td3Config.${key}`, 'a number in [0, 1]', c[key]);
  check(c.dropout < 1, 'Td3Config.dropout', 'a rate below 1', c.dropout);
  for (const key of ['maxAction', 'rewardScale', 'actorLearningRate', 'criticLearningRate', 'batchNormEpsilon', 'adamEpsilon'] as const) {
    check(Number.isFinite(c[key]) && c[key] > 0, `Td3Config.${key}`, 'a positive number', c[key]);
  }
  for (const key of ['policyNoise', 'noiseClip', 'explorationNoise', 'maxGradNorm'] as const) check(Number.isFinite(c[key]) && c[key] >= 0, `Td3Config.${key}`, 'a non-negative number', c[key]);
  for (const key of ['actorHidden', 'criticHidden'] as const) {
    check(c[key].length > 0 && c[key].every((h) => Number.isInteger(h) && h > 0), `Td3Config.${key}`, 'a non-empty list of positive integers', c[key]);
  }
  check(Number.isFinite(c.seed), 'Td3Config.seed', 'a finite number', c.seed);
  check(['auto', 'tfjs', 'wasm-simd'].includes(c.inference), 'Td3Config.inference', "'auto', 'tfjs' or 'wasm-simd'", c.inference);
  check(Number.isInteger(c.inferenceThreads) && c.inferenceThreads >= 0 && c.inferenceThreads <= 16, 'Td3Config.inferenceThreads', 'an integer in [0, 16] (0 = min(2, cores))', c.inferenceThreads);
  return c;
}

/** A batch of transitions, each array `[batch * size]`. */
export interface TransitionBatch {
  obs: Float32Array;
  action: Float32Array;
  reward: Float32Array;
  nextObs: Float32Array;
  done: Uint8Array | Float32Array;
}

export interface UpdateResult {
  criticLoss: number;
  /** Null on updates where the delayed actor did not update. */
  actorLoss: number | null;
}

function replayFields(c: Td3Config) {
  return {
    obs: { size: c.stateDim },
    action: { size: c.actionDim },
    reward: { size: 1 },
    nextObs: { size: c.stateDim },
    done: { size: 1, type: Uint8Array },
  };
}
type Td3Fields = ReturnType<typeof replayFields>;

/** The independent random streams; each is saved so a resumed run draws exactly what an unbroken run would. */
const STREAMS = ['replay', 'targetNoise', 'dropout', 'explore'] as const;

/** A list as a record keyed '0', '1', ... (the shape @rec/core's Adam and clipByGlobalNorm take). */
function byIndex<T>(items: readonly T[]): Record<string, T> {
  const out: Record<string, T> = {};
  items.forEach((x, i) => (out[String(i)] = x));
  return out;
}

/** Names of the Adam moments in `optimizer.bin`: `actor/m0`, `critic/v12`, ... (format 1). */
const optimizerKey = (label: 'actor' | 'critic') => (moment: 'm' | 'v', index: string) => `${label}/${moment}${index}`;
type StreamName = (typeof STREAMS)[number];

// ---------------------------------------------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------------------------------------------

export class Td3Agent {
  readonly config: Td3Config;
  readonly actor: Mlp;
  readonly actorTarget: Mlp;
  readonly critic1: Mlp;
  readonly critic2: Mlp;
  readonly critic1Target: Mlp;
  readonly critic2Target: Mlp;
  readonly replay: ReplayBuffer<Td3Fields>;
  /** Trainable variables of the actor, and of both critics (one optimizer, one loss); Adam keys them by index. */
  private readonly actorVars: tf.Variable[];
  private readonly criticVars: tf.Variable[];
  private readonly actorOpt: Adam;
  private readonly criticOpt: Adam;
  readonly rng: Record<StreamName, Rng>;
  /** Critic updates so far. */
  updates = 0;
  /** Transitions collected so far (also counts those the replay has overwritten). */
  transitions = 0;
  /** Episodes completed by the training controller. */
  episodesDone = 0;
  private disposed = false;
  /** The actor's SIMD engine and the variable data ids its weights were copied from (a changed id = stale weights). */
  private engine: SimdMlp | null = null;
  private engineIds: object[] = [];
  /** 'auto' only: false once the engine could not be built here. */
  private engineFailed = false;

  constructor(config: Partial<Td3Config> = {}) {
    const c = resolveTd3Config(config);
    this.config = c;
    const root = new Rng(c.seed);
    const init = root.split('init');
    this.rng = Object.fromEntries(STREAMS.map((s) => [s, root.split(s)])) as Record<StreamName, Rng>;
    const bn = c.batchNorm ? { momentum: c.batchNormMomentum, epsilon: c.batchNormEpsilon } : null;
    const actorOpts = { input: c.stateDim, hidden: c.actorHidden, output: c.actionDim, dropout: c.dropout, batchNorm: bn, inputBatchNorm: c.inputBatchNorm, outputActivation: 'tanh' as const, outputScale: c.maxAction };
    const criticOpts = { input: c.stateDim + c.actionDim, hidden: c.criticHidden, output: 1, dropout: c.dropout, batchNorm: bn, inputBatchNorm: c.inputBatchNorm, outputActivation: 'linear' as const, outputScale: 1 };
    this.actor = new Mlp(actorOpts, init);
    this.critic1 = new Mlp(criticOpts, init);
    this.critic2 = new Mlp(criticOpts, init);
    // Targets start as exact copies.
    this.actorTarget = new Mlp(actorOpts, init);
    this.critic1Target = new Mlp(criticOpts, init);
    this.critic2Target = new Mlp(criticOpts, init);
    this.actorTarget.softUpdateFrom(this.actor, 1);
    this.critic1Target.softUpdateFrom(this.critic1, 1);
    this.critic2Target.softUpdateFrom(this.critic2, 1);
    // PyTorch's Adam (bias correction outside epsilon), as the reference TD3 implementation uses.
    const adam = { beta1: c.adamBeta1, beta2: c.adamBeta2, epsilon: c.adamEpsilon, form: 'pytorch' as const };
    this.actorVars = this.actor.trainable;
    this.criticVars = [...this.critic1.trainable, ...this.critic2.trainable];
    this.actorOpt = new Adam(byIndex(this.actorVars), { ...adam, learningRate: c.actorLearningRate });
    this.criticOpt = new Adam(byIndex(this.criticVars), { ...adam, learningRate: c.criticLearningRate });
    this.replay = new ReplayBuffer({ capacity: c.replayCapacity, fields: replayFields(c) });
  }

  // -------------------------------------------------------------------------------------------------------------
  // The update step
  // -------------------------------------------------------------------------------------------------------------

  /**
   * One TD3 update on `batch` (or on `config.batchSize` transitions sampled from the replay buffer):
   * critics regress on y = r + gamma (1 - done) min(Q1'(s', a~), Q2'(s', a~)) with a~ = clip(mu'(s') + clip(eps)),
   * and every `policyDelay`-th call the actor ascends Q1(s, mu(s)) and all targets move by tau.
   * Pass `readLosses: false` to skip the two GPU->CPU reads (the losses come back NaN).
   */
  update(batch?: TransitionBatch, readLosses = true): UpdateResult {
    this.assertLive('update');
    const c = this.config;
    const b = batch ?? (this.replay.sample(c.batchSize, this.rng.replay).batch as unknown as TransitionBatch);
    const n = b.reward.length;
    if (b.obs.length !== n * c.stateDim || b.nextObs.length !== n * c.stateDim || b.action.length !== n * c.actionDim || b.done.length !== n) {
      throw new ShapeError('transition batch arrays disagree', {
        where: 'Td3Agent.update(batch)',
        expected: `obs/nextObs ${n} x ${c.stateDim}, action ${n} x ${c.actionDim}, done ${n}`,
        got: { obs: b.obs.length, action: b.action.length, nextObs: b.nextObs.length, done: b.done.length },
      });
    }
    // Target policy smoothing noise, clipped, drawn in JS from a saved stream.
    const noise = new Float32Array(n * c.actionDim);
    const clipN = c.noiseClip * c.maxAction;
    for (let i = 0; i < noise.length; i++) noise[i] = Math.max(-clipN, Math.min(clipN, this.rng.targetNoise.normal(0, c.policyNoise * c.maxAction)));
    const doneF = b.done instanceof Float32Array ? b.done : Float32Array.from(b.done);

    let criticLossT: tf.Scalar;
    let actorLossT: tf.Scalar | null = null;
    const obs = tf.tensor2d(b.obs, [n, c.stateDim]);
    try {
      criticLossT = tf.tidy(() => {
        const y = tf.tidy(() => {
          const nextObs = tf.tensor2d(b.nextObs, [n, c.stateDim]);
          const nextA = tf.clipByValue(tf.add(this.actorTarget.apply(nextObs, false), tf.tensor2d(noise, [n, c.actionDim])), -c.maxAction, c.maxAction);
          const sa = tf.concat([nextObs, nextA], 1) as tf.Tensor2D;
          const q = tf.minimum(this.critic1Target.apply(sa, false), this.critic2Target.apply(sa, false));
          const notDone = tf.sub(1, tf.tensor2d(doneF, [n, 1]));
          return tf.add(tf.tensor2d(b.reward, [n, 1]), tf.mul(tf.mul(notDone, c.gamma), q));
        });
        const sa = tf.concat([obs, tf.tensor2d(b.action, [n, c.actionDim])], 1) as tf.Tensor2D;
        const criticVars = this.criticVars;
        const { value, grads } = tf.variableGrads(() => {
          const q1 = this.critic1.apply(sa, true, this.rng.dropout);
          const q2 = this.critic2.apply(sa, true, this.rng.dropout);
          return tf.add(tf.mean(tf.square(tf.sub(q1, y))), tf.mean(tf.square(tf.sub(q2, y)))) as tf.Scalar;
        }, criticVars);
        this.step(this.criticOpt, criticVars.map((v) => grads[v.name]));
        return value;
      });
      this.updates++;
      if (this.updates % c.policyDelay === 0) {
        actorLossT = tf.tidy(() => {
          const actorVars = this.actorVars;
          const { value, grads } = tf.variableGrads(() => {
            const a = this.actor.apply(obs, true, this.rng.dropout);
            // The critic scores the actor's actions in inference mode: running statistics, no dropout.
            return tf.neg(tf.mean(this.critic1.apply(tf.concat([obs, a], 1) as tf.Tensor2D, false))) as tf.Scalar;
          }, actorVars);
          this.step(this.actorOpt, actorVars.map((v) => grads[v.name]));
          return value;
        });
        this.actorTarget.softUpdateFrom(this.actor, c.tau);
        this.critic1Target.softUpdateFrom(this.critic1, c.tau);
        this.critic2Target.softUpdateFrom(this.critic2, c.tau);
      }
    } finally {
      obs.dispose();
    }
    const criticLoss = readLosses ? criticLossT.dataSync()[0] : NaN;
    const actorLoss = actorLossT ? (readLosses ? actorLossT.dataSync()[0] : NaN) : null;
    criticLossT.dispose();
    actorLossT?.dispose();
    return { criticLoss, actorLoss };
  }

  private step(opt: Adam, grads: tf.Tensor[]): void {
    const named = byIndex(grads);
    if (this.config.maxGradNorm > 0) {
      // torch.nn.utils.clip_grad_norm_'s form: scale = maxNorm / (norm + 1e-6), capped at 1.
      const clipped = clipByGlobalNorm(named, this.config.maxGradNorm, { epsilon: 1e-6 });
      opt.apply(opt.params, clipped.grads);
      tf.dispose(clipped);
    } else {
      opt.apply(opt.params, named);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Acting
  // -------------------------------------------------------------------------------------------------------------

  /** Train in `env` on the design's schedule (see `learnTd3` in train.ts); resolves to per-episode statistics. */
  learn(env: RecEnv, options: LearnOptions = {}): Promise<EpisodeStats[]> {
    return learnTd3(this, env, options);
  }

  /**
   * One episode of the greedy policy (no exploration, no training), optionally with the environment seeded: the
   * whole population for the belief simulator, one batch of `rounds` steps for other environments.
   */
  evaluate(env: RecEnv, options: { rounds?: number; seed?: number } = {}): Promise<EpisodeStats> {
    return evaluateAgent(this, env, options);
  }

  /**
   * Actions `[batch * actionDim]` for observations `[batch * stateDim]` (inference mode, in chunks of
   * `inferenceBatch`). With `explore`, Gaussian noise of std `explorationNoise * maxAction` is added, then clipped.
   */
  act(obs: Float32Array, options: { explore?: boolean } = {}): Float32Array {
    this.assertLive('act');
    const c = this.config;
    const batch = obs.length / c.stateDim;
    if (!Number.isInteger(batch) || batch === 0) {
      throw new ShapeError('observations do not split into states', { where: 'Td3Agent.act(obs)', expected: `a non-empty multiple of stateDim ${c.stateDim}`, got: obs.length });
    }
    const engine = this.actorEngine();
    let out: Float32Array;
    if (engine) {
      out = engine.forward(obs);
      for (let i = 0; i < out.length; i++) out[i] = Math.tanh(out[i]) * c.maxAction;
    } else {
      out = new Float32Array(batch * c.actionDim);
      for (let start = 0; start < batch; start += c.inferenceBatch) {
        const rows = Math.min(c.inferenceBatch, batch - start);
        const a = tf.tidy(() => this.actor.apply(tf.tensor2d(obs.subarray(start * c.stateDim, (start + rows) * c.stateDim), [rows, c.stateDim]), false));
        out.set(a.dataSync() as Float32Array, start * c.actionDim);
        a.dispose();
      }
    }
    if (options.explore && c.explorationNoise > 0) {
      const std = c.explorationNoise * c.maxAction;
      for (let i = 0; i < out.length; i++) out[i] = Math.max(-c.maxAction, Math.min(c.maxAction, out[i] + this.rng.explore.normal(0, std)));
    }
    return out;
  }

  /** The forward pass `act` uses now: `'wasm-simd'` or `'tfjs'` (see `config.inference`). */
  get inferenceEngine(): 'tfjs' | 'wasm-simd' {
    return this.useEngine() ? 'wasm-simd' : 'tfjs';
  }

  private useEngine(): boolean {
    const mode = this.config.inference;
    if (mode === 'tfjs') return false;
    if (mode === 'wasm-simd') {
      if (!simdMlpAvailable()) throw new NotAvailableError('the wasm-simd inference engine cannot run here', { where: 'Td3Agent.inference', expected: 'a runtime with wasm SIMD and shared memory', got: 'validation failed', hint: "Use inference: 'auto' or 'tfjs'." });
      return true;
    }
    // auto: the backend is checked on every call (it can change after construction, e.g. setBackend('webgpu')).
    const backend = tf.getBackend();
    return (backend === 'cpu' || backend === 'wasm') && !this.engineFailed && simdMlpAvailable();
  }

  /** The actor's engine with current weights, or null when acting runs on tfjs. */
  private actorEngine(): SimdMlp | null {
    if (!this.useEngine()) return null;
    const ids = this.actor.named().map(([, v]) => (v as unknown as { dataId: object }).dataId);
    if (this.engine && ids.length === this.engineIds.length && ids.every((id, i) => id === this.engineIds[i])) return this.engine;
    try {
      const layers = this.actor.denseLayers();
      if (this.engine) this.engine.setWeights(layers);
      else this.engine = new SimdMlp(layers, { threads: this.config.inferenceThreads || undefined, maxBatch: this.config.inferenceBatch });
    } catch (e) {
      // 'auto' falls back for good (e.g. the wasm memory cannot be reserved); an explicit 'wasm-simd' says why.
      if (this.config.inference === 'wasm-simd') throw e;
      this.engineFailed = true;
      this.engine?.dispose();
      this.engine = null;
      return null;
    }
    this.engineIds = ids;
    return this.engine;
  }

  /** Uniform random actions in [-maxAction, maxAction] (the warm-up policy), `[batch * actionDim]`. */
  randomActions(batch: number): Float32Array {
    const m = this.config.maxAction;
    return this.rng.explore.fillUniform(new Float32Array(batch * this.config.actionDim), -m, m) as Float32Array;
  }

  /**
   * Recommendations for observations: the actor's action matched by cosine to items (`rlCount`), merged with the
   * pre-trained list (`pretrainedCount`, top user-item dot products). `userEmbeddings [batch * matcher.dim]`
   * defaults to the last `matcher.dim` numbers of each observation (the belief simulator's state layout).
   * `exclude` (a CSR per user, as a RecEnv's `excluded()` returns) keeps those items out of both lists.
   */
  recommend(
    obs: Float32Array,
    matcher: ItemMatcher,
    options: { userEmbeddings?: Float32Array; rlCount?: number; pretrainedCount?: number; exclude?: ItemsCsr } = {},
  ): MergedLists {
    const c = this.config;
    if (matcher.dim !== c.actionDim) {
      throw new ShapeError('item embeddings and actions differ in size', { where: 'Td3Agent.recommend(matcher)', expected: `dim ${c.actionDim}`, got: matcher.dim });
    }
    const batch = obs.length / c.stateDim;
    let users = options.userEmbeddings;
    if (!users) {
      check(c.stateDim >= matcher.dim, 'Td3Agent.recommend(options.userEmbeddings)', `user embeddings, since the state (${c.stateDim}) is shorter than an embedding (${matcher.dim})`, undefined);
      users = new Float32Array(batch * matcher.dim);
      for (let b = 0; b < batch; b++) users.set(obs.subarray((b + 1) * c.stateDim - matcher.dim, (b + 1) * c.stateDim), b * matcher.dim);
    }
    return matcher.recommend(this.act(obs), users, batch, options.rlCount ?? 10, options.pretrainedCount ?? 10, options.exclude);
  }

  /** Store a batch of transitions in the replay buffer (rewards times `rewardScale`). */
  remember(t: TransitionBatch): void {
    const n = t.reward.length;
    const scale = this.config.rewardScale;
    const reward = scale === 1 ? t.reward : Float32Array.from(t.reward, (r) => r * scale);
    this.replay.addBatch({ obs: t.obs, action: t.action, reward, nextObs: t.nextObs, done: t.done }, n);
    this.transitions += n;
  }

  /** Throws EnvContractError unless `env` has continuous actions and observation sizes matching this agent. */
  checkEnv(env: RecEnv): void {
    const c = this.config;
    const obsSize = env.observation.shape.reduce((a: number, b: number) => a * b, 1);
    if (env.action.type !== 'continuous' || env.action.dim !== c.actionDim || obsSize !== c.stateDim) {
      throw new EnvContractError('environment does not fit this agent', {
        where: `Td3Agent (env "${env.name}")`,
        expected: `continuous actions of dim ${c.actionDim} and observations of size ${c.stateDim}`,
        got: { action: env.action, observation: env.observation.shape },
        hint: 'Create the agent with createTd3({ stateDim, actionDim }) matching the environment.',
      });
    }
    if (env.action.high !== c.maxAction || env.action.low !== -c.maxAction) {
      throw new EnvContractError('action bounds differ', { where: `Td3Agent (env "${env.name}")`, expected: `[-${c.maxAction}, ${c.maxAction}]`, got: [env.action.low, env.action.high], hint: 'Set maxAction to the environment\'s bound (symmetric bounds only).' });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Persistence
  // -------------------------------------------------------------------------------------------------------------

  private networks(): [string, Mlp][] {
    return [
      ['actor', this.actor],
      ['actorTarget', this.actorTarget],
      ['critic1', this.critic1],
      ['critic2', this.critic2],
      ['critic1Target', this.critic1Target],
      ['critic2Target', this.critic2Target],
    ];
  }

  /**
   * Everything a checkpoint holds, as named files: `config.json`, `weights.bin` (all six networks including their
   * batch-norm running statistics), `optimizer.bin`, `state.json` (counters, generators), with `replay`,
   * `replay.bin`, and with `serving`, `serving.bin` + `serving.json` (see `Td3ServingData`).
   */
  serialize(options: Td3SaveOptions = {}): Record<string, Uint8Array | string> {
    this.assertLive('save');
    const serving = options.serving === undefined ? undefined : checkServing(options.serving, this.config.actionDim, 'Td3Agent.save(options.serving)');
    const weights: Record<string, PackableArray> = {};
    for (const [net, mlp] of this.networks()) for (const [name, v] of mlp.named()) weights[`${net}/${name}`] = v.dataSync() as Float32Array;
    const optimizer: Record<string, PackableArray> = {};
    for (const [label, opt] of [['actor', this.actorOpt], ['critic', this.criticOpt]] as const) Object.assign(optimizer, opt.getState(optimizerKey(label)));
    const state = {
      format: TD3_FORMAT_VERSION,
      updates: this.updates,
      transitions: this.transitions,
      episodesDone: this.episodesDone,
      adamSteps: { actor: this.actorOpt.step, critic: this.criticOpt.step },
      rng: Object.fromEntries(STREAMS.map((s) => [s, this.rng[s].getState()])),
      backend: tf.getBackend(),
      replay: undefined as Omit<ReplayState, 'fields' | 'tree'> | undefined,
    };
    const files: Record<string, Uint8Array | string> = {
      'config.json': JSON.stringify({ package: '@rec/models-td3', format: TD3_FORMAT_VERSION, config: this.config }, null, 2),
      'weights.bin': packArrays(weights),
      'optimizer.bin': packArrays(optimizer),
    };
    if (options.replay) {
      const rs = this.replay.getState();
      state.replay = { capacity: rs.capacity, size: rs.size, next: rs.next, sampleCalls: rs.sampleCalls, maxPriority: rs.maxPriority };
      files['replay.bin'] = packArrays(rs.fields);
    }
    files['state.json'] = JSON.stringify(state, null, 2);
    if (serving) {
      const arrays: Record<string, PackableArray> = { itemIds: serving.itemIds, itemEmbeddings: serving.itemEmbeddings };
      if (serving.itemCategories) arrays.itemCategories = serving.itemCategories;
      files['serving.bin'] = packArrays(arrays);
      files['serving.json'] = JSON.stringify({ format: TD3_FORMAT_VERSION, numItems: serving.itemIds.length, dim: this.config.actionDim, stateLayout: serving.stateLayout ?? null }, null, 2);
    }
    return files;
  }

  /** Restore from files written by `serialize` (weights always; optimizer, counters, RNG and replay when present). */
  restore(files: Record<string, Uint8Array>, where = 'Td3Agent.restore'): void {
    this.assertLive('load');
    const need = (f: string) => {
      if (!files[f]) throw new ModelFormatError('checkpoint file missing', { where, expected: f, got: Object.keys(files) });
      return files[f];
    };
    const saved = JSON.parse(new TextDecoder().decode(need('config.json'))) as { config: Td3Config };
    for (const key of ['stateDim', 'actionDim', 'actorHidden', 'criticHidden', 'batchNorm', 'inputBatchNorm'] as const) {
      if (JSON.stringify(saved.config[key]) !== JSON.stringify(this.config[key])) {
        throw new ModelFormatError('checkpoint was written by a differently shaped agent', { where, expected: `${key} = ${JSON.stringify(this.config[key])}`, got: saved.config[key], hint: 'Use loadTd3(dir) to build the agent from the saved config.' });
      }
    }
    const weights = unpackArrays(need('weights.bin'));
    const assign = (v: tf.Variable, arr: PackableArray | undefined, name: string) => {
      if (!arr || arr.length !== v.size) throw new ModelFormatError('tensor missing or mis-sized', { where: `${where} ${name}`, expected: `${v.size} numbers`, got: arr?.length });
      tf.tidy(() => v.assign(tf.tensor(arr as Float32Array, v.shape)));
    };
    for (const [net, mlp] of this.networks()) for (const [name, v] of mlp.named()) assign(v, weights[`${net}/${name}`], `${net}/${name}`);
    if (files['optimizer.bin']) {
      const opt = unpackArrays(files['optimizer.bin']);
      for (const [label, o] of [['actor', this.actorOpt], ['critic', this.criticOpt]] as const) o.setState(opt, undefined, optimizerKey(label), where);
    }
    if (files['state.json']) {
      const s = JSON.parse(new TextDecoder().decode(files['state.json'])) as {
        updates: number; transitions: number; episodesDone: number; adamSteps: { actor: number; critic: number };
        rng: Record<StreamName, RngState>; replay?: Omit<ReplayState, 'fields' | 'tree'>;
      };
      this.updates = s.updates;
      this.transitions = s.transitions;
      this.episodesDone = s.episodesDone;
      this.actorOpt.step = s.adamSteps.actor;
      this.criticOpt.step = s.adamSteps.critic;
      for (const k of STREAMS) this.rng[k].setState(s.rng[k]);
      if (s.replay && files['replay.bin']) {
        if (s.replay.capacity !== this.config.replayCapacity) {
          throw new ModelFormatError('replay capacity differs', { where, expected: `${this.config.replayCapacity}`, got: s.replay.capacity });
        }
        const fields = unpackArrays(files['replay.bin']) as ReplayState['fields'];
        this.replay.setState({ ...s.replay, fields });
      }
    }
  }

  /**
   * Save to directory `dir` atomically (written to a temporary sibling, then renamed), with a MANIFEST.json of
   * sha256 checksums that `load` verifies. `replay: true` also saves the replay buffer (for resuming training);
   * `serving` the item embeddings the actor acts in (+ ids, state layout), so a service can serve the directory.
   */
  async save(dir: string, options: Td3SaveOptions = {}): Promise<string> {
    const files = this.serialize(options);
    await replaceDirAtomic(dir, async (tmp) => {
      const manifest = { name: 'td3', createdAt: new Date().toISOString(), files: {} as Record<string, { bytes: number; sha256: string }>, meta: { package: '@rec/models-td3', format: TD3_FORMAT_VERSION } };
      for (const [name, data] of Object.entries(files)) {
        const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
        await fs.writeFile(join(tmp, name), bytes);
        manifest.files[name] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
      }
      await writeJsonAtomic(join(tmp, 'MANIFEST.json'), manifest);
    });
    return dir;
  }

  /** Restore this agent from a directory written by `save` or by the training controller's checkpoints. */
  async load(dir: string): Promise<this> {
    const { files } = await loadCheckpoint(dir);
    this.restore(files, `Td3Agent.load(${dir})`);
    return this;
  }

  /** Free every tensor this agent holds. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const [, mlp] of this.networks()) mlp.dispose();
    this.engine?.dispose();
    this.engine = null;
    this.actorOpt.dispose();
    this.criticOpt.dispose();
  }

  private assertLive(where: string): void {
    if (this.disposed) throw new InvalidArgumentError('agent was disposed', { where: `Td3Agent.${where}`, expected: 'a live agent', got: 'disposed' });
  }
}

/**
 * What a service needs beside the actor to turn its actions into item lists: the item embeddings the actor acts in
 * (cosine matching), the item id of each row, and how the actor's state is built from a user's events.
 */
export interface Td3ServingData {
  /** Item id of each embedding row (the ids requests carry). */
  itemIds: Int32Array;
  /** `[itemIds.length * actionDim]`, row-major. */
  itemEmbeddings: Float32Array;
  /**
   * How the state is built from a user's events: `{ name, ...parameters }` (JSON; the same layout descriptions as
   * @rec/models-lstm-dqn's `saveModel`, e.g. `{ name: 'replay-profile', historyLength, history, itemHistory }`).
   * Without it a service cannot rebuild the state and refuses the directory.
   */
  stateLayout?: { name: string; [parameter: string]: unknown };
  /** Category of each item, aligned with `itemIds` (layouts with category features need it). */
  itemCategories?: Int32Array;
}

export interface Td3SaveOptions {
  /** Also save the replay buffer (for resuming training). */
  replay?: boolean;
  /** Also save the item embeddings, ids and state layout (for serving, see `loadTd3Serving`). */
  serving?: Td3ServingData;
}

function checkServing(sv: Td3ServingData, dim: number, where: string): Td3ServingData {
  if (!(sv?.itemIds instanceof Int32Array) || sv.itemIds.length === 0) {
    throw new InvalidArgumentError('serving data needs item ids', { where: `${where}.itemIds`, expected: 'a non-empty Int32Array of item ids', got: sv?.itemIds });
  }
  const n = sv.itemIds.length;
  if (!(sv.itemEmbeddings instanceof Float32Array) || sv.itemEmbeddings.length !== n * dim) {
    throw new ShapeError('item embeddings do not fit the ids and the action size', { where: `${where}.itemEmbeddings`, expected: `a Float32Array of ${n} items x actionDim ${dim} = ${n * dim}`, got: sv.itemEmbeddings?.length ?? sv.itemEmbeddings });
  }
  for (let i = 0; i < sv.itemEmbeddings.length; i++) {
    if (!Number.isFinite(sv.itemEmbeddings[i])) throw new InvalidArgumentError('item embedding is not finite', { where: `${where}.itemEmbeddings[${i}]`, expected: 'finite numbers', got: sv.itemEmbeddings[i] });
  }
  if (sv.itemCategories !== undefined && (!(sv.itemCategories instanceof Int32Array) || sv.itemCategories.length !== n)) {
    throw new InvalidArgumentError('item categories do not fit the ids', { where: `${where}.itemCategories`, expected: `an Int32Array of ${n} (aligned with itemIds)`, got: sv.itemCategories?.length ?? sv.itemCategories });
  }
  const L = sv.stateLayout;
  if (L !== undefined) {
    const ok = typeof L === 'object' && L !== null && typeof L.name === 'string' && L.name.length > 0;
    let json = '';
    try {
      json = JSON.stringify(L);
    } catch {
      // reported below
    }
    if (!ok || !json || JSON.stringify(JSON.parse(json)) !== json) {
      throw new InvalidArgumentError('state layout is not a named JSON object', { where: `${where}.stateLayout`, expected: "{ name: string, ...parameters } of plain JSON values, e.g. { name: 'replay-profile', historyLength: 10, history: 'purchased', itemHistory: false }", got: L });
    }
  }
  return sv;
}

/**
 * The serving data saved with a TD3 directory (`save(dir, { serving })`), checksum-verified; null when the
 * directory has none (saves without `serving`, and every save from before the option existed).
 */
export async function loadTd3Serving(dir: string): Promise<Td3ServingData | null> {
  const { files } = await loadCheckpoint(dir);
  if (!files['serving.bin'] && !files['serving.json']) return null;
  const where = `loadTd3Serving(${dir})`;
  if (!files['serving.bin'] || !files['serving.json']) {
    throw new ModelFormatError('serving data is incomplete', { where, expected: 'serving.bin and serving.json', got: Object.keys(files) });
  }
  const meta = JSON.parse(new TextDecoder().decode(files['serving.json'])) as { dim: number; stateLayout: Td3ServingData['stateLayout'] | null };
  const a = unpackArrays(files['serving.bin']);
  const sv: Td3ServingData = { itemIds: a.itemIds as Int32Array, itemEmbeddings: a.itemEmbeddings as Float32Array };
  if (a.itemCategories) sv.itemCategories = a.itemCategories as Int32Array;
  if (meta.stateLayout) sv.stateLayout = meta.stateLayout;
  try {
    return checkServing(sv, meta.dim, where);
  } catch (e) {
    throw new ModelFormatError('serving data does not check out', { where: join(dir, 'serving.bin'), expected: 'what Td3Agent.save(dir, { serving }) wrote', got: (e as Error).message });
  }
}

/** Create a TD3 agent (config keys not given take `TD3_DEFAULTS`). */
export function createTd3(config: Partial<Td3Config> = {}): Td3Agent {
  return new Td3Agent(config);
}

/** Build an agent from a saved directory: its config, weights, optimizer state, counters and (if saved) replay. */
export async function loadTd3(dir: string, overrides: Partial<Td3Config> = {}): Promise<Td3Agent> {
  const { files } = await loadCheckpoint(dir);
  if (!files['config.json']) throw new ModelFormatError('not a TD3 save', { where: dir, expected: 'config.json', got: Object.keys(files) });
  const saved = JSON.parse(new TextDecoder().decode(files['config.json'])) as { package?: string; config: Td3Config };
  if (saved.package !== '@rec/models-td3') throw new ModelFormatError('not a TD3 save', { where: join(dir, 'config.json'), expected: 'package "@rec/models-td3"', got: saved.package });
  const agent = new Td3Agent({ ...saved.config, ...overrides });
  try {
    agent.restore(files, `loadTd3(${dir})`);
  } catch (e) {
    agent.dispose();
    throw e;
  }
  return agent;
}
