// @rec/core: errors, seeded RNG, tfjs backend selection, gradients, run logger, atomic writes,
// replay buffers, schedules and checkpoints shared by every @rec package.
import './gradients.js';

export {
  RecError,
  InvalidArgumentError,
  ShapeError,
  DataFormatError,
  NotAvailableError,
  ModelFormatError,
  EnvContractError,
  TimeoutError,
  formatErrorMessage,
  check,
  checkPositiveInt,
  checkFinite,
  checkInRange,
} from './errors.js';
export type { RecErrorDetails } from './errors.js';
export { validateCsr } from './csr.js';
export type { ItemsCsr } from './csr.js';
export { Rng, hashString } from './rng.js';
export type { RngState } from './rng.js';
export {
  initBackend,
  describeBackend,
  parseBackendPreference,
  BACKEND_NAMES,
  DEFAULT_BACKEND_ORDER,
  TFJS_NODE_PACKAGES,
  findTfjsNodeInstall,
  patchWasmOneHot,
  patchWebgpuAddN,
  isSoftwareAdapter,
  wasmThreadCount,
  trainingWasmThreads,
} from './backend.js';
export type { BackendName, BackendInfo, BackendAttempt, InitBackendOptions, TfjsNodeInstall } from './backend.js';
export { registerFastGradients, matMulNoFlags } from './gradients.js';
export { columnSum, COLUMN_SUM_KERNEL } from './column-sum.js';
export { transpose2d, TRANSPOSE_2D_KERNEL } from './transpose.js';
export { heapModule, heapOffset, registerOnce } from './wasm-heap.js';
export type { WasmHeapBackend } from './wasm-heap.js';
export { RunLogger } from './logger.js';
export type { RunLoggerOptions, Progress } from './logger.js';
export { writeFileAtomic, writeFileAtomicSync, writeJsonAtomic, replaceDirAtomic, sha256, sha256File } from './atomic.js';
export { ReplayBuffer, linearSchedule, exponentialSchedule, stepSchedule } from './replay.js';
export type {
  FieldSpec,
  FieldSpecs,
  Batch,
  ReplaySample,
  ReplayBufferOptions,
  PrioritizedOptions,
  ReplayState,
  ReplayArray,
} from './replay.js';
export { packArrays, unpackArrays, saveCheckpoint, loadCheckpoint, latestCheckpoint, onInterrupt } from './checkpoint.js';
export type { CheckpointManifest, PackableArray } from './checkpoint.js';
export { Adam, clipByGlobalNorm, softUpdate } from './optim.js';
export type { AdamOptions, AdamForm, AdamStateKey, ClipOptions } from './optim.js';
export { FuncBuilder, ModuleBuilder, I32, F32, V128, uleb, sleb } from './wasm-asm.js';
export { GEMM_INIT_BIAS, GEMM_INIT_C, GEMM_PANEL, GEMM_RELU, buildGemm, packPanels, packedFloats, type Gemm } from './simd-gemm.js';
