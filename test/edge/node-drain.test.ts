/**
 * Closing the Node edge drains: readiness turns 503 at once, a request in flight still gets its
 * answer, and close() resolves once it has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEdgeConfig } from '../../edge/config.js';
import { startEdgeServer, type EdgeServer } from '../../edge/node.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';

describe('Node edge shutdown', () => {
  let cloud: TestCloud;
  let edge: EdgeServer;
  beforeAll(async () => {
    cloud = await startTestCloud();
    edge = await startEdgeServer(resolveEdgeConfig({}, { port: '0', cloudUrl: cloud.wsUrl, log: false }), { processMetrics: false, drainMs: 5_000 });
    await edge.ready;
    for (let i = 0; i < 100 && edge.node.cloud.status().state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 20));
  });
  afterAll(async () => {
    await edge.close();
    await cloud.stop();
  });

  it('answers the request in flight, reports not ready while draining, then closes', async () => {
    // `slow` waits 300 ms in the cloud's batcher: long enough to close the edge under it.
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, () => 0.25) }] });
    const inFlight = fetch(`${edge.url}/v2/models/slow/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-cleave-cache': 'bypass' } });
    await new Promise((r) => setTimeout(r, 50));
    const closed = edge.close();
    const ready = await edge.node.app.request('/v2/health/ready');
    expect(ready.status).toBe(503);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cleave-served-by')).toBe('cloud');
    await closed;
  });
});
