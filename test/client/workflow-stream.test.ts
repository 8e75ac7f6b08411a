// Workflow runs over HTTP with a controllable fake body: NDJSON events reach the caller as their
// lines arrive (chunks split mid-line and mid-character), an `error` line is thrown with the
// edge's code, leaving the loop early aborts the request, and a stream without a result is an error.
import { describe, expect, it } from 'vitest';
import { CleaveClient, type WorkflowStreamEvent } from '../../shared/client/index.js';
import { CleaveError } from '../../shared/errors.js';
import { ManualClock } from '../../shared/time.js';
import { flush } from './fake-edges.js';

const EDGE = 'http://edge.test';
const UTF8 = new TextEncoder();

/** A client whose workflow request gets a body the test writes chunk by chunk. */
function streamingEdge(headers: Record<string, string> = { 'content-type': 'application/x-ndjson' }): {
  client: CleaveClient; push: (s: string | Uint8Array) => void; end: () => void; request: () => RequestInit | undefined;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let init: RequestInit | undefined;
  const body = new ReadableStream<Uint8Array>({ start(c) { controller = c; } });
  const clock = new ManualClock();
  const client = new CleaveClient({
    edges: [EDGE], clock, timers: clock,
    fetch: async (url, i) => {
      if (url.endsWith('/v2/health/ready')) return new Response('{"ready":true}', { status: 200 });
      init = i;
      return new Response(body, { status: 200, headers });
    },
  });
  return {
    client,
    push: (s) => controller.enqueue(typeof s === 'string' ? UTF8.encode(s) : s),
    end: () => controller.close(),
    request: () => init,
  };
}

const tensorJson = { dtype: 'float32', dims: [1, 2], data: [0.25, 'NaN'] };
const nodeLine = JSON.stringify({ event: 'node', node: 'small', status: 'done', placement: 'edge', ms: 1.5, outputs: { logits: tensorJson } });
const resultLine = JSON.stringify({
  event: 'result', workflow: 'cascade', version: 2, outputs: { reply: { dtype: 'string', dims: [1], data: ['héllo wörld'] }, logits: tensorJson },
  nodes: [{ node: 'small', status: 'done', placement: 'edge', ms: 1.5 }], degraded: false, totalMs: 3.5, plan: 'small=edge!', exitedAt: 'small',
});

describe('streamWorkflow over NDJSON', () => {
  it('yields each event as its line arrives, across chunk and character boundaries', async () => {
    const { client, push, end, request } = streamingEdge();
    const events = client.streamWorkflow('cascade', { image: { data: new Float32Array(2), dims: [1, 2] } }, { version: 2 });
    const first = events.next();
    await flush();
    expect(request()!.headers).toMatchObject({ accept: 'application/x-ndjson', 'content-type': 'application/msgpack' });
    push(nodeLine.slice(0, 20));
    await flush();
    let settled = false;
    void first.then(() => { settled = true; });
    await flush();
    expect(settled).toBe(false); // half a line is not an event
    push(`${nodeLine.slice(20)}\n{"event":"skip","node":"big"}\n{"event":"exit","node":"small"}\n`);
    const ev = (await first).value as Extract<WorkflowStreamEvent, { type: 'node' }>;
    expect(ev.type).toBe('node');
    expect(ev.node).toBe('small');
    expect(ev.report).toMatchObject({ node: 'small', status: 'done', placement: 'edge', ms: 1.5 });
    expect(ev.outputs.logits).toMatchObject({ dtype: 'float32', dims: [1, 2] });
    expect(Array.from((ev.outputs.logits as { data: Float32Array }).data)).toEqual([0.25, NaN]);
    expect((await events.next()).value).toEqual({ type: 'skip', node: 'big' });
    expect((await events.next()).value).toEqual({ type: 'exit', node: 'small' });
    // The result line split inside the two-byte "é".
    const bytes = UTF8.encode(`${resultLine}\n`);
    const cut = bytes.indexOf(0xc3) + 1;
    push(bytes.slice(0, cut));
    push(bytes.slice(cut));
    end();
    const last = (await events.next()).value as Extract<WorkflowStreamEvent, { type: 'result' }>;
    expect(last.result).toMatchObject({ workflow: 'cascade', version: 2, plan: 'small=edge!', exitedAt: 'small', degraded: false, totalMs: 3.5 });
    expect(last.result.outputs.reply).toEqual({ dtype: 'string', dims: [1], text: ['héllo wörld'] });
    expect((await events.next()).done).toBe(true);
  });

  it('throws an error line as the edge\'s CleaveError', async () => {
    const { client, push, end } = streamingEdge();
    push(`${nodeLine}\n${JSON.stringify({ event: 'error', error: 'CLEAVE_E_DEADLINE', code: 'CLEAVE_E_DEADLINE', message: 'node "big" would miss the deadline', detail: { node: 'big' } })}\n`);
    end();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const ev of client.streamWorkflow('cascade', {})) seen.push(ev.type);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['node']);
    expect(err).toBeInstanceOf(CleaveError);
    expect(err).toMatchObject({ code: 'CLEAVE_E_DEADLINE', message: 'node "big" would miss the deadline', detail: { node: 'big' } });
  });

  it('aborts the request when the reader leaves early, so the edge cancels the run', async () => {
    const { client, push, request } = streamingEdge();
    push(`${nodeLine}\n`);
    for await (const ev of client.streamWorkflow('cascade', {})) {
      expect(ev.type).toBe('node');
      break;
    }
    expect(request()!.signal!.aborted).toBe(true);
  });

  it('calls a stream that ends without a result line an error', async () => {
    const { client, push, end } = streamingEdge();
    push(`${nodeLine}\n`);
    end();
    const err = await (async () => {
      for await (const _ of client.streamWorkflow('cascade', {})) { /* drain */ }
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CLEAVE_E_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/ended without a result line/);
  });

  it('refuses an NDJSON line that is not JSON, naming the line', async () => {
    const { client, push, end } = streamingEdge();
    push(`${nodeLine}\n<html>\n`);
    end();
    const err = await (async () => {
      for await (const _ of client.streamWorkflow('cascade', {})) { /* drain */ }
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CLEAVE_E_PROTOCOL' });
    expect((err as Error).message).toBe('NDJSON line 2 is not JSON: "<html>"');
  });
});
