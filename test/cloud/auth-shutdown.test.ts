// Tokens on the upgrade and in HELLO, HTTP bearer auth, and the graceful drain: GOAWAY, runs in
// flight still answered, new work refused, then closed.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectCloud } from '../../cli/cloud-client.js';
import { isCleaveError } from '../../shared/errors.js';
import { hostTensor } from '../../shared/tensor.js';
import { startTestCloud } from '../helpers/cloud.js';

const x = hostTensor('float32', [1, 64], new Float32Array(64).fill(0.5));

function closeOf(ws: WebSocket): Promise<number> {
  return new Promise((r) => ws.on('close', (code) => r(code)));
}

describe('authentication', () => {
  it('accepts a right token on the upgrade or in HELLO, and refuses others with close 4401', async () => {
    const cloud = await startTestCloud({ tokens: 'edge-a-secret,edge-b-secret' });
    try {
      const a = await connectCloud(cloud.wsUrl, { token: 'edge-b-secret' });
      expect((await a.run({ model: 'mlp-small', inputs: { x } }).promise).outputs.logits!.dims).toEqual([1, 10]);
      a.close();
      const b = await connectCloud(cloud.wsUrl, { token: 'edge-a-secret', tokenInHello: true });
      b.close();
      const wrong = new WebSocket(cloud.wsUrl, { headers: { authorization: 'Bearer edge-a-secreT' } });
      expect(await closeOf(wrong)).toBe(4401);
      const none = await connectCloud(cloud.wsUrl).catch((e: unknown) => e);
      expect(isCleaveError(none, 'CLEAVE_E_UNAUTHORIZED')).toBe(true);
      const http = await fetch(`${cloud.httpUrl}/v2/models/mlp-small/infer`, { method: 'POST', body: '{}' });
      expect(http.status).toBe(401);
      expect(await http.json()).toMatchObject({ code: 'CLEAVE_E_UNAUTHORIZED' });
      // Health and metrics stay open for probes and scrapers.
      expect((await fetch(`${cloud.httpUrl}/v2/health/ready`)).status).toBe(200);
    } finally {
      await cloud.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('sends GOAWAY, finishes runs in flight, refuses new ones, then closes', async () => {
    const cloud = await startTestCloud();
    const goaway: string[] = [];
    const client = await connectCloud(cloud.wsUrl, { onGoaway: (code) => goaway.push(code) });
    // `slow` holds requests up to 300 ms in its queue: they are in flight when the drain starts.
    const inflight = Array.from({ length: 3 }, () => client.run({ model: 'slow', inputs: { x } }).promise);
    await new Promise((r) => setTimeout(r, 30));
    const closing = cloud.server.close();
    await new Promise((r) => setTimeout(r, 30));
    expect(goaway).toEqual(['CLEAVE_E_UNAVAILABLE']);
    const late = await client.run({ model: 'mlp-small', inputs: { x } }).promise.catch((e: unknown) => e);
    expect(isCleaveError(late, 'CLEAVE_E_UNAVAILABLE')).toBe(true);
    expect((await fetch(`${cloud.httpUrl}/v2/health/ready`).catch(() => ({ status: 0 }))).status).not.toBe(200);
    const results = await Promise.all(inflight);
    expect(results.every((r) => r.outputs.logits!.dims[1] === 10)).toBe(true);
    await closing;
    await cloud.stop();
  });
});
