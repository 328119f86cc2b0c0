// @rec/models-td3: TD3 recommender acting in item-embedding space, on tfjs-core.
export const PACKAGE_NAME = '@rec/models-td3';
