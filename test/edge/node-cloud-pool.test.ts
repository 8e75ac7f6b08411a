/**
 * The Node edge with several cloud URLs (`--cloud ws://a/v1/ws,ws://b/v1/ws`): one CloudLink per
 * URL behind a CloudPool, /v1/status shows `cloud.endpoints`, and a cloud model answers; with one
 * URL the transport is the bare link (no `cloud` on /v1/status).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudLink } from '../../edge/cloud-link.js';
import { CloudPool } from '../../edge/cloud-pool.js';
import { resolveEdgeConfig } from '../../edge/config.js';
import { startEdgeServer, type EdgeServer } from '../../edge/node.js';
import { startTestCloud, type TestCloud } from '../helpers/cloud.js';

describe('Node edge with a list of cloud URLs', () => {
  const clouds: TestCloud[] = [];
  const edges: EdgeServer[] = [];
  beforeAll(async () => {
    clouds.push(...await Promise.all([startTestCloud(), startTestCloud()]));
  });
  afterAll(async () => {
    await Promise.all(edges.map((e) => e.close()));
    await Promise.all(clouds.map((c) => c.stop()));
  });

  async function start(cloudUrl: string): Promise<EdgeServer> {
    const edge = await startEdgeServer(resolveEdgeConfig({}, { port: '0', cloudUrl, log: false, warm: false }), { processMetrics: false, drainMs: 1_000 });
    edges.push(edge);
    for (let i = 0; i < 250 && edge.node.cloud.status().state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 20));
    return edge;
  }

  it('pools the endpoints and shows them on /v1/status', async () => {
    const [a, b] = clouds as [TestCloud, TestCloud];
    const edge = await start(`${a.wsUrl}, ${b.wsUrl}`);
    expect(edge.node.cloud).toBeInstanceOf(CloudPool);
    for (let i = 0; i < 250 && !(edge.node.cloud as CloudPool).endpoints().every((e) => e.state === 'connected'); i++) await new Promise((r) => setTimeout(r, 20));
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, () => 0.25) }] });
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${edge.url}/v2/models/slow/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-cleave-cache': 'bypass' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cleave-served-by')).toBe('cloud');
    }
    const status = await (await fetch(`${edge.url}/v1/status`)).json() as { link: { state: string; url: string }; cloud: { endpoints: { url: string; state: string; breaker: string; requests: number }[] } };
    expect(status.link).toMatchObject({ state: 'connected', url: `${a.wsUrl},${b.wsUrl}` });
    expect(status.cloud.endpoints.map((e) => [e.url, e.state, e.breaker])).toEqual([[a.wsUrl, 'connected', 'closed'], [b.wsUrl, 'connected', 'closed']]);
    expect(status.cloud.endpoints.reduce((n, e) => n + e.requests, 0)).toBe(4);
  });

  it('uses the bare link for one URL', async () => {
    const edge = await start(clouds[0]!.wsUrl);
    expect(edge.node.cloud).toBeInstanceOf(CloudLink);
    const status = await (await fetch(`${edge.url}/v1/status`)).json() as Record<string, unknown>;
    expect(status.link).toMatchObject({ state: 'connected', url: clouds[0]!.wsUrl });
    expect('cloud' in status).toBe(false);
  });
});
