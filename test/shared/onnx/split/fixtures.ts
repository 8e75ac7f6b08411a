/**
 * Small models with the shapes split computing has to handle: a CNN chain, a transformer encoder
 * (residuals, LayerNormalization, attention with an attention mask derived from token ids), a
 * residual block, an auxiliary output that branches off early, and a skip from a graph input.
 * Weights are seeded, scaled so activations stay near 1 (differences then mean something).
 */
import { GraphBuilder, type Value } from '../../../../shared/onnx/builder.js';
import { float } from '../../../../shared/onnx/attributes.js';
import type { ModelProto } from '../../../../shared/onnx/types.js';
import { createRng, type Rng } from '../../../../shared/rng.js';
import { hostTensor, type HostTensor } from '../../../../shared/tensor.js';

function normal(rng: Rng, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** A weight with N(0, 1/fanIn) entries (2/fanIn with `relu`). */
function w(b: GraphBuilder, rng: Rng, name: string, dims: number[], fanIn: number, relu = false): Value {
  return b.weight(name, 'float32', dims, normal(rng, dims.reduce((p, d) => p * d, 1), Math.sqrt((relu ? 2 : 1) / fanIn)));
}

function bias(b: GraphBuilder, rng: Rng, name: string, n: number): Value {
  return b.weight(name, 'float32', [n], normal(rng, n, 0.1));
}

/** (a) [N,3,64,64] -> (Conv 3x3 -> Relu -> MaxPool 2) x3 -> GlobalAveragePool -> Flatten -> Gemm -> logits [N,10]. */
export function cnnModel(): ModelProto {
  const rng = createRng(11);
  const b = new GraphBuilder('cnn');
  let x = b.input('image', 'float32', ['N', 3, 64, 64]);
  let cin = 3;
  [16, 32, 64].forEach((cout, k) => {
    const wt = w(b, rng, `conv${k}.w`, [cout, cin, 3, 3], cin * 9, true);
    x = b.op('Conv', [x, wt, bias(b, rng, `conv${k}.b`, cout)], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, { name: `conv${k}`, outputs: [`conv${k}_out`] });
    x = b.op('Relu', [x], {}, { name: `relu${k}`, outputs: [`relu${k}_out`] });
    x = b.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] }, { name: `pool${k}`, outputs: [`pool${k}_out`] });
    cin = cout;
  });
  x = b.op('GlobalAveragePool', [x], {}, { name: 'gap', outputs: ['gap_out'] });
  x = b.op('Flatten', [x], {}, { name: 'flatten', outputs: ['flat'] });
  x = b.op('Gemm', [x, w(b, rng, 'fc.w', [10, 64], 64), bias(b, rng, 'fc.b', 10)], { transB: 1 }, { name: 'fc', outputs: ['fc_out'] });
  b.output(x, 'logits');
  return b.build({ metadata: { 'cleave.name': 'split-cnn' } });
}

export const TEXT = { seq: 16, dim: 32, heads: 4, vocab: 50, ff: 64, layers: 2, classes: 5 } as const;

/**
 * (b) A 2-layer pre-norm transformer encoder over int64 token ids [N,16]: token and position
 * embeddings, an additive attention mask from `input_ids == 0` read by every layer, attention
 * through Reshape [0,L,H,dh] / Transpose / MatMul / Softmax, residual adds, mean pooling.
 */
export function textModel(): ModelProto {
  const { seq: L, dim: D, heads: H, vocab: V, ff: F, layers, classes } = TEXT;
  const dh = D / H;
  const rng = createRng(22);
  const b = new GraphBuilder('text');
  const ids = b.input('input_ids', 'int64', ['N', L]);
  // Side computation: the tail re-derives it from input_ids rather than receiving it.
  const pad = b.op('Equal', [ids, b.weight('pad_id', 'int64', [], [0n])], {}, { name: 'pad_eq', outputs: ['pad'] });
  const padf = b.op('Cast', [pad], { to: 1 }, { name: 'pad_cast', outputs: ['pad_f'] });
  const maskAdd = b.op('Mul', [padf, b.scalar(-1e4, 'mask_neg')], {}, { name: 'mask_mul', outputs: ['mask_add'] });
  const mask = b.op('Unsqueeze', [maskAdd, b.int64s([1, 2], 'mask_axes')], {}, { name: 'mask_unsqueeze', outputs: ['mask'] });
  const emb = b.op('Gather', [w(b, rng, 'tok_emb', [V, D], 1), ids], {}, { name: 'embed', outputs: ['emb'] });
  let x = b.op('Add', [emb, w(b, rng, 'pos_emb', [L, D], 4)], {}, { name: 'add_pos', outputs: ['x0'] });
  const heads = b.int64s([0, L, H, dh], 'heads_shape');
  const merge = b.int64s([0, L, D], 'merge_shape');
  const scale = b.scalar(1 / Math.sqrt(dh), 'attn_scale');
  const ln = (v: Value, name: string): Value =>
    b.op('LayerNormalization', [v, b.weight(`${name}.g`, 'float32', [D], normal(rng, D, 0.1).map((g) => 1 + g)), bias(b, rng, `${name}.b`, D)],
      { axis: -1, epsilon: float(1e-5) }, { name, outputs: [name] });
  const linear = (v: Value, name: string, din: number, dout: number): Value =>
    b.op('Add', [b.op('MatMul', [v, w(b, rng, `${name}.w`, [din, dout], din)], {}, { name: `${name}_mm` }), bias(b, rng, `${name}.b`, dout)], {}, { name, outputs: [name] });
  for (let l = 0; l < layers; l++) {
    const p = `l${l}`;
    const h = ln(x, `${p}_ln1`);
    const split = (name: string, perm: number[]): Value =>
      b.op('Transpose', [b.op('Reshape', [linear(h, `${p}_${name}`, D, D), heads], {}, { name: `${p}_${name}_heads` })], { perm }, { name: `${p}_${name}_t` });
    const q = split('q', [0, 2, 1, 3]);
    const k = split('k', [0, 2, 3, 1]);
    const v = split('v', [0, 2, 1, 3]);
    let s = b.op('MatMul', [q, k], {}, { name: `${p}_scores` });
    s = b.op('Mul', [s, scale], {}, { name: `${p}_scaled` });
    s = b.op('Add', [s, mask], {}, { name: `${p}_masked` });
    const probs = b.op('Softmax', [s], { axis: -1 }, { name: `${p}_softmax` });
    const ctx = b.op('MatMul', [probs, v], {}, { name: `${p}_ctx` });
    const merged = b.op('Reshape', [b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }, { name: `${p}_ctx_t` }), merge], {}, { name: `${p}_merge` });
    x = b.op('Add', [x, linear(merged, `${p}_o`, D, D)], {}, { name: `${p}_res1`, outputs: [`${p}_res1`] });
    const h2 = ln(x, `${p}_ln2`);
    const up = b.op('Relu', [linear(h2, `${p}_up`, D, F)], {}, { name: `${p}_relu` });
    x = b.op('Add', [x, linear(up, `${p}_down`, F, D)], {}, { name: `${p}_res2`, outputs: [`${p}_res2`] });
  }
  const lnf = ln(x, 'lnf');
  const pooled = b.op('ReduceMean', [lnf], { axes: [1], keepdims: 0 }, { name: 'pool', outputs: ['pooled'] });
  b.output(linear(pooled, 'cls', D, classes), 'logits');
  return b.build({ metadata: { 'cleave.name': 'split-text' } });
}

/** (c) stem Conv -> Relu = s; s -> Conv -> Relu -> Conv -> Add(s, .) -> Relu; GAP -> Flatten -> Gemm. */
export function residualModel(): ModelProto {
  const rng = createRng(33);
  const b = new GraphBuilder('residual');
  const x = b.input('x', 'float32', ['N', 3, 16, 16]);
  const conv = (v: Value, name: string, cin: number, cout: number): Value =>
    b.op('Conv', [v, w(b, rng, `${name}.w`, [cout, cin, 3, 3], cin * 9, true)], { pads: [1, 1, 1, 1] }, { name, outputs: [name] });
  const stem = conv(x, 'stem', 3, 8);
  const s = b.op('Relu', [stem], {}, { name: 's', outputs: ['s'] });
  const a = b.op('Relu', [conv(s, 'blk_conv_a', 8, 8)], {}, { name: 'blk_relu_a', outputs: ['blk_relu_a'] });
  const sum = b.op('Add', [s, conv(a, 'blk_conv_b', 8, 8)], {}, { name: 'blk_add', outputs: ['blk_add'] });
  const out = b.op('Relu', [sum], {}, { name: 'blk_out', outputs: ['blk_out'] });
  const gap = b.op('GlobalAveragePool', [out], {}, { name: 'gap', outputs: ['gap'] });
  const flat = b.op('Flatten', [gap], {}, { name: 'flat', outputs: ['flat'] });
  b.output(b.op('Gemm', [flat, w(b, rng, 'fc.w', [4, 8], 8), bias(b, rng, 'fc.b', 4)], { transB: 1 }, { name: 'fc', outputs: ['fc'] }), 'y');
  return b.build();
}

/** A second output `aux` branches off after the first block: cuts after it keep `aux` in the head. */
export function auxOutputModel(): ModelProto {
  const rng = createRng(44);
  const b = new GraphBuilder('aux');
  const x = b.input('x', 'float32', ['N', 3, 16, 16]);
  const c1 = b.op('Conv', [x, w(b, rng, 'c1.w', [8, 3, 3, 3], 27, true)], { pads: [1, 1, 1, 1] }, { name: 'c1', outputs: ['c1'] });
  const r1 = b.op('Relu', [c1], {}, { name: 'r1', outputs: ['r1'] });
  const ag = b.op('GlobalAveragePool', [r1], {}, { name: 'aux_gap', outputs: ['aux_gap'] });
  b.output(b.op('Flatten', [ag], {}, { name: 'aux_flat', outputs: ['aux_flat'] }), 'aux');
  const c2 = b.op('Conv', [r1, w(b, rng, 'c2.w', [8, 8, 3, 3], 72, true)], { pads: [1, 1, 1, 1], strides: [2, 2] }, { name: 'c2', outputs: ['c2'] });
  const r2 = b.op('Relu', [c2], {}, { name: 'r2', outputs: ['r2'] });
  const gap = b.op('GlobalAveragePool', [r2], {}, { name: 'gap', outputs: ['gap'] });
  const flat = b.op('Flatten', [gap], {}, { name: 'flat', outputs: ['flat'] });
  b.output(b.op('Gemm', [flat, w(b, rng, 'fc.w', [4, 8], 8)], { transB: 1 }, { name: 'fc', outputs: ['fc'] }), 'y');
  return b.build();
}

/** y = x + W2 relu(W1 x): the skip starts at the graph input, so the tail can take x itself. */
export function inputSkipModel(): ModelProto {
  const rng = createRng(55);
  const b = new GraphBuilder('input_skip');
  const x = b.input('x', 'float32', ['N', 16]);
  const h = b.op('MatMul', [x, w(b, rng, 'w1', [16, 32], 16, true)], {}, { name: 'mm1', outputs: ['mm1'] });
  const r = b.op('Relu', [h], {}, { name: 'relu', outputs: ['relu'] });
  const o = b.op('MatMul', [r, w(b, rng, 'w2', [32, 16], 32)], {}, { name: 'mm2', outputs: ['mm2'] });
  b.output(b.op('Add', [x, o], {}, { name: 'add', outputs: ['add'] }), 'y');
  return b.build();
}

/** Float32 inputs with N(0,1) entries. */
export function floatInput(name: string, dims: number[], seed: number): Record<string, HostTensor> {
  const rng = createRng(seed);
  return { [name]: hostTensor('float32', dims, normal(rng, dims.reduce((p, d) => p * d, 1), 1)) };
}

/** Token ids in [1, vocab) with a padded (id 0) tail of a different length per row. */
export function tokenInput(batch: number, seed: number): Record<string, HostTensor> {
  const rng = createRng(seed);
  const ids = new BigInt64Array(batch * TEXT.seq);
  for (let r = 0; r < batch; r++) {
    const len = 4 + rng.int(0, TEXT.seq - 4);
    for (let t = 0; t < TEXT.seq; t++) ids[r * TEXT.seq + t] = t < len ? BigInt(rng.int(1, TEXT.vocab)) : 0n;
  }
  return { input_ids: hostTensor('int64', [batch, TEXT.seq], ids) };
}
