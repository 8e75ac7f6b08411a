/**
 * What a caller asks of the quantizer and what it answers: modes, options with their defaults,
 * and the per-weight report. Validation lives here so the CLI and library callers get the same
 * coded errors.
 */
import { CleaveError } from '../../errors.js';

/**
 * How weights become int8.
 * - 'qdq-weight': int8 weights behind DequantizeLinear; compute stays fp32. Load with
 *   `weightOnlyQdq` so onnxruntime folds the dequantization once (FACTS.md: 10x slower without).
 * - 'dynamic-int8': MatMul and Gemm run as integer matrix products on activations quantized at
 *   run time (DynamicQuantizeLinear + MatMulInteger); Conv and Gather fall back to 'qdq-weight'.
 */
export type QuantizeMode = 'qdq-weight' | 'dynamic-int8';

/** Every mode, in the order `--help` lists them. */
export const QUANTIZE_MODES: readonly QuantizeMode[] = ['qdq-weight', 'dynamic-int8'];

export interface QuantizeOptions {
  mode: QuantizeMode;
  /** One scale per output channel (per row for embedding tables) instead of one per tensor. Default true. */
  perChannel?: boolean;
  /** Weights with fewer elements stay fp32: their scales would cost more than they save. Default 1024. */
  minElements?: number;
  /**
   * Nodes to leave alone (e.g. a sensitive final classifier), by name, or by first output for
   * unnamed nodes: as the report labels them. Default none.
   */
  exclude?: readonly string[];
}

/** Default of `QuantizeOptions.minElements`, in elements. */
export const DEFAULT_MIN_ELEMENTS = 1024;

/** How a quantized weight is consumed in the output model. */
export type QuantizedKernel = 'DequantizeLinear' | 'MatMulInteger';

export interface QuantizedWeight {
  /** Name of the consuming node (its output name when the node has no name). */
  node: string;
  op: string;
  /** Name of the fp32 initializer that was replaced. */
  weight: string;
  elements: number;
  /** DequantizeLinear (fp32 compute) or MatMulInteger (integer compute). */
  kernel: QuantizedKernel;
}

export interface SkippedWeight {
  node: string;
  op: string;
  /** Why the node keeps fp32 weights, naming the value and limit involved. */
  reason: string;
}

export interface QuantizeReport {
  mode: QuantizeMode;
  quantized: QuantizedWeight[];
  skipped: SkippedWeight[];
}

/** Options with every default filled in. */
export interface ResolvedQuantizeOptions {
  readonly mode: QuantizeMode;
  readonly perChannel: boolean;
  readonly minElements: number;
  readonly exclude: ReadonlySet<string>;
}

export function isQuantizeMode(s: string): s is QuantizeMode {
  return (QUANTIZE_MODES as readonly string[]).includes(s);
}

/** Fills defaults and rejects bad values with CLEAVE_E_BAD_ARGUMENT. */
export function resolveQuantizeOptions(opts: QuantizeOptions): ResolvedQuantizeOptions {
  const mode: unknown = opts.mode;
  if (typeof mode !== 'string' || !isQuantizeMode(mode)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `quantize mode "${String(mode)}" is not known; expected one of ${QUANTIZE_MODES.join(', ')}`, { mode: String(mode), allowed: [...QUANTIZE_MODES] });
  }
  const minElements = opts.minElements ?? DEFAULT_MIN_ELEMENTS;
  if (!Number.isInteger(minElements) || minElements < 0) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `minElements ${minElements} is not a non-negative integer`, { minElements });
  }
  return { mode, perChannel: opts.perChannel ?? true, minElements, exclude: new Set(opts.exclude ?? []) };
}
