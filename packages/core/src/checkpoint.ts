/**
 * Checkpoints shared by every agent: a directory per checkpoint holding named files and a MANIFEST.json (written
 * last, with a sha256 per file) so a half-written checkpoint is never mistaken for a good one; `latest.json` in the
 * root names the newest complete checkpoint and is replaced atomically. Typed arrays (weights, optimizer moments,
 * replay buffers, RNG state) are packed into one binary blob with `packArrays`.
 */
import { promises as fs, existsSync } from 'node:fs';
import { join } from 'node:path';
import { replaceDirAtomic, sha256, writeJsonAtomic } from './atomic.js';
import { ModelFormatError } from './errors.js';

export type PackableArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Int16Array | Uint16Array;

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
} as const;
type DType = keyof typeof CTORS;

function dtypeOf(a: PackableArray): DType {
  for (const [k, C] of Object.entries(CTORS)) if (a instanceof C) return k as DType;
  throw new ModelFormatError('unsupported array type', { where: 'packArrays', expected: Object.keys(CTORS).join(', '), got: a });
}

/** Pack named typed arrays into one buffer: 4-byte header length, JSON header, 8-byte aligned payloads. */
export function packArrays(arrays: Record<string, PackableArray>): Uint8Array {
  const entries: { name: string; dtype: DType; offset: number; length: number }[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    entries.push({ name, dtype: dtypeOf(a), offset, length: a.length });
    offset += Math.ceil(a.byteLength / 8) * 8;
  }
  const header = new TextEncoder().encode(JSON.stringify(entries));
  const headerLen = Math.ceil((4 + header.length) / 8) * 8;
  const out = new Uint8Array(headerLen + offset);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  for (const e of entries) {
    const a = arrays[e.name];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), headerLen + e.offset);
  }
  return out;
}

export function unpackArrays(buf: Uint8Array): Record<string, PackableArray> {
  if (buf.byteLength < 4) throw new ModelFormatError('truncated array pack', { where: 'unpackArrays', expected: 'at least 4 bytes', got: buf.byteLength });
  const len = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0, true);
  const entries = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + len))) as { name: string; dtype: DType; offset: number; length: number }[];
  const headerLen = Math.ceil((4 + len) / 8) * 8;
  const out: Record<string, PackableArray> = {};
  for (const e of entries) {
    const C = CTORS[e.dtype];
    const bytes = e.length * C.BYTES_PER_ELEMENT;
    const copy = new Uint8Array(bytes);
    copy.set(buf.subarray(headerLen + e.offset, headerLen + e.offset + bytes));
    out[e.name] = new C(copy.buffer);
  }
  return out;
}

export interface CheckpointManifest {
  name: string;
  createdAt: string;
  files: Record<string, { bytes: number; sha256: string }>;
  meta: Record<string, unknown>;
}

/** Write checkpoint `name` under `root` atomically and point `latest.json` at it; keep the newest `keep` (default 3, plus 'best'/'final'). */
export async function saveCheckpoint(
  root: string,
  name: string,
  files: Record<string, Uint8Array | string>,
  meta: Record<string, unknown> = {},
  keep = 3,
): Promise<string> {
  const dir = join(root, name);
  await replaceDirAtomic(dir, async (tmp) => {
    const manifest: CheckpointManifest = { name, createdAt: new Date().toISOString(), files: {}, meta };
    for (const [file, data] of Object.entries(files)) {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      const fh = await fs.open(join(tmp, file), 'w');
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      manifest.files[file] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
    }
    await writeJsonAtomic(join(tmp, 'MANIFEST.json'), manifest);
  });
  if (!['best', 'final'].includes(name)) {
    await writeJsonAtomic(join(root, 'latest.json'), { name, savedAt: new Date().toISOString() });
    await pruneCheckpoints(root, keep, name);
  }
  return dir;
}

async function pruneCheckpoints(root: string, keep: number, current: string): Promise<void> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  const dirs: { name: string; mtime: number }[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'best' || e.name === 'final' || e.name === current) continue;
    if (!existsSync(join(root, e.name, 'MANIFEST.json'))) continue;
    dirs.push({ name: e.name, mtime: (await fs.stat(join(root, e.name, 'MANIFEST.json'))).mtimeMs });
  }
  dirs.sort((a, b) => b.mtime - a.mtime || b.name.localeCompare(a.name));
  for (const d of dirs.slice(Math.max(0, keep - 1))) await fs.rm(join(root, d.name), { recursive: true, force: true });
}

/** Read and verify a checkpoint directory; throws ModelFormatError if any file is missing or corrupt. */
export async function loadCheckpoint(dir: string): Promise<{ manifest: CheckpointManifest; files: Record<string, Uint8Array> }> {
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await fs.readFile(join(dir, 'MANIFEST.json'), 'utf8'));
  } catch (e) {
    throw new ModelFormatError('checkpoint has no readable MANIFEST.json', {
      where: dir,
      expected: 'a directory written by saveCheckpoint',
      got: (e as Error).message,
      hint: 'The checkpoint is incomplete; resume from the previous one (latest.json) or start fresh.',
    });
  }
  const files: Record<string, Uint8Array> = {};
  for (const [file, info] of Object.entries(manifest.files)) {
    const data = new Uint8Array(await fs.readFile(join(dir, file)));
    if (data.byteLength !== info.bytes || sha256(data) !== info.sha256) {
      throw new ModelFormatError('checkpoint file is corrupt', { where: join(dir, file), expected: `sha256 ${info.sha256}`, got: sha256(data) });
    }
    files[file] = data;
  }
  return { manifest, files };
}

/** The directory of the newest complete checkpoint under `root`, or null when there is none. */
export async function latestCheckpoint(root: string): Promise<string | null> {
  try {
    const { name } = JSON.parse(await fs.readFile(join(root, 'latest.json'), 'utf8')) as { name: string };
    if (existsSync(join(root, name, 'MANIFEST.json'))) return join(root, name);
  } catch {
    /* fall through to a scan */
  }
  if (!existsSync(root)) return null;
  let best: { dir: string; mtime: number } | null = null;
  for (const e of await fs.readdir(root, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'best') continue;
    const m = join(root, e.name, 'MANIFEST.json');
    if (!existsSync(m)) continue;
    const mtime = (await fs.stat(m)).mtimeMs;
    if (!best || mtime > best.mtime) best = { dir: join(root, e.name), mtime };
  }
  return best?.dir ?? null;
}

/**
 * Run `onSignal` once on SIGINT/SIGTERM (e.g. write a checkpoint), then exit with 130/143.
 * Returns a function that removes the handlers.
 */
export function onInterrupt(onSignal: (signal: NodeJS.Signals) => Promise<void> | void): () => void {
  let fired = false;
  const handler = (signal: NodeJS.Signals) => {
    if (fired) return;
    fired = true;
    Promise.resolve(onSignal(signal)).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
