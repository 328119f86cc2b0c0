// @rec/models-lstm-dqn: LSTM-DQN recommender (Fan & Lin, IPEC 2022) and its stronger variant, on tfjs-core.
export const PACKAGE_NAME = '@rec/models-lstm-dqn';
