/**
 * A minimal PNG decoder for tests (8-bit greyscale/RGB/RGBA, non-interlaced, all five filter types), so a test can
 * check that rendered bytes really are a valid image of the expected size with non-blank content.
 */
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
}

export function decodePng(buf: Uint8Array): DecodedPng {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  for (let i = 0; i < 8; i++) if (buf[i] !== sig[i]) throw new Error('not a PNG signature');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Uint8Array[] = [];
  while (p < buf.length) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(buf[p + 4], buf[p + 5], buf[p + 6], buf[p + 7]);
    const data = buf.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(p + 8);
      height = dv.getUint32(p + 12);
      if (data[8] !== 8) throw new Error(`bit depth ${data[8]} not supported`);
      colorType = data[9];
      if (data[12] !== 0) throw new Error('interlaced PNG not supported');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!channels) throw new Error(`color type ${colorType} not supported`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`IDAT size ${raw.length} != ${height * (stride + 1)}`);
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
      let v = raw[src + x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const pp = a + b - c;
        const pa = Math.abs(pp - a);
        const pb = Math.abs(pp - b);
        const pc = Math.abs(pp - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + x] = v & 255;
    }
  }
  return { width, height, channels, pixels: out };
}

/** Variance of the luminance-ish mean of the colour channels over all pixels. */
export function pixelVariance(img: DecodedPng): number {
  const n = img.width * img.height;
  const cc = Math.min(3, img.channels);
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let c = 0; c < cc; c++) v += img.pixels[i * img.channels + c];
    v /= cc;
    s += v;
    s2 += v * v;
  }
  const m = s / n;
  return s2 / n - m * m;
}

/** Share of pixels that are not (near) white. */
export function inkShare(img: DecodedPng): number {
  const n = img.width * img.height;
  let ink = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let c = 0; c < Math.min(3, img.channels); c++) v += img.pixels[i * img.channels + c];
    if (v / Math.min(3, img.channels) < 240) ink++;
  }
  return ink / n;
}
