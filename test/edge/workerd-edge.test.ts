// The edge conformance suite against the Worker in workerd (`wrangler dev`, wrangler.toml): the
// same app on onnxruntime-web's wasm build, its cloud link held by a Durable Object; plus the
// cold start, from workerd being ready to the first inference answer.
import { describe, expect, it } from 'vitest';
import { startWorkerd } from '../helpers/edge.js';
import { edgeConformance } from './conformance.js';

// 90 s to start: wrangler bundles the Worker (14 MB of wasm) first, on a shared 2-core machine.
const START_TIMEOUT_MS = 90_000;

edgeConformance('Worker in workerd (wrangler dev)', (opts) => startWorkerd({
  ...(opts.cloudUrl !== undefined ? { CLEAVE_CLOUD_URL: opts.cloudUrl } : {}),
  ...(opts.maxBodyBytes !== undefined ? { CLEAVE_MAX_BODY_BYTES: String(opts.maxBodyBytes) } : {}),
}, { timeoutMs: START_TIMEOUT_MS }));

describe('Worker cold start', () => {
  it('answers its first inference within 5 s of wrangler being ready', async () => {
    // No cloud: the cold start is the Worker's own (isolate, onnxruntime-web wasm, model session).
    const worker = await startWorkerd({}, { timeoutMs: START_TIMEOUT_MS });
    try {
      const res = await fetch(`${worker.url}/v2/models/mlp-small/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: new Array<number>(64).fill(0.5) }] }),
      });
      const body = (await res.json()) as { outputs?: { data: number[] }[] };
      const coldMs = performance.now() - worker.startedMs;
      expect(res.status).toBe(200);
      expect(body.outputs?.[0]?.data).toHaveLength(10);
      console.log(`workerd cold start: ${coldMs.toFixed(0)} ms from "Ready on" to the first mlp-small answer (health poll included)`);
      // Loose: the benchmark holds the real goal; this catches a Worker that cannot load at all in time.
      expect(coldMs).toBeLessThan(5000);
    } finally {
      await worker.stop();
    }
  }, 150_000);
});
