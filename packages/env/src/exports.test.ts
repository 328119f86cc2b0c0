/** The package as users import it: the built entry points and the `@rec/env/testing` subpath (run the build first). */
import { describe, expect, it } from 'vitest';

describe('package entry points', () => {
  it('exposes MockEnv from @rec/env/testing and the library from @rec/env', async () => {
    // Specifiers in variables: typecheck must not depend on dist/ existing (the build may run after it).
    const [testingEntry, mainEntry] = ['@rec/env/testing', '@rec/env'];
    const testing = await import(testingEntry);
    const lib = await import(mainEntry);
    const env = new testing.MockEnv({ batchSize: 2 });
    expect(lib.checkEnv(env).steps).toBe(3);
    expect(typeof lib.LoggedReplayEnv).toBe('function');
    expect(typeof lib.BehaviorSimEnv).toBe('function');
    expect(typeof lib.UserBeliefEnv).toBe('function');
    expect('MockEnv' in lib).toBe(false); // the mock stays out of the main entry
  });
});
