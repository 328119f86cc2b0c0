/** Child process for the interrupt test: trains until killed; SIGTERM must leave a resumable checkpoint. */
import { initBackend } from '@rec/core';
import { LstmDqn } from '@rec/models-lstm-dqn';
import { PlantedNextItemEnv } from './planted-env.testutil.js';

const dir = process.argv[2];
await initBackend('cpu');
const env = new PlantedNextItemEnv({ numItems: 12, seqLen: 3, featureDim: 6, batchSize: 8, episodeLength: 5, seed: 3 });
const agent = new LstmDqn({ numActions: 12, network: { seqLen: 3, featureDim: 6, hidden: 8, layers: 1, mlp: [16] }, seed: 1, learningStarts: 16, batchSize: 16 });
let announced = false;
await agent.learn({
  env,
  episodes: 1_000_000,
  checkpointDir: dir,
  logEvery: 8,
  evaluate: () => {
    if (!announced) process.stdout.write('training\n');
    announced = true;
    return { avgReward: 0 };
  },
  evalEvery: 8,
});
