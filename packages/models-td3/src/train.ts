/**
 * The training controller: the TD3 design's schedule. For each episode the environment is re-seeded (from the
 * agent's seed and the episode number, so episodes are reproducible and resumable) and reset (beliefs back to their
 * initial values); then `rounds` rounds, each one step for every user of the environment's batch (actor inference
 * in chunks of `inferenceBatch`), transitions into the replay buffer, uniform random actions until `warmup`
 * transitions exist, and `updatesPerTrain` TD3 updates after every `trainEvery` rounds once warm. Per-episode
 * statistics are printed and appended as JSON lines; a checkpoint (agent + replay) is written after each episode.
 * With the belief simulator (`UserBeliefEnv` of @rec/env) an episode covers its whole population, round-major in
 * batches of 4,000 users (`runBeliefEpisode`), exactly the design's episodes x rounds x users.
 */
import { hashString, latestCheckpoint, loadCheckpoint, RunLogger, saveCheckpoint } from '@rec/core';
import { runBeliefEpisode, type RecEnv, type StepResult, type UserBeliefEnv } from '@rec/env';
import type { Td3Agent, Td3Config } from './td3.js';

export interface LearnOptions {
  /** Override `config.episodes`: train until this many episodes are done in total. */
  episodes?: number;
  /** Override `config.rounds`. */
  rounds?: number;
  /** Append per-episode statistics as JSON lines here. */
  metricsPath?: string;
  /** Print per-episode lines through this logger (default: a quiet-less RunLogger on stderr). */
  logger?: RunLogger;
  /** Silence the per-episode lines. */
  quiet?: boolean;
  /** Write a checkpoint (agent, optimizer, replay, counters, RNG) here after every episode. */
  checkpointDir?: string;
  /** Resume from the newest checkpoint in `checkpointDir`, if any. Default true when checkpointDir is set. */
  resume?: boolean;
  /** Checkpoints kept (default 2). */
  keepCheckpoints?: number;
  /** Called after each episode with its statistics. */
  onEpisode?: (stats: EpisodeStats) => void | Promise<void>;
  /** Belief simulator only: folder where it writes `current_user_beliefs.json` after each episode. */
  beliefsDir?: string;
  /** Called after each episode (e.g. to let a custom environment write its own files). */
  afterEpisode?: (episode: number, env: RecEnv) => void | Promise<void>;
}

export interface EpisodeStats {
  episode: number;
  /** Mean reward per user per round. */
  averageReward: number;
  /** Sum of rewards over all users and rounds. */
  totalReward: number;
  /** Mean reward of the last round minus that of the first. */
  rewardTrend: number;
  /** Mean reward of each round. */
  roundRewards: number[];
  /** Share of recommended items accepted (environments reporting `info.accepted`), else null. */
  acceptanceRate: number | null;
  /** Users whose beliefs improved over the episode (environments reporting `info.improved` per user), else null. */
  improvedUsers: number | null;
  improvedShare: number | null;
  /** Belief simulator only: mean L1 distance to the optimal beliefs at the episode's end (lower is better). */
  finalDistance: number | null;
  secondsPerRound: number;
  /** Mean losses of the updates in this episode (null when none ran). */
  criticLoss: number | null;
  actorLoss: number | null;
  updates: number;
  transitions: number;
}

/** Seed for the environment in `episode`: a pure function, so a resumed run sees the same users and noise. */
export function episodeSeed(seed: number, episode: number): number {
  return hashString(`td3:${seed}:${episode}`);
}

type BaseStats = Omit<EpisodeStats, 'criticLoss' | 'actorLoss' | 'updates' | 'transitions'>;

/** Accumulates one episode's statistics from step results. */
class EpisodeMeter {
  roundRewards: number[] = [];
  total = 0;
  accepted = 0;
  acceptedCount = 0;
  improved: Uint8Array | null = null;
  /** Per-user sum of `info.improvement` (distance to the optimal beliefs removed per round), when reported. */
  improvementSum: Float64Array | null = null;
  record(res: StepResult): void {
    let s = 0;
    for (let i = 0; i < res.reward.length; i++) s += res.reward[i];
    this.total += s;
    this.roundRewards.push(s / res.reward.length);
    const acc = res.info.accepted;
    if (acc) {
      for (let i = 0; i < acc.length; i++) this.accepted += acc[i] > 0 ? 1 : 0;
      this.acceptedCount += acc.length;
    }
    const imp = res.info.improved;
    if (imp) this.improved = Uint8Array.from(imp as ArrayLike<number>, (x: number) => (x > 0 ? 1 : 0));
    const gain = res.info.improvement;
    if (gain && !imp && gain.length === res.reward.length) {
      if (!this.improvementSum || this.improvementSum.length !== gain.length) this.improvementSum = new Float64Array(gain.length);
      for (let i = 0; i < gain.length; i++) this.improvementSum[i] += gain[i];
      this.improved = Uint8Array.from(this.improvementSum, (x) => (x > 1e-9 ? 1 : 0));
    }
  }
  stats(episode: number, seconds: number): BaseStats {
    const r = this.roundRewards;
    const improvedUsers = this.improved ? this.improved.reduce((a, b) => a + b, 0) : null;
    return {
      episode,
      averageReward: r.length ? r.reduce((a, b) => a + b, 0) / r.length : 0,
      totalReward: this.total,
      rewardTrend: r.length ? r[r.length - 1] - r[0] : 0,
      roundRewards: r,
      acceptanceRate: this.acceptedCount ? this.accepted / this.acceptedCount : null,
      improvedUsers,
      improvedShare: this.improved && improvedUsers !== null ? improvedUsers / this.improved.length : null,
      finalDistance: null,
      secondsPerRound: r.length ? seconds / r.length : 0,
    };
  }
}

/**
 * Run one episode of `policy` without training: the evaluation used to compare TD3 with baselines (random
 * actions, the pre-trained list). The environment is seeded with `seed` when it supports `seed`.
 */
export function evaluatePolicy(env: RecEnv, policy: (obs: Float32Array) => Float32Array | Int32Array, rounds: number, seed?: number): EpisodeStats {
  if (seed !== undefined) env.seed?.(seed);
  const t0 = performance.now();
  let obs = env.reset();
  const meter = new EpisodeMeter();
  for (let r = 0; r < rounds; r++) {
    const res = env.step(policy(obs));
    meter.record(res);
    obs = res.done.some((d: number) => d > 0) ? env.reset() : res.obs;
  }
  return { ...meter.stats(0, (performance.now() - t0) / 1000), criticLoss: null, actorLoss: null, updates: 0, transitions: 0 };
}

/** The belief simulator's population view (duck-typed, so a second copy of @rec/env still counts). */
function isPopulationEnv(env: RecEnv): env is UserBeliefEnv {
  const sim = (env as Partial<UserBeliefEnv>).sim as Partial<UserBeliefEnv['sim']> | undefined;
  return !!sim && typeof sim.stepUsers === 'function' && typeof sim.observe === 'function' && typeof sim.numUsers === 'number';
}

interface LossTotals {
  critic: number;
  actor: number;
  actorCount: number;
}

/** `updatesPerTrain` TD3 updates, adding their losses to `totals`. */
function trainPhase(agent: Td3Agent, totals: LossTotals): void {
  for (let u = 0; u < agent.config.updatesPerTrain; u++) {
    const { criticLoss, actorLoss } = agent.update();
    totals.critic += criticLoss;
    if (actorLoss !== null) {
      totals.actor += actorLoss;
      totals.actorCount++;
    }
  }
}

/** The behaviour policy while learning: uniform random until `warmup` transitions exist, then actor + noise. */
function behaviour(agent: Td3Agent, obs: Float32Array): Float32Array {
  if (agent.transitions < agent.config.warmup) return agent.randomActions(obs.length / agent.config.stateDim);
  return agent.act(obs, { explore: true });
}

/** One episode in a plain RecEnv: `rounds` steps of its batch of users. */
function batchEpisode(agent: Td3Agent, env: RecEnv, episode: number, rounds: number, totals: LossTotals): BaseStats {
  const c = agent.config;
  const t0 = performance.now();
  let obs = env.reset();
  const meter = new EpisodeMeter();
  for (let r = 0; r < rounds; r++) {
    const action = behaviour(agent, obs);
    const res = env.step(action);
    meter.record(res);
    agent.remember({ obs, action, reward: res.reward, nextObs: res.obs, done: res.done });
    if (agent.transitions >= c.warmup && (r + 1) % c.trainEvery === 0) trainPhase(agent, totals);
    obs = res.done.some((d: number) => d > 0) && r < rounds - 1 ? env.reset() : res.obs;
  }
  return meter.stats(episode, (performance.now() - t0) / 1000);
}

/**
 * One episode over the belief simulator's whole population, round-major in batches of its `populationBatch`
 * (`runBeliefEpisode` of @rec/env); training after the last batch of every `trainEvery`-th round. The simulator's
 * `roundsPerEpisode` sets the rounds; it writes `current_user_beliefs.json` into `beliefsDir` when given.
 */
async function populationEpisode(agent: Td3Agent, env: UserBeliefEnv, episode: number, beliefsDir: string | undefined, totals: LossTotals): Promise<BaseStats> {
  const c = agent.config;
  const last = env.sim.numUsers - 1;
  const m = await runBeliefEpisode(env, { name: 'td3', act: (obs: Float32Array) => behaviour(agent, obs) }, {
    episode,
    outDir: beliefsDir,
    onBatch: ({ round, users, obs, actions, result }) => {
      agent.remember({ obs, action: actions, reward: result.reward, nextObs: result.obs, done: result.done });
      if (users[users.length - 1] === last && agent.transitions >= c.warmup && (round + 1) % c.trainEvery === 0) trainPhase(agent, totals);
    },
  });
  return {
    episode,
    averageReward: m.averageReward,
    totalReward: m.totalReward,
    rewardTrend: m.rewardTrend,
    roundRewards: Array.from(m.roundReward),
    acceptanceRate: m.acceptanceRate,
    improvedUsers: m.usersImproved,
    improvedShare: m.usersImprovedPct / 100,
    finalDistance: m.finalDistance,
    secondsPerRound: m.secondsPerRound,
  };
}

/**
 * Greedy evaluation (no exploration, no training) over one episode: the whole population for the belief simulator,
 * else one batch of `rounds` steps. Used by `Td3Agent.evaluate`; baselines go through `evaluatePolicy`.
 */
export async function evaluateAgent(agent: Td3Agent, env: RecEnv, options: { rounds?: number; seed?: number } = {}): Promise<EpisodeStats> {
  agent.checkEnv(env);
  return evaluateAny(env, (obs) => agent.act(obs), options.rounds ?? agent.config.rounds, options.seed);
}

/** `evaluatePolicy` for any environment, including the belief simulator's population (async there). */
export async function evaluateAny(env: RecEnv, policy: (obs: Float32Array) => Float32Array | Int32Array, rounds: number, seed?: number): Promise<EpisodeStats> {
  if (!isPopulationEnv(env)) return evaluatePolicy(env, policy, rounds, seed);
  if (seed !== undefined) env.seed(seed);
  const m = await runBeliefEpisode(env, { name: 'eval', act: (obs: Float32Array) => policy(obs) as Float32Array });
  return {
    episode: 0,
    averageReward: m.averageReward,
    totalReward: m.totalReward,
    rewardTrend: m.rewardTrend,
    roundRewards: Array.from(m.roundReward),
    acceptanceRate: m.acceptanceRate,
    improvedUsers: m.usersImproved,
    improvedShare: m.usersImprovedPct / 100,
    finalDistance: m.finalDistance,
    secondsPerRound: m.secondsPerRound,
    criticLoss: null,
    actorLoss: null,
    updates: 0,
    transitions: 0,
  };
}

/** Train `agent` in `env` on the design's schedule; returns the statistics of the episodes run by this call. */
export async function learnTd3(agent: Td3Agent, env: RecEnv, options: LearnOptions = {}): Promise<EpisodeStats[]> {
  agent.checkEnv(env);
  const c: Td3Config = agent.config;
  const episodes = options.episodes ?? c.episodes;
  const rounds = options.rounds ?? c.rounds;
  const ownLogger = !options.logger;
  const logger = options.logger ?? new RunLogger({ metricsPath: options.metricsPath, quiet: options.quiet });
  if (options.checkpointDir && (options.resume ?? true)) {
    const dir = await latestCheckpoint(options.checkpointDir);
    if (dir) {
      const { files } = await loadCheckpoint(dir);
      agent.restore(files, `learnTd3 resume (${dir})`);
      logger.info(`td3: resumed from ${dir} after episode ${agent.episodesDone}`);
    }
  }
  const out: EpisodeStats[] = [];
  try {
    for (let ep = agent.episodesDone; ep < episodes; ep++) {
      env.seed?.(episodeSeed(c.seed, ep));
      const updatesBefore = agent.updates;
      const totals: LossTotals = { critic: 0, actor: 0, actorCount: 0 };
      const base = isPopulationEnv(env)
        ? await populationEpisode(agent, env, ep, options.beliefsDir, totals)
        : batchEpisode(agent, env, ep, rounds, totals);
      agent.episodesDone = ep + 1;
      const updates = agent.updates - updatesBefore;
      const stats: EpisodeStats = {
        ...base,
        criticLoss: updates ? totals.critic / updates : null,
        actorLoss: totals.actorCount ? totals.actor / totals.actorCount : null,
        updates,
        transitions: agent.transitions,
      };
      out.push(stats);
      const fmt = (x: number | null, d = 4) => (x === null ? '-' : x.toFixed(d));
      logger.info(
        `td3 episode ${ep + 1}/${episodes}: avg reward ${fmt(stats.averageReward)} | total ${fmt(stats.totalReward, 1)} | trend ${fmt(stats.rewardTrend)} | ` +
          `acceptance ${fmt(stats.acceptanceRate, 3)} | improved ${stats.improvedUsers ?? '-'} (${stats.improvedShare === null ? '-' : (100 * stats.improvedShare).toFixed(1)}%) | ` +
          `${stats.secondsPerRound.toFixed(2)} s/round | updates ${updates} | critic ${fmt(stats.criticLoss)} | actor ${fmt(stats.actorLoss)}`,
      );
      const { roundRewards: _r, ...flat } = stats;
      logger.metrics(agent.updates, { ...flat, 'charts/episodic_return': stats.averageReward, 'losses/qf_loss': stats.criticLoss, 'losses/actor_loss': stats.actorLoss });
      await options.afterEpisode?.(ep, env);
      if (options.checkpointDir) {
        await saveCheckpoint(options.checkpointDir, `episode-${String(ep + 1).padStart(4, '0')}`, agent.serialize({ replay: true }), { episode: ep + 1 }, options.keepCheckpoints ?? 2);
      }
      await options.onEpisode?.(stats);
    }
  } finally {
    if (ownLogger) await logger.close();
  }
  return out;
}
