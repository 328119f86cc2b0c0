// @rec/eval: Ranking and business metrics, baselines, off-policy estimates, A/B statistics and plots.
export const PACKAGE_NAME = '@rec/eval';
