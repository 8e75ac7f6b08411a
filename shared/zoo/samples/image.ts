/**
 * Synthetic photos for the CNN models: a two-colour gradient background with one to four
 * coloured discs, rectangles or striped patches and some sensor noise, at a random size around
 * 64 px (so the resize path is exercised too). Well under a millisecond per image.
 */
import type { RgbImage } from '../preprocess/image.js';
import type { ZooRng } from '../prng.js';

const SIDES = [48, 64, 64, 80, 96] as const;

/** One random RGB image. */
export function randomImage(rng: ZooRng): RgbImage {
  const w = rng.pick(SIDES);
  const h = rng.pick(SIDES);
  const c0 = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
  const c1 = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
  const angle = rng.uniform(0, Math.PI * 2);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const buf = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + ((x / w - 0.5) * dx + (y / h - 0.5) * dy)));
      const p = (y * w + x) * 3;
      buf[p] = c0[0]! * (1 - t) + c1[0]! * t;
      buf[p + 1] = c0[1]! * (1 - t) + c1[1]! * t;
      buf[p + 2] = c0[2]! * (1 - t) + c1[2]! * t;
    }
  }
  const shapes = rng.int(1, 5);
  for (let s = 0; s < shapes; s++) {
    const col = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
    const kind = rng.int(0, 3);
    const cx = rng.uniform(0, w);
    const cy = rng.uniform(0, h);
    const r = rng.uniform(0.08, 0.35) * Math.min(w, h);
    const hw = kind === 0 ? r : (rng.uniform(0.1, 0.5) * w) / 2;
    const hh = kind === 0 ? r : (rng.uniform(0.1, 0.5) * h) / 2;
    const period = rng.uniform(4, 16);
    // Only the shape's bounding box is visited.
    const x0 = Math.max(0, Math.floor(cx - hw));
    const x1 = Math.min(w, Math.ceil(cx + hw));
    const y0 = Math.max(0, Math.floor(cy - hh));
    const y1 = Math.min(h, Math.ceil(cy + hh));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const inside = kind === 0 ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : kind === 1 || Math.floor((y + x * dx) / period) % 2 === 0;
        if (!inside) continue;
        const p = (y * w + x) * 3;
        buf[p] = col[0]!;
        buf[p + 1] = col[1]!;
        buf[p + 2] = col[2]!;
      }
    }
  }
  // Triangular noise (difference of two uniforms, unit variance): close enough to sensor noise
  // and a tenth of the cost of a Gaussian per channel.
  const noise = rng.uniform(0, 12) * Math.sqrt(6);
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < buf.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(buf[i]! + (rng.next() - rng.next()) * noise)));
  return { width: w, height: h, channels: 3, data };
}
