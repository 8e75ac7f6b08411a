/**
 * The text classifiers' body: a BERT-style encoder over 32 hashed word ids, pooled at the CLS
 * position through dense + tanh (the fitted classifier goes on top, see network.ts).
 */
import type { GraphBuilder, Value } from '../../onnx/builder.js';
import { DataType } from '../../onnx/types.js';
import type { TextArch } from '../catalogue.js';
import { heNormal, normalWeights } from '../init.js';
import { SEQUENCE_LENGTH, VOCAB_SIZE } from '../preprocess/tokenizer.js';
import type { ZooRng } from '../prng.js';
import { gelu, layerNorm, linear } from './layers.js';

/** Added to attention scores at padding keys: exp(-10000) is 0 in float32, and it stays finite. */
const MASK_VALUE = -10_000;

function encoderLayer(b: GraphBuilder, x: Value, mask: Value, arch: TextArch, rng: ZooRng, p: string): Value {
  const d = arch.dModel;
  const dh = d / arch.heads;
  const split = b.int64s([0, SEQUENCE_LENGTH, arch.heads, dh], `${p}.attn.split_shape`);
  const heads = (name: string, perm: number[]): Value => {
    const proj = linear(b, x, d, d, `${p}.attn.${name}`, rng);
    const r = b.op('Reshape', [proj, split], {}, { name: `${p}.attn.${name}.reshape` });
    return b.op('Transpose', [r], { perm }, { name: `${p}.attn.${name}.transpose` });
  };
  const q = heads('q', [0, 2, 1, 3]);
  const k = heads('k', [0, 2, 3, 1]);
  const v = heads('v', [0, 2, 1, 3]);
  const scores = b.op('MatMul', [q, k], {}, { name: `${p}.attn.scores` });
  const scaled = b.op('Mul', [scores, b.scalar(1 / Math.sqrt(dh), `${p}.attn.scale_value`)], {}, { name: `${p}.attn.scale` });
  const masked = b.op('Add', [scaled, mask], {}, { name: `${p}.attn.mask` });
  const probs = b.op('Softmax', [masked], { axis: -1 }, { name: `${p}.attn.softmax` });
  const ctx = b.op('MatMul', [probs, v], {}, { name: `${p}.attn.context` });
  const back = b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }, { name: `${p}.attn.context.transpose` });
  const merged = b.op('Reshape', [back, b.int64s([0, SEQUENCE_LENGTH, d], `${p}.attn.merge_shape`)], {}, { name: `${p}.attn.context.reshape` });
  const out = linear(b, merged, d, d, `${p}.attn.out`, rng);
  const x1 = layerNorm(b, b.op('Add', [x, out], {}, { name: `${p}.attn.residual` }), d, `${p}.attn.ln`);
  const h = gelu(b, linear(b, x1, d, arch.ffn, `${p}.mlp.fc1`, rng, heNormal(rng, d * arch.ffn, d)), `${p}.mlp.gelu`);
  const h2 = linear(b, h, arch.ffn, d, `${p}.mlp.fc2`, rng);
  return layerNorm(b, b.op('Add', [x1, h2], {}, { name: `${p}.mlp.residual` }), d, `${p}.mlp.ln`);
}

/** Builds input `input_ids` [N, 32] through the pooled sentence vector [N, dModel]. */
export function textBody(b: GraphBuilder, arch: TextArch, rng: ZooRng): Value {
  const d = arch.dModel;
  const ids = b.input('input_ids', 'int64', ['N', SEQUENCE_LENGTH]);
  const word = b.weight('embeddings.word', 'float32', [VOCAB_SIZE, d], normalWeights(rng, VOCAB_SIZE * d, 1));
  const pos = b.weight('embeddings.position', 'float32', [SEQUENCE_LENGTH, d], normalWeights(rng, SEQUENCE_LENGTH * d, 0.5));
  const emb = b.op('Gather', [word, ids], { axis: 0 }, { name: 'embeddings.lookup' });
  let x = layerNorm(b, b.op('Add', [emb, pos], {}, { name: 'embeddings.add_position' }), d, 'embeddings.ln');

  // Additive mask [N, 1, 1, 32]: 0 for real tokens, MASK_VALUE for padding, broadcast over heads and queries.
  const isPad = b.op('Equal', [ids, b.weight('mask.pad_id', 'int64', [], [0n])], {}, { name: 'mask.is_pad' });
  const padF = b.op('Cast', [isPad], { to: DataType.FLOAT }, { name: 'mask.cast' });
  const additive = b.op('Mul', [padF, b.scalar(MASK_VALUE, 'mask.value')], {}, { name: 'mask.scale' });
  const mask = b.op('Unsqueeze', [additive, b.int64s([1, 2], 'mask.axes')], {}, { name: 'mask.unsqueeze' });

  for (let l = 0; l < arch.layers; l++) x = encoderLayer(b, x, mask, arch, rng, `layer${l}`);

  const cls = b.op('Gather', [x, b.weight('pool.cls_index', 'int64', [], [0n])], { axis: 1 }, { name: 'pool.cls' });
  return b.op('Tanh', [linear(b, cls, d, d, 'pool.dense', rng)], {}, { name: 'pool.tanh' });
}
