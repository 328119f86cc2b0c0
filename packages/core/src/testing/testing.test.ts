import { afterEach, describe, expect, it, vi } from 'vitest';
import { backendsToTest, closeness, expectClose, isBackendRequired } from './index.js';

afterEach(() => vi.unstubAllEnvs());

describe('closeness', () => {
  it('applies |a - e| <= atol + rtol * |e| element-wise', () => {
    // Element 1: |10.5 - 10| = 0.5 <= 0.1 + 0.05 * 10 = 0.6 passes; element 2: |0.2 - 0| = 0.2 > 0.1 fails.
    expect(closeness([1, 10.5], [1, 10], { atol: 0.1, rtol: 0.05 }).ok).toBe(true);
    const c = closeness([1, 10.5, 0.2], [1, 10, 0], { atol: 0.1, rtol: 0.05 });
    expect(c).toMatchObject({ ok: false, worstIndex: 2, actual: 0.2, expected: 0 });
    expect(c.maxAbsDiff).toBeCloseTo(0.5, 12);
  });

  it('treats NaN as equal only to NaN, and different lengths as a mismatch', () => {
    expect(closeness([NaN, 1], [NaN, 1], { atol: 0, rtol: 0 }).ok).toBe(true);
    expect(closeness([NaN], [1], { atol: 1, rtol: 1 }).ok).toBe(false);
    expect(closeness([1, 2], [1], { atol: 1, rtol: 1 }).ok).toBe(false);
  });

  it('expectClose names the worst element', () => {
    expect(() => expectClose([0, 3], [0, 1], { atol: 0.5, rtol: 0 }, 'q')).toThrow(/q: element 1 is 3, expected 1/);
  });
});

describe('backend selection for tests', () => {
  it('reads REC_TEST_BACKENDS and rejects unknown names', () => {
    vi.stubEnv('REC_TEST_BACKENDS', 'webgpu, cpu');
    expect(backendsToTest()).toEqual(['webgpu', 'cpu']);
    vi.stubEnv('REC_TEST_BACKENDS', 'cpu,tensorflow');
    expect(backendsToTest()).toEqual(['cpu', 'tensorflow']);
    vi.stubEnv('REC_TEST_BACKENDS', '');
    expect(backendsToTest()).toEqual(['cpu', 'wasm', 'webgpu']);
    vi.stubEnv('REC_TEST_BACKENDS', 'webgl');
    expect(() => backendsToTest()).toThrow(/unknown backend 'webgl'/);
  });

  it('requires cpu and wasm always, webgpu only when asked (CI with a driver, or REC_REQUIRE_WEBGPU=1)', () => {
    vi.stubEnv('CI', '');
    vi.stubEnv('REC_REQUIRE_WEBGPU', '');
    expect(isBackendRequired('cpu')).toBe(true);
    expect(isBackendRequired('wasm')).toBe(true);
    expect(isBackendRequired('webgpu')).toBe(false);
    vi.stubEnv('REC_REQUIRE_WEBGPU', '1');
    expect(isBackendRequired('webgpu')).toBe(true);
  });
});
