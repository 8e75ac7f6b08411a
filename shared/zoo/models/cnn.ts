/**
 * The image classifiers' body: blocks of 3x3 conv (pad 1) + ReLU, each block closed by a 2x2
 * max pool, then global average pooling and flatten to [N, channels].
 *
 * Activation sizes per sample (float32), the split planner's choices: the input is 49 KB; the
 * first conv of cnn-small makes 262 KB (a cut there costs more than sending the image), each
 * 2x2 pool divides by 4 (64 KB after block 1, then 32 KB and 16 KB: cheaper than the input).
 */
import type { GraphBuilder, Value } from '../../onnx/builder.js';
import type { CnnArch } from '../catalogue.js';
import { heNormal, smallBias } from '../init.js';
import { IMAGE_SIZE } from '../preprocess/image.js';
import type { ZooRng } from '../prng.js';

/** Builds input `image` [N, 3, 64, 64] through the pooled features [N, last block's channels]. */
export function cnnBody(b: GraphBuilder, arch: CnnArch, rng: ZooRng): Value {
  let x = b.input('image', 'float32', ['N', 3, IMAGE_SIZE, IMAGE_SIZE]);
  let cin = 3;
  arch.blocks.forEach((cout, i) => {
    const p = `block${i + 1}`;
    for (let j = 1; j <= arch.convsPerBlock; j++) {
      const fanIn = cin * 9;
      const w = b.weight(`${p}.conv${j}.weight`, 'float32', [cout, cin, 3, 3], heNormal(rng, cout * fanIn, fanIn));
      const bias = b.weight(`${p}.conv${j}.bias`, 'float32', [cout], smallBias(rng, cout));
      const c = b.op('Conv', [x, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: `${p}.conv${j}` });
      x = b.op('Relu', [c], {}, { name: `${p}.relu${j}` });
      cin = cout;
    }
    x = b.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] }, { name: `${p}.pool` });
  });
  const gap = b.op('GlobalAveragePool', [x], {}, { name: 'head.gap' });
  return b.op('Flatten', [gap], { axis: 1 }, { name: 'head.flatten' });
}
