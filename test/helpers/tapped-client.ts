/**
 * A protocol client (shared/protocol/client.ts over `ws`, as cli/cloud-client.ts connects) whose
 * socket is tapped: every frame the server sends is decoded and counted per stream id before the
 * client sees it, so a test can prove the wire carried exactly one terminal frame (RESULT or
 * stream ERROR) per run, not merely that the client settled each promise once (the client drops
 * a second RESULT for a finished stream silently).
 */
import WebSocket from 'ws';
import { ProtocolClient, type WebSocketLike } from '../../shared/protocol/client.js';
import { FrameType } from '../../shared/protocol/constants.js';
import { decodeFrame } from '../../shared/protocol/frame-codec.js';
import { systemClock, systemTimers } from '../../shared/time.js';

/** Terminal frames per stream id, as they arrived on the wire. */
export interface StreamTally {
  readonly results: Map<number, number>;
  readonly errors: Map<number, number>;
  /** Frames that could not be decoded (should stay 0). */
  undecodable: number;
}

/** Connects to `url` (an edge's or a cloud's `/v1/ws`) and completes the handshake. */
export async function connectTapped(url: string): Promise<{ client: ProtocolClient; tally: StreamTally }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.binaryType = 'arraybuffer';
  const tally: StreamTally = { results: new Map(), errors: new Map(), undecodable: 0 };
  // Registered before the client's own listener, so the count is taken first.
  ws.addEventListener('message', (ev) => {
    try {
      const f = decodeFrame(new Uint8Array(ev.data as ArrayBuffer));
      if (f.t === FrameType.RESULT) tally.results.set(f.id, (tally.results.get(f.id) ?? 0) + 1);
      else if (f.t === FrameType.ERROR && f.id !== 0) tally.errors.set(f.id, (tally.errors.get(f.id) ?? 0) + 1);
    } catch {
      tally.undecodable++;
    }
  });
  const client = new ProtocolClient(ws as unknown as WebSocketLike, { clock: systemClock, timers: systemTimers, client: 'fault-test' });
  await client.ready;
  return { client, tally };
}
