/**
 * Image preprocessing for the CNN models: any-size RGB or RGBA bytes (HWC, the layout of
 * canvas ImageData and most decoders) -> bilinear resize -> float32 CHW normalised per channel.
 */
import { CleaveError } from '../../errors.js';
import { hostTensor, type HostTensor } from '../../tensor.js';

/** Raw pixels, row-major, channels interleaved (HWC). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** 3 for RGB, 4 for RGBA (alpha is ignored: the models were made for opaque images). */
  readonly channels: 3 | 4;
  /** width * height * channels bytes. */
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** Side of the square the CNN models take, in pixels. */
export const IMAGE_SIZE = 64;
/** Per-channel mean of pixel/255 (the ImageNet statistics most vision models use). */
export const IMAGE_MEAN = [0.485, 0.456, 0.406] as const;
/** Per-channel standard deviation of pixel/255. */
export const IMAGE_STD = [0.229, 0.224, 0.225] as const;

/** Image pipeline settings; the defaults are the CNN models' contract. */
export interface ImagePreprocessOptions {
  /** Output side in pixels. Default IMAGE_SIZE (64). */
  size?: number;
  /** 'bilinear' (default; smoother for downscaling photos) or 'nearest'. */
  resize?: 'bilinear' | 'nearest';
}

function check(img: RgbImage): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `image is ${img.width}x${img.height}, expected positive integer sides`);
  }
  const want = img.width * img.height * img.channels;
  if (img.data.length !== want) {
    throw new CleaveError('CLEAVE_E_SHAPE', `image data has ${img.data.length} bytes, ${img.width}x${img.height}x${img.channels} needs ${want}`, { bytes: img.data.length, expected: want });
  }
}

/** Source sample positions for one output axis: two neighbours and the weight of the second. */
interface AxisMap {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly frac: Float64Array;
}

function axisMap(src: number, dst: number, mode: 'bilinear' | 'nearest'): AxisMap {
  const lo = new Int32Array(dst);
  const hi = new Int32Array(dst);
  const frac = new Float64Array(dst);
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    if (mode === 'nearest') {
      lo[i] = hi[i] = Math.min(Math.floor((i + 0.5) * scale), src - 1);
      continue;
    }
    // Half-pixel centres, clamped at the borders (the convention of most image libraries).
    const f = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), src - 1);
    lo[i] = Math.floor(f);
    hi[i] = Math.min(lo[i]! + 1, src - 1);
    frac[i] = f - lo[i]!;
  }
  return { lo, hi, frac };
}

/** Writes one image, resized and normalised, into `out` at `offset` as 3 planes of size x size. */
export function imageToChw(img: RgbImage, out: Float32Array, offset: number, opts: ImagePreprocessOptions = {}): void {
  check(img);
  const size = opts.size ?? IMAGE_SIZE;
  const mode = opts.resize ?? 'bilinear';
  const plane = size * size;
  const { width: w, channels: ch, data } = img;
  const xs = axisMap(w, size, mode);
  const ys = axisMap(img.height, size, mode);
  for (let c = 0; c < 3; c++) {
    // (v / 255 - mean) / std as one multiply-add.
    const mul = 1 / (255 * IMAGE_STD[c as 0 | 1 | 2]);
    const add = -IMAGE_MEAN[c as 0 | 1 | 2] / IMAGE_STD[c as 0 | 1 | 2];
    for (let y = 0; y < size; y++) {
      const r0 = ys.lo[y]! * w;
      const r1 = ys.hi[y]! * w;
      const ay = ys.frac[y]!;
      const o = offset + c * plane + y * size;
      for (let x = 0; x < size; x++) {
        const x0 = xs.lo[x]!;
        const x1 = xs.hi[x]!;
        const ax = xs.frac[x]!;
        const top = data[(r0 + x0) * ch + c]! * (1 - ax) + data[(r0 + x1) * ch + c]! * ax;
        const bottom = data[(r1 + x0) * ch + c]! * (1 - ax) + data[(r1 + x1) * ch + c]! * ax;
        out[o + x] = (top * (1 - ay) + bottom * ay) * mul + add;
      }
    }
  }
}

/** A batch of images as the float32 [N, 3, size, size] tensor `image`. */
export function preprocessImages(images: readonly RgbImage[], opts: ImagePreprocessOptions = {}): HostTensor {
  const size = opts.size ?? IMAGE_SIZE;
  const per = 3 * size * size;
  const data = new Float32Array(images.length * per);
  images.forEach((img, i) => imageToChw(img, data, i * per, opts));
  return hostTensor('float32', [images.length, 3, size, size], data);
}
