/** The package as users import it: the built entry points and the `@rec/env/testing` subpath (run the build first). */
import { describe, expect, it } from 'vitest';

describe('package entry points', () => {
  it('exposes MockEnv from @rec/env/testing and the library from @rec/env', async () => {
    const testing = await import('@rec/env/testing');
    const lib = await import('@rec/env');
    const env = new testing.MockEnv({ batchSize: 2 });
    expect(lib.checkEnv(env).steps).toBe(3);
    expect(typeof lib.LoggedReplayEnv).toBe('function');
    expect(typeof lib.BehaviorSimEnv).toBe('function');
    expect(typeof lib.UserBeliefEnv).toBe('function');
    expect('MockEnv' in lib).toBe(false); // the mock stays out of the main entry
  });
});
