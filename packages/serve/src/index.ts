// @rec/serve: Recommendation HTTP service: cache, time-outs with fallback, A/B testing, metrics.
export const PACKAGE_NAME = '@rec/serve';
