/**
 * A/B experiments: deterministic assignment, rollout changes, exposure/interaction aggregates, and the analysis
 * (statistics delegated to an `AbStats` implementation, @rec/eval's in production).
 *
 * Assignment: bucket = hash(experimentKey + NUL + userId) mod 10,000 (FNV-1a then the murmur3 finalizer, so
 * similar ids spread evenly). A user is in treatment iff bucket < rolloutPct * 100. Raising the rollout
 * (5 -> 25 -> 50 -> 100 %) only adds buckets, so a user already in treatment stays there; the users who move are
 * control users joining treatment. The analysis counts each user in the variant of their first exposure
 * (intention to treat) and reports how many later switched.
 *
 * Sample-ratio check under changing rollouts: a user first exposed while the rollout was r lands in treatment with
 * probability r/100 (buckets are uniform and independent of arrival time), so the expected treatment count is
 * sum over users of r(first exposure)/100; the observed split is tested against that share.
 */
import { InvalidArgumentError } from '@rec/core';

export const NUM_BUCKETS = 10_000;

/** Bucket in [0, 10000) for a user in an experiment; stable across processes and versions. */
export function bucketOf(userId: string, experimentKey: string): number {
  const s = experimentKey + '\u0000' + userId;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // murmur3 fmix32: FNV alone leaves low bits correlated for ids that differ in the last character
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % NUM_BUCKETS;
}

export type Variant = 'control' | 'treatment';

export interface ExperimentConfig {
  id: string;
  /** Hash salt; defaults to the id. Changing it reshuffles everyone (a new experiment). */
  key?: string;
  /** Model slot serving control. */
  control: string;
  /** Model slot serving treatment. */
  treatment: string;
  /** Share of users in treatment, percent in [0, 100], resolution 0.01. */
  rolloutPct: number;
  /** Only a running experiment assigns users; at most one runs at a time. */
  status: 'running' | 'stopped';
}

export function assignVariant(exp: ExperimentConfig, userId: string): { variant: Variant; bucket: number } {
  const bucket = bucketOf(userId, exp.key ?? exp.id);
  return { variant: bucket < Math.round(exp.rolloutPct * 100) ? 'treatment' : 'control', bucket };
}

export function checkExperimentConfig(c: ExperimentConfig, where: string): void {
  const bad = (expected: string, got: unknown) => {
    throw new InvalidArgumentError('invalid experiment', { where, expected, got });
  };
  if (typeof c.id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(c.id)) bad('id of 1-64 chars [A-Za-z0-9_.-]', c.id);
  if (typeof c.control !== 'string' || typeof c.treatment !== 'string') bad('control and treatment slot names', c);
  if (typeof c.rolloutPct !== 'number' || !(c.rolloutPct >= 0 && c.rolloutPct <= 100)) bad('rolloutPct in [0, 100]', c.rolloutPct);
  if (c.status !== 'running' && c.status !== 'stopped') bad("status 'running' or 'stopped'", c.status);
}

/** Successes out of trials for one arm. */
export interface Proportion {
  successes: number;
  trials: number;
}

/**
 * The statistics the analysis needs. @rec/eval provides them (see `eval-adapter.ts`); serve only aggregates
 * counts and never computes the tests itself.
 */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

/**
 * The statistics the analysis needs. `evalAbStats` (eval-adapter.ts) implements it with @rec/eval; serve only
 * aggregates counts and never computes the tests itself. Tests may inject another implementation.
 */
export interface AbStats {
  /** Two-proportion z-test; difference and relative lift (treatment / control - 1) with `level` intervals. */
  compare(control: Proportion, treatment: Proportion, level: number): {
    controlRate: number;
    treatmentRate: number;
    diff: Interval;
    /** null when a rate is 0 (the lift is undefined). */
    lift: Interval | null;
    z: number;
    pValue: number;
  };
  /** Sample-ratio mismatch test of observed arm sizes against expected shares. */
  sampleRatio(observed: [control: number, treatment: number], expectedShares: [number, number]): { chiSquare: number; pValue: number; mismatch: boolean; warning: string };
  /**
   * Sequential (always-valid) p-value of the difference in proportions at this look; the experiment keeps the
   * minimum over looks, which is what stays valid under continuous monitoring.
   */
  sequentialPValue(control: Proportion, treatment: Proportion): number;
  /** Where the implementation comes from (reported in the analysis). */
  source: string;
}

interface UserRecord {
  variant: Variant;
  firstExposure: number;
  switched: boolean;
  engaged: boolean;
  converted: boolean;
}

export interface ArmCounts {
  users: number;
  exposures: number;
  engagedUsers: number;
  convertedUsers: number;
}

/** One experiment's config history and running aggregates. */
export class Experiment {
  config: ExperimentConfig;
  readonly history: { ts: number; config: ExperimentConfig }[] = [];
  private users = new Map<string, UserRecord>();
  private exposures = { control: 0, treatment: 0 };
  private expectedTreatment = 0;
  switchedUsers = 0;
  /** Running minimum of the sequential p-value over looks, per metric. */
  private seqMin = { engagedUsers: 1, convertedUsers: 1 };

  constructor(config: ExperimentConfig, ts: number) {
    this.config = { ...config };
    this.history.push({ ts, config: { ...config } });
  }

  update(config: ExperimentConfig, ts: number): void {
    this.config = { ...config };
    this.history.push({ ts, config: { ...config } });
  }

  assign(userId: string): { variant: Variant; bucket: number } {
    return assignVariant(this.config, userId);
  }

  /** Count an exposure (a served list). `rolloutPct` is the rollout in force when it was served. */
  recordExposure(userId: string, variant: Variant, ts: number, rolloutPct: number): void {
    this.exposures[variant]++;
    const u = this.users.get(userId);
    if (!u) {
      this.users.set(userId, { variant, firstExposure: ts, switched: false, engaged: false, converted: false });
      this.expectedTreatment += rolloutPct / 100;
    } else if (u.variant !== variant && !u.switched) {
      u.switched = true;
      this.switchedUsers++;
    }
  }

  /** Count an interaction of an exposed user (others are outside the experiment). */
  recordInteraction(userId: string, type: string, conversionType: string): void {
    const u = this.users.get(userId);
    if (!u) return;
    u.engaged = true;
    if (type === conversionType) u.converted = true;
  }

  counts(): { control: ArmCounts; treatment: ArmCounts; expectedTreatmentUsers: number; switchedUsers: number } {
    const arm = (): ArmCounts => ({ users: 0, exposures: 0, engagedUsers: 0, convertedUsers: 0 });
    const c = { control: arm(), treatment: arm() };
    for (const u of this.users.values()) {
      const a = c[u.variant];
      a.users++;
      if (u.engaged) a.engagedUsers++;
      if (u.converted) a.convertedUsers++;
    }
    c.control.exposures = this.exposures.control;
    c.treatment.exposures = this.exposures.treatment;
    return { ...c, expectedTreatmentUsers: this.expectedTreatment, switchedUsers: this.switchedUsers };
  }

  /** Counts plus statistics (when `stats` is given). */
  analyze(stats: AbStats | null, opts: { level?: number; conversionType: string }) {
    const counts = this.counts();
    const level = opts.level ?? 0.95;
    const base = {
      id: this.config.id,
      config: this.config,
      history: this.history,
      conversionType: opts.conversionType,
      counts,
    };
    if (!stats) {
      return { ...base, statistics: null, statisticsUnavailable: 'no A/B statistics implementation is configured (@rec/eval not loaded)' };
    }
    const n = counts.control.users + counts.treatment.users;
    const metric = (key: 'engagedUsers' | 'convertedUsers') => {
      const c = { successes: counts.control[key], trials: counts.control.users };
      const t = { successes: counts.treatment[key], trials: counts.treatment.users };
      if (c.trials === 0 || t.trials === 0) return { control: c, treatment: t, result: null, reason: 'an arm has no users yet' };
      this.seqMin[key] = Math.min(this.seqMin[key], stats.sequentialPValue(c, t));
      return { control: c, treatment: t, result: stats.compare(c, t, level), sequentialPValue: this.seqMin[key] };
    };
    const shareT = n === 0 ? 0 : counts.expectedTreatmentUsers / n;
    const srm =
      n === 0 || shareT <= 0 || shareT >= 1
        ? null
        : { expectedTreatmentShare: shareT, ...stats.sampleRatio([counts.control.users, counts.treatment.users], [1 - shareT, shareT]) };
    return {
      ...base,
      statistics: {
        source: stats.source,
        level,
        engagement: metric('engagedUsers'),
        conversion: metric('convertedUsers'),
        sampleRatio: srm,
      },
    };
  }
}
