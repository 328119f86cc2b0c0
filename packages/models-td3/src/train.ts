/**
 * The training controller: the TD3 design's schedule. For each episode the environment is re-seeded (from the
 * agent's seed and the episode number, so episodes are reproducible and resumable) and reset (beliefs back to their
 * initial values); then `rounds` rounds, each one step for every user of the environment's batch (actor inference
 * in chunks of `inferenceBatch`), transitions into the replay buffer, uniform random actions until `warmup`
 * transitions exist, and `updatesPerTrain` TD3 updates after every `trainEvery` rounds once warm. Per-episode
 * statistics are printed and appended as JSON lines; a checkpoint (agent + replay) is written after each episode.
 */
import { hashString, latestCheckpoint, loadCheckpoint, RunLogger, saveCheckpoint } from '@rec/core';
import type { RecEnv, StepResult } from '@rec/env';
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
  /**
   * Called after each episode so the environment can write its own files (e.g. the belief simulator's
   * `current_user_beliefs.json`); also used when the environment has a `writeBeliefs(episode)` method.
   */
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
  secondsPerRound: number;
  /** Mean losses of the updates in this episode (null when none ran). */
  criticLoss: number | null;
  actorLoss: number | null;
  updates: number;
  transitions: number;
}

/** Environments may offer this to write their per-episode files (the belief simulator's beliefs snapshot). */
interface WritesBeliefs {
  writeBeliefs?(episode: number): void | Promise<void>;
}

/** Seed for the environment in `episode`: a pure function, so a resumed run sees the same users and noise. */
export function episodeSeed(seed: number, episode: number): number {
  return hashString(`td3:${seed}:${episode}`);
}

/** Accumulates one episode's statistics from step results. */
class EpisodeMeter {
  roundRewards: number[] = [];
  total = 0;
  accepted = 0;
  acceptedCount = 0;
  improved: Uint8Array | null = null;
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
  }
  stats(episode: number, seconds: number): Omit<EpisodeStats, 'criticLoss' | 'actorLoss' | 'updates' | 'transitions'> {
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
      const t0 = performance.now();
      let obs = env.reset();
      const meter = new EpisodeMeter();
      const updatesBefore = agent.updates;
      let criticSum = 0;
      let actorSum = 0;
      let actorCount = 0;
      for (let r = 0; r < rounds; r++) {
        const batch = obs.length / c.stateDim;
        const warm = agent.transitions >= c.warmup;
        const action = warm ? agent.act(obs, { explore: true }) : agent.randomActions(batch);
        const res = env.step(action);
        meter.record(res);
        agent.remember({ obs, action, reward: res.reward, nextObs: res.obs, done: res.done });
        if (agent.transitions >= c.warmup && (r + 1) % c.trainEvery === 0) {
          for (let u = 0; u < c.updatesPerTrain; u++) {
            const { criticLoss, actorLoss } = agent.update();
            criticSum += criticLoss;
            if (actorLoss !== null) {
              actorSum += actorLoss;
              actorCount++;
            }
          }
        }
        obs = res.done.some((d: number) => d > 0) && r < rounds - 1 ? env.reset() : res.obs;
      }
      agent.episodesDone = ep + 1;
      const updates = agent.updates - updatesBefore;
      const stats: EpisodeStats = {
        ...meter.stats(ep, (performance.now() - t0) / 1000),
        criticLoss: updates ? criticSum / updates : null,
        actorLoss: actorCount ? actorSum / actorCount : null,
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
      await (env as RecEnv & WritesBeliefs).writeBeliefs?.(ep);
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
