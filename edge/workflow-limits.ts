/**
 * The protocol limits the workflow routes decode bodies under: the edge's configured ones, with
 * the frame limit capped at the body limit (as the inference routes do in app.ts).
 */
import { DEFAULT_LIMITS, type ProtocolLimits } from '../shared/protocol/constants.js';

export function DEFAULT_PROTOCOL_LIMITS_FOR_EDGE(partial: Partial<ProtocolLimits> | undefined, maxBodyBytes: number): ProtocolLimits {
  return { ...DEFAULT_LIMITS, ...partial, maxFrameBytes: Math.min(partial?.maxFrameBytes ?? maxBodyBytes, maxBodyBytes) };
}
