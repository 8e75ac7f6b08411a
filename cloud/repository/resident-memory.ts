/**
 * How much memory a loaded model is taken to hold, for the repository's memory budget.
 *
 * An estimate, on purpose: onnxruntime has no per-session memory API (neither the C API nor the
 * JS bindings report what one InferenceSession holds), and process RSS or GPU memory moves with
 * the allocator arenas every session shares, so measuring one load by difference is neither
 * reliable nor attributable. The weights dominate for the models served here, so the estimate is
 * the file size (weights as loaded) times a factor for the arena, fused copies and kernels.
 */
import type { ModelProto } from '../../shared/onnx/types.js';
import { DataType } from '../../shared/onnx/types.js';
import { elementCount } from '../../shared/onnx/tensor-data.js';

/**
 * Resident bytes per file byte. Default 1.5: the weights once, plus half again for the
 * activation arena at moderate batch sizes and the copies graph optimization makes when it
 * fuses or pre-packs weights. Raise it for models with large activations (big images, long
 * sequences) or large batches.
 */
export const DEFAULT_MEMORY_FACTOR = 1.5;

/**
 * Estimated resident bytes of one model: (file bytes + growth) × factor, rounded up. Growth is
 * non-zero for weight-only QDQ models loaded with `weightOnlyQdq`: onnxruntime folds each
 * int8 weight into fp32 at load (FACTS.md), so every int8 or uint8 initializer element takes
 * 4 bytes instead of 1. Scales and other initializers are counted as stored.
 */
export function estimateResidentBytes(fileBytes: number, model: ModelProto, weightOnlyQdq: boolean, factor = DEFAULT_MEMORY_FACTOR): number {
  let growth = 0;
  if (weightOnlyQdq) {
    for (const t of model.graph.initializer) {
      if (t.dataType === DataType.INT8 || t.dataType === DataType.UINT8) growth += 3 * elementCount(t.dims);
    }
  }
  return Math.ceil((fileBytes + growth) * factor);
}
