/**
 * The audio encoders' body: a fixed global normalisation of the log-mel input, 1-D convolutions
 * (Conv with 1-D kernels, one of stride 2: 100 frames -> 50) with ReLU, and optionally one GRU
 * over time; ends at per-frame features [N, 50, F], layer-normalised per frame as speech encoders
 * do before their token projection (it also bounds the logits of loud frames).
 */
import type { GraphBuilder, Value } from '../../onnx/builder.js';
import type { AudioArch } from '../catalogue.js';
import { heNormal, normalWeights, smallBias } from '../init.js';
import { FRAMES, MEL_BANDS } from '../preprocess/audio.js';
import type { ZooRng } from '../prng.js';
import { layerNorm } from './layers.js';

/**
 * Global mean and standard deviation of log-mel values over the zoo's synthetic clips, rounded
 * (measured: -1.44 and 2.40 on 256 clips). Constants, not statistics measured at run time: the
 * model must compute the same thing whatever batch it is given.
 */
export const LOGMEL_MEAN = -1.5;
/** See LOGMEL_MEAN. */
export const LOGMEL_STD = 2.5;

/** Builds input `features` [N, 40, 100] through per-frame features [N, 50, channels or GRU hidden]. */
export function audioBody(b: GraphBuilder, arch: AudioArch, rng: ZooRng): Value {
  const input = b.input('features', 'float32', ['N', MEL_BANDS, FRAMES]);
  const centred = b.op('Sub', [input, b.scalar(LOGMEL_MEAN, 'norm.mean')], {}, { name: 'norm.sub' });
  let x = b.op('Mul', [centred, b.scalar(1 / LOGMEL_STD, 'norm.inv_std')], {}, { name: 'norm.scale' });
  let cin = MEL_BANDS;
  arch.convs.forEach((c, i) => {
    const p = `conv${i + 1}`;
    const fanIn = cin * c.kernel;
    const w = b.weight(`${p}.weight`, 'float32', [c.channels, cin, c.kernel], heNormal(rng, c.channels * fanIn, fanIn));
    const bias = b.weight(`${p}.bias`, 'float32', [c.channels], smallBias(rng, c.channels));
    const pad = (c.kernel - 1) / 2;
    const conv = b.op('Conv', [x, w, bias], { kernel_shape: [c.kernel], pads: [pad, pad], strides: [c.stride] }, { name: p });
    x = b.op('Relu', [conv], {}, { name: `${p}.relu` });
    cin = c.channels;
  });
  if (arch.gruHidden === 0) {
    const frames = b.op('Transpose', [x], { perm: [0, 2, 1] }, { name: 'frames.transpose' });
    return layerNorm(b, frames, cin, 'frames.ln');
  }

  // GRU wants [T, N, C] (layout 0, the layout every runtime implements); back to [N, T, H] after.
  const h = arch.gruHidden;
  const seq = b.op('Transpose', [x], { perm: [2, 0, 1] }, { name: 'gru.to_time_major' });
  const w = b.weight('gru.W', 'float32', [1, 3 * h, cin], normalWeights(rng, 3 * h * cin, Math.sqrt(1 / cin)));
  const r = b.weight('gru.R', 'float32', [1, 3 * h, h], normalWeights(rng, 3 * h * h, Math.sqrt(1 / h)));
  const bias = b.weight('gru.B', 'float32', [1, 6 * h], smallBias(rng, 6 * h));
  const y = b.op('GRU', [seq, w, r, bias], { hidden_size: h, linear_before_reset: 1 }, { name: 'gru' });
  const squeezed = b.op('Squeeze', [y, b.int64s([1], 'gru.direction_axis')], {}, { name: 'gru.squeeze' });
  const frames = b.op('Transpose', [squeezed], { perm: [1, 0, 2] }, { name: 'gru.to_batch_major' });
  return layerNorm(b, frames, h, 'frames.ln');
}
