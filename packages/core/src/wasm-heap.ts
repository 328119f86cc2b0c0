/**
 * Our own SIMD kernels as tfjs kernels on the wasm backend, run directly on tfjs's wasm heap: the module imports
 * tfjs's WebAssembly.Memory (shared in the threaded build, growable otherwise), so tensors are read and written in
 * place, with no copy in or out. Used where tfjs-backend-wasm 4.22 is slow: reductions over the batch
 * (`columnSum`) and 2-D transposes (`transpose2d`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModuleBuilder, type FuncBuilder } from './wasm-asm.js';

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use (not in tfjs-core's public types). */
export interface WasmHeapBackend {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** Byte offset of a tensor's data in tfjs's wasm heap. */
export function heapOffset(backend: WasmHeapBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

let simdSupport: boolean | undefined;

/** `register` (tfjs kernels and gradients) run once, the first time the returned function is called. */
export function registerOnce(register: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    register();
  };
}

/**
 * A lazily built module of `funcs` (export name -> builder), instantiated once per tfjs heap. `get(backend)` gives
 * its exports, or null where this runtime lacks wasm SIMD or the heap cannot be imported (callers then fall back);
 * `active()` the same for the active tfjs backend, null unless it is wasm.
 */
export function heapModule<T>(funcs: () => Record<string, FuncBuilder>): { get(backend: WasmHeapBackend): T | null; active(): T | null } {
  const instances = new WeakMap<WebAssembly.Memory, T | null>();
  const encode = (shared: boolean) => {
    const mod = new ModuleBuilder(shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1, shared: false });
    for (const [name, f] of Object.entries(funcs())) mod.addFunction(f, name);
    return mod.encode();
  };
  return {
    active() {
      return tf.getBackend() === 'wasm' ? this.get(tf.backend() as unknown as WasmHeapBackend) : null;
    },
    get(backend) {
      const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
      if (!(memory instanceof WebAssembly.Memory)) return null;
      let k = instances.get(memory);
      if (k !== undefined) return k;
      k = null;
      try {
        const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
        const bytes = encode(shared);
        simdSupport ??= WebAssembly.validate(bytes);
        if (simdSupport) k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { m: memory } }).exports as T;
      } catch {
        k = null;
      }
      instances.set(memory, k);
      return k;
    },
  };
}
