/**
 * The protocol limits an edge decodes request bodies and client frames under: the configured
 * ones, with the frame limit capped at the body limit (a frame is never larger than the body
 * that carries it). Shared by the inference routes (app.ts) and the workflow routes.
 */
import { DEFAULT_LIMITS, type ProtocolLimits } from '../shared/protocol/constants.js';

export function edgeProtocolLimits(partial: Partial<ProtocolLimits> | undefined, maxBodyBytes: number): ProtocolLimits {
  return { ...DEFAULT_LIMITS, ...partial, maxFrameBytes: Math.min(partial?.maxFrameBytes ?? maxBodyBytes, maxBodyBytes) };
}
