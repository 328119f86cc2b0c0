/**
 * A tiny WebAssembly binary encoder: just the opcodes our SIMD kernels need (@rec/env's cosine matcher,
 * @rec/models-lstm-dqn's inference engine), so packages build their kernels at run time from TypeScript and ship
 * no .wasm file and need no toolchain. Opcode numbers are from the WebAssembly core spec (MVP, SIMD simd128,
 * threads for the shared memory import).
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number, out: number[] = []): number[] {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit). */
export function sleb(n: number, out: number[] = []): number[] {
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const SIMD_OPS = {
  'v128.load': 0x00,
  'v128.load32_splat': 0x09,
  'v128.store': 0x0b,
  'i32x4.splat': 0x11,
  'v128.or': 0x50,
  'v128.any_true': 0x53,
  'i32x4.bitmask': 0xa4,
  'i32x4.ge_s': 0x3f,
  'i32x4.add': 0xae,
  'i32x4.dot_i16x8_s': 0xba,
  'f32x4.splat': 0x13,
  'f32x4.add': 0xe4,
  'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6,
  'f32x4.max': 0xe9,
  'f32x4.pmax': 0xeb,
  'f32x4.div': 0xe7,
  'f32x4.min': 0xe8,
  'f32x4.sqrt': 0xe3,
  'f32x4.nearest': 0x6a,
  'i32x4.shl': 0xab,
  'i32x4.trunc_sat_f32x4_s': 0xf8,
} as const;
type SimdOp = keyof typeof SIMD_OPS;

const OPS = {
  unreachable: 0x00,
  else: 0x05,
  end: 0x0b,
  return: 0x0f,
  drop: 0x1a,
  select: 0x1b,
  'i32.eqz': 0x45,
  'i32.eq': 0x46,
  'i32.ne': 0x47,
  'i32.lt_s': 0x48,
  'i32.lt_u': 0x49,
  'i32.gt_s': 0x4a,
  'i32.le_s': 0x4c,
  'i32.ge_s': 0x4e,
  'i32.ge_u': 0x4f,
  'i32.ctz': 0x68,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.mul': 0x6c,
  'i32.and': 0x71,
  'i32.or': 0x72,
  'i32.shl': 0x74,
  'i32.shr_u': 0x76,
  'f32.sqrt': 0x91,
  'f32.add': 0x92,
  'f32.sub': 0x93,
  'f32.mul': 0x94,
  'f32.div': 0x95,
} as const;
type Op = keyof typeof OPS;

/** Body of one function: append instructions with the methods, then `Module.addFunction`. */
export class FuncBuilder {
  readonly code: number[] = [];
  /** Declared locals after the parameters, in order. */
  readonly localTypes: number[] = [];

  constructor(readonly params: number[], readonly results: number[]) {}

  /** A new local of `type`; returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }
  op(name: Op): this {
    this.code.push(OPS[name]);
    return this;
  }
  simd(name: SimdOp): this {
    this.code.push(0xfd);
    uleb(SIMD_OPS[name], this.code);
    return this;
  }
  /** `i8x16.shuffle` of the two vectors on the stack; `floatLanes` picks 4 f32 lanes (0-3: first, 4-7: second). */
  shuffleF32(floatLanes: [number, number, number, number]): this {
    this.code.push(0xfd);
    uleb(0x0d, this.code);
    for (const l of floatLanes) for (let b = 0; b < 4; b++) this.code.push(4 * l + b);
    return this;
  }
  /** A SIMD memory access with a static byte offset (alignment hint = the access width). */
  simdMem(name: 'v128.load' | 'v128.store' | 'v128.load32_splat', offset: number): this {
    this.simd(name);
    uleb(name === 'v128.load32_splat' ? 2 : 4, this.code);
    uleb(offset, this.code);
    return this;
  }
  /** A 4-byte scalar memory access: opcode, alignment hint 2 (4 bytes), static byte offset. */
  private mem4(opcode: number, offset: number): this {
    this.code.push(opcode, 2);
    uleb(offset, this.code);
    return this;
  }
  /** `i32.load` / `i32.store` with a static byte offset. */
  load(offset = 0): this {
    return this.mem4(0x28, offset);
  }
  store(offset = 0): this {
    return this.mem4(0x36, offset);
  }
  /** `f32.load` / `f32.store` with a static byte offset. */
  loadF32(offset = 0): this {
    return this.mem4(0x2a, offset);
  }
  storeF32(offset = 0): this {
    return this.mem4(0x38, offset);
  }
  const(n: number): this {
    this.code.push(0x41);
    sleb(n, this.code);
    return this;
  }
  /** `f32.const x` (then `f32x4.splat` for a vector of it). */
  f32const(x: number): this {
    this.code.push(0x43);
    const b = new Uint8Array(new Float32Array([x]).buffer);
    for (const v of b) this.code.push(v);
    return this;
  }
  get(i: number): this {
    this.code.push(0x20);
    uleb(i, this.code);
    return this;
  }
  set(i: number): this {
    this.code.push(0x21);
    uleb(i, this.code);
    return this;
  }
  tee(i: number): this {
    this.code.push(0x22);
    uleb(i, this.code);
    return this;
  }
  call(f: number): this {
    this.code.push(0x10);
    uleb(f, this.code);
    return this;
  }
  /** Structured control with an empty block type. */
  block(): this {
    this.code.push(0x02, 0x40);
    return this;
  }
  loop(): this {
    this.code.push(0x03, 0x40);
    return this;
  }
  if(): this {
    this.code.push(0x04, 0x40);
    return this;
  }
  end(): this {
    return this.op('end');
  }
  /** A while loop, `block; loop; <exit> br_if 1; <body> br 0; end; end`: runs `body` until `exit` pushes true. */
  whileNot(exit: () => void, body: () => void): this {
    this.block().loop();
    exit();
    this.brIf(1);
    body();
    return this.br(0).end().end();
  }
  br(depth: number): this {
    this.code.push(0x0c);
    uleb(depth, this.code);
    return this;
  }
  brIf(depth: number): this {
    this.code.push(0x0d);
    uleb(depth, this.code);
    return this;
  }
}

function section(id: number, payload: number[], out: number[]): void {
  out.push(id);
  uleb(payload.length, out);
  for (const b of payload) out.push(b);
}

function vec(items: number[][]): number[] {
  const out = uleb(items.length);
  for (const it of items) for (const b of it) out.push(b);
  return out;
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

/** A module that imports one memory (`e.m`) and exports its functions by name. */
export class ModuleBuilder {
  private readonly funcs: { name?: string; f: FuncBuilder }[] = [];

  /**
   * @param memory pages (64 KiB) of the imported memory; `shared` needs `maximum` (threads proposal). Without a
   * `maximum`, any unshared memory of at least `initial` pages can be imported (one that grows, like Emscripten's).
   */
  constructor(private readonly memory: { initial: number; maximum?: number; shared: boolean }) {
    if (memory.shared && memory.maximum === undefined) throw new Error('ModuleBuilder: a shared memory import needs a maximum');
  }

  /** Adds a function; returns its index (for `call`). Exported under `exportName` if given. */
  addFunction(f: FuncBuilder, exportName?: string): number {
    this.funcs.push({ name: exportName, f });
    return this.funcs.length - 1;
  }

  encode(): Uint8Array<ArrayBuffer> {
    const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    section(1, vec(this.funcs.map(({ f }) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))])), out);
    const m = this.memory;
    const limits = m.maximum === undefined ? [0x00, ...uleb(m.initial)] : [m.shared ? 0x03 : 0x01, ...uleb(m.initial), ...uleb(m.maximum)];
    section(2, vec([[...name('e'), ...name('m'), 0x02, ...limits]]), out);
    section(3, vec(this.funcs.map((_, i) => uleb(i))), out);
    section(7, vec(this.funcs.flatMap(({ name: n }, i) => (n ? [[...name(n), 0x00, ...uleb(i)]] : []))), out);
    const bodies = this.funcs.map(({ f }) => {
      // Locals run-length encoded by type.
      const groups: number[][] = [];
      for (let i = 0; i < f.localTypes.length; ) {
        let j = i;
        while (j < f.localTypes.length && f.localTypes[j] === f.localTypes[i]) j++;
        groups.push([...uleb(j - i), f.localTypes[i]]);
        i = j;
      }
      const body = [...vec(groups), ...f.code, OPS.end];
      return [...uleb(body.length), ...body];
    });
    section(10, vec(bodies), out);
    return new Uint8Array(out);
  }
}
