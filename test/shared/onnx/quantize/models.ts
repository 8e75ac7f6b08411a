/**
 * Small fp32 models for the quantizer tests, built with GraphBuilder from seeded weights.
 * He-initialised layers keep activations near unit scale; the last layer is scaled up so that
 * the classes are decisive (mean top-1 softmax probability > 0.7), as a trained classifier's
 * are. Random nets with flat logits would make top-1 agreement measure noise, not quantization.
 */
import { GraphBuilder, type Value } from '../../../../shared/onnx/builder.js';
import type { ModelProto } from '../../../../shared/onnx/types.js';
import { createRng, type Rng } from '../../../../shared/rng.js';

function normal(rng: Rng, n: number, std: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

/** MatMul + Add + Relu stack, e.g. [256, 512, 512, 10]; input "x" [N, sizes[0]], output "logits". */
export function mlp(sizes: readonly number[], seed = 1, logitScale = 4): ModelProto {
  const rng = createRng(seed);
  const b = new GraphBuilder('mlp');
  let h: Value = b.input('x', 'float32', ['N', sizes[0]!]);
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [k, n] = [sizes[i]!, sizes[i + 1]!];
    const last = i + 2 === sizes.length;
    const w = b.weight(`fc${i}.weight`, 'float32', [k, n], normal(rng, k * n, Math.sqrt(2 / k) * (last ? logitScale : 1)));
    h = b.op('MatMul', [h, w], {}, { name: `fc${i}` });
    h = b.op('Add', [h, b.weight(`fc${i}.bias`, 'float32', [n], normal(rng, n, 0.05))], {}, { name: `fc${i}_bias` });
    if (!last) h = b.op('Relu', [h]);
  }
  b.output(h, 'logits');
  return b.build({ metadata: { 'cleave.test': 'mlp' }, docString: 'test MLP' });
}

/**
 * Conv net on [N,3,16,16]: conv0 3->16 (432 weights, under minElements), conv1 16->32 s2,
 * conv2 32->64 s2, Flatten, Gemm 1024->10 with transB. Output "logits" [N,10].
 */
export function cnn(seed = 2, logitScale = 4): ModelProto {
  const rng = createRng(seed);
  const b = new GraphBuilder('cnn');
  let h: Value = b.input('image', 'float32', ['N', 3, 16, 16]);
  const convs: [number, number, number][] = [[3, 16, 1], [16, 32, 2], [32, 64, 2]];
  convs.forEach(([ci, co, stride], i) => {
    const w = b.weight(`conv${i}.weight`, 'float32', [co, ci, 3, 3], normal(rng, co * ci * 9, Math.sqrt(2 / (ci * 9))));
    const bias = b.weight(`conv${i}.bias`, 'float32', [co], normal(rng, co, 0.05));
    h = b.op('Relu', [b.op('Conv', [h, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] }, { name: `conv${i}` })]);
  });
  h = b.op('Flatten', [h]);
  const fc = b.weight('fc.weight', 'float32', [10, 1024], normal(rng, 10 * 1024, Math.sqrt(2 / 1024) * logitScale));
  h = b.op('Gemm', [h, fc, b.weight('fc.bias', 'float32', [10], normal(rng, 10, 0.05))], { transB: 1 }, { name: 'fc' });
  b.output(h, 'logits');
  return b.build({ metadata: { 'cleave.test': 'cnn' } });
}

/** Token classifier: ids [N,T] int64 -> Gather(table [vocab,64]) -> ReduceMean over T -> MatMul 64->10. */
export function embeddingBag(vocab = 500, seed = 3): ModelProto {
  const rng = createRng(seed);
  const b = new GraphBuilder('bag');
  const ids = b.input('ids', 'int64', ['N', 'T']);
  const table = b.weight('embed.weight', 'float32', [vocab, 64], normal(rng, vocab * 64, 1));
  const e = b.op('Gather', [table, ids], {}, { name: 'embed' });
  const pooled = b.op('ReduceMean', [e], { axes: [1], keepdims: 0 });
  const head = b.weight('head.weight', 'float32', [64, 32], normal(rng, 64 * 32, 4 / Math.sqrt(64)));
  b.output(b.op('MatMul', [pooled, head], {}, { name: 'head' }), 'logits');
  return b.build();
}
