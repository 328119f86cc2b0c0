import { describe, expect, it } from 'vitest';
import { Rng, hashString } from './rng.js';

describe('Rng', () => {
  it('is deterministic by seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xa);
  });

  it('restores its state exactly', () => {
    const a = new Rng(123);
    a.next();
    const s = a.getState();
    const v = [a.next(), a.normal(), a.int(1000)];
    const b = Rng.fromState(s);
    expect([b.next(), b.normal(), b.int(1000)]).toEqual(v);
  });

  it('has the moments of a uniform and a standard normal', () => {
    const r = new Rng(1);
    const n = 200_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    for (let i = 0; i < n; i++) {
      su += r.next();
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    // Standard errors: uniform mean 0.29/sqrt(n) = 6.5e-4, normal mean 2.2e-3: 5 SE bounds.
    expect(Math.abs(su / n - 0.5)).toBeLessThan(0.0033);
    expect(Math.abs(sn / n)).toBeLessThan(0.011);
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(0.02);
  });

  it('int is unbiased over a non-power-of-two range', () => {
    const r = new Rng(3);
    const counts = new Array(3).fill(0);
    for (let i = 0; i < 30_000; i++) counts[r.int(3)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
  });

  it('split streams are independent of later parent use', () => {
    const p1 = new Rng(5);
    const child1 = p1.split('env');
    const p2 = new Rng(5);
    const child2 = p2.split('env');
    p2.next();
    expect(child1.next()).toBe(child2.next());
    expect(new Rng(5).split('env').next()).not.toBe(new Rng(5).split('agent').next());
  });

  it('samples without replacement', () => {
    const r = new Rng(9);
    for (const [n, k] of [[10, 10], [1000, 5], [50, 20]]) {
      const s = r.sampleWithoutReplacement(n, k);
      expect(new Set(s).size).toBe(k);
      for (const x of s) expect(x >= 0 && x < n).toBe(true);
    }
    expect(() => r.sampleWithoutReplacement(3, 4)).toThrow(/sampleWithoutReplacement/);
  });

  it('hashString is FNV-1a', () => {
    // FNV-1a of "" is the offset basis; of "a" is 0xe40c292c (reference value).
    expect(hashString('')).toBe(0x811c9dc5);
    expect(hashString('a')).toBe(0xe40c292c);
  });
});
