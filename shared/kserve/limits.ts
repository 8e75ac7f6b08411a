/**
 * Limits the KServe v2 codec enforces on every body it reads. They bound the memory and time a
 * hostile request can cost before any model runs; the HTTP adapters pass their configured values.
 */
import { CleaveError } from '../errors.js';

/** Decoder limits for v2 inference bodies. Every field is configurable; defaults in DEFAULT_KSERVE_LIMITS. */
export interface KServeLimits {
  /** Largest body (JSON plus binary tail), bytes. Default 64 MiB, the same as the WebSocket frame limit. */
  readonly maxBodyBytes: number;
  /**
   * Largest JSON header of a binary body (the Inference-Header-Content-Length value), bytes.
   * Default 1 MiB: with the binary extension the JSON only names tensors. A JSON-only body carries
   * its data inline, so it is bounded by maxBodyBytes instead.
   */
  readonly maxHeaderBytes: number;
  /** Most tensors in `inputs` (or a response's `outputs`), and most names in a request's `outputs`. Default 64. */
  readonly maxInputs: number;
  /** Most elements in one tensor (product of its shape). Default 16 Mi (16,777,216). */
  readonly maxElements: number;
  /** Highest tensor rank; nested `data` may not nest deeper than the rank either. Default 8. */
  readonly maxRank: number;
}

/** Defaults: 64 MiB body, 1 MiB JSON header, 64 tensors, 16 Mi elements per tensor, rank 8. */
export const DEFAULT_KSERVE_LIMITS: KServeLimits = Object.freeze({
  maxBodyBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 1024 * 1024,
  maxInputs: 64,
  maxElements: 16 * 1024 * 1024,
  maxRank: 8,
});

/** Fills in defaults and checks each given limit is a positive integer (CLEAVE_E_BAD_ARGUMENT otherwise). */
export function resolveKServeLimits(partial: Partial<KServeLimits> = {}): KServeLimits {
  const out = { ...DEFAULT_KSERVE_LIMITS, ...partial };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `KServe limit ${key} must be a positive integer, got ${String(value)}`, { limit: key });
    }
  }
  return out;
}
