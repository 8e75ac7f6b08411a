/**
 * Which operators exist. The ONNX standard operator names (default domain, through opset 23)
 * let the tools tell a typo or a foreign custom op from a real op they merely have no shape
 * rule for; the first is an error (CLEAVE_E_UNSUPPORTED_OP), the second is fine.
 */
import { CleaveError } from '../errors.js';
import type { ModelProto } from './types.js';

const STANDARD_OPS = new Set(`Abs Acos Acosh Add AffineGrid And ArgMax ArgMin Asin Asinh Atan Atanh Attention
AveragePool BatchNormalization Bernoulli BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor BlackmanWindow Cast
CastLike Ceil Celu CenterCropPad Clip Col2Im Compress Concat ConcatFromSequence Constant ConstantOfShape Conv
ConvInteger ConvTranspose Cos Cosh CumSum DFT DeformConv DepthToSpace DequantizeLinear Det Div Dropout
DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements GatherND Gelu
Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization HammingWindow
HannWindow HardSigmoid HardSwish Hardmax Identity If ImageDecoder InstanceNormalization IsInf IsNaN LRN LSTM
LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool MatMul MatMulInteger Max
MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization MelWeightMatrix Min Mish Mod Mul Multinomial Neg
NegativeLogLikelihoodLoss NonMaxSuppression NonZero Not OneHot Optional OptionalGetElement OptionalHasElement Or PRelu
Pad Pow QLinearConv QLinearMatMul QuantizeLinear RMSNormalization RNN RandomNormal RandomNormalLike RandomUniform
RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
ReduceProd ReduceSum ReduceSumSquare RegexFullMatch Relu Reshape Resize ReverseSequence RoiAlign RotaryEmbedding
Round STFT Scan Scatter ScatterElements ScatterND Selu SequenceAt SequenceConstruct SequenceEmpty SequenceErase
SequenceInsert SequenceLength SequenceMap Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax
SoftmaxCrossEntropyLoss Softplus Softsign SpaceToDepth Split SplitToSequence Sqrt Squeeze StringConcat
StringNormalizer StringSplit Sub Sum Swish Tan Tanh TensorScatter TfIdfVectorizer ThresholdedRelu Tile TopK Transpose
Trilu Unique Unsqueeze Upsample Where Xor`.split(/\s+/));

/** Domains whose ops onnxruntime implements; their op names are not checked here. */
const RUNTIME_DOMAINS = new Set(['com.microsoft', 'com.microsoft.nchwc', 'ai.onnx.ml', 'ai.onnx.preview.training', 'com.ms.internal.nhwc']);

/** True when the op is an ONNX standard op or lives in a domain onnxruntime implements. */
export function isKnownOp(opType: string, domain = ''): boolean {
  if (domain === '' || domain === 'ai.onnx') return STANDARD_OPS.has(opType);
  return RUNTIME_DOMAINS.has(domain);
}

/** Ops of the model (main graph and subgraphs) that no runtime Cleave targets knows. */
export function unknownOps(m: ModelProto): { opType: string; domain: string; node: string }[] {
  const out: { opType: string; domain: string; node: string }[] = [];
  const visit = (nodes: ModelProto['graph']['node']): void => {
    for (const n of nodes) {
      if (!isKnownOp(n.opType, n.domain ?? '')) out.push({ opType: n.opType, domain: n.domain ?? '', node: n.name ?? n.output[0] ?? '' });
      for (const a of n.attribute) {
        if (a.g) visit(a.g.node);
        for (const g of a.graphs ?? []) visit(g.node);
      }
    }
  };
  visit(m.graph.node);
  return out;
}

/** Throws CLEAVE_E_UNSUPPORTED_OP naming every unknown op, for tools that must understand the graph. */
export function assertKnownOps(m: ModelProto, tool: string): void {
  const bad = unknownOps(m);
  if (bad.length === 0) return;
  const list = bad.slice(0, 5).map((b) => `${b.domain ? `${b.domain}::` : ''}${b.opType} (node "${b.node}")`).join(', ');
  throw new CleaveError('CLEAVE_E_UNSUPPORTED_OP', `${tool}: unknown operator${bad.length > 1 ? 's' : ''} ${list}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}; expected ONNX standard ops (opset <= 23) or a domain onnxruntime implements`, {
    ops: bad.map((b) => b.opType),
  });
}
