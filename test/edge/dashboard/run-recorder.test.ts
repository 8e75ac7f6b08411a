// The dashboard's recorder on its own, with hand-made run reports and a ManualClock: exact
// nearest-rank percentiles, the ring bounds (runs, samples, decisions, workflows, nodes), which
// workflow is dropped first, and the placement labels (cut+int8, exit, skipped, cancelled).
import { describe, expect, it } from 'vitest';
import { explanationTerms, nodeDecision, placementLabel } from '../../../edge/dashboard/node-placement.js';
import { percentiles } from '../../../edge/dashboard/percentile.js';
import { RingBuffer } from '../../../edge/dashboard/ring-buffer.js';
import { DashboardRecorder } from '../../../edge/dashboard/run-recorder.js';
import type { WorkflowRunRequest } from '../../../edge/workflow-service.js';
import { CleaveError } from '../../../shared/errors.js';
import { ManualClock } from '../../../shared/time.js';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import type { NodeReport, WorkflowResult } from '../../../shared/workflow/executor.js';
import type { StoredWorkflow } from '../../../shared/workflow/store.js';

const DOC: WorkflowDefinition = {
  name: 'cascade',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 3, 64, 64] }],
  nodes: [
    { id: 'small', type: 'model', params: { model: 'cnn-small', placement: 'edge', exit: { when: 'max(softmax(logits)) >= 0.95' } } },
    { id: 'big', type: 'split-model', params: { model: 'cnn-large', exit: { when: 'max(softmax(logits)) >= 0.9', head: 'cnn-large-exit' } } },
    { id: 'post', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'probs' } },
  ],
  edges: [{ source: 'input', target: 'small' }, { source: 'input', target: 'big' }, { source: 'small', target: 'big' }, { source: 'big', target: 'post' }],
  outputs: [{ name: 'logits', from: 'big.logits', or: 'small.logits' }],
};

const stored = (name = 'cascade', version = 1): StoredWorkflow => ({ name, version, digest: `d${version}`, deployedAt: 0, definition: { ...DOC, name } });

const EDGE_EXPLANATION = 'tier=edge; total=4.0; compute=4.0; vs cloud=30.5; policy=edge';
const CUT_EXPLANATION = 'cut=block3.pool_out; int8=1; total=20.0; head=5.0; rtt=10.0; up=2.0; queue=1.0; compute=1.5; down=0.5; vs edge=40.0; vs cloud=35.0; prior=1';

function result(nodes: NodeReport[], totalMs: number): WorkflowResult {
  return { outputs: new Map(), nodes, degraded: false, totalMs, ...(nodes.some((n) => n.exited) ? { exitedAt: nodes.find((n) => n.exited)!.node } : {}) };
}

const smallRan = (ms: number): NodeReport => ({ node: 'small', status: 'done', placement: 'edge', explanation: EDGE_EXPLANATION, expectedMs: 4, ms });

describe('percentiles', () => {
  it('are nearest-rank samples, in the order asked, whatever the input order', () => {
    const xs = [7, 3, 10, 1, 9, 2, 8, 4, 6, 5];
    expect(percentiles(xs, [0.5, 0.9, 0.99, 1])).toEqual([5, 9, 10, 10]);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(hundred, [0.07, 0.5, 0.9, 0.99])).toEqual([7, 50, 90, 99]);
    expect(percentiles([], [0.5])).toEqual([null]);
    expect(() => percentiles([1], [0])).toThrow(/percentile 0 .*\(0, 1\]/);
  });
});

describe('RingBuffer', () => {
  it('keeps the newest items, oldest first', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(r.last()).toBe(5);
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('placement labels and decision terms', () => {
  it('labels cut+int8, exit, skipped, and leaves a cancelled node alone', () => {
    expect(placementLabel({ node: 'big', status: 'done', placement: 'cut:block3.pool_out int8' })).toBe('cut:block3.pool_out+int8');
    expect(placementLabel({ node: 'big', status: 'done', placement: 'cut:block3.pool_out' })).toBe('cut:block3.pool_out');
    expect(placementLabel({ node: 'small', status: 'done', placement: 'edge', exited: true })).toBe('exit');
    expect(placementLabel({ node: 'big', status: 'skipped' })).toBe('skipped');
    expect(placementLabel({ node: 'big', status: 'cancelled' })).toBeUndefined();
    expect(placementLabel({ node: 'post', status: 'done', placement: 'inline' })).toBe('edge');
    expect(placementLabel({ node: 'big', status: 'done', placement: 'cloud' })).toBe('cloud');
  });

  it('reads every numeric term of an explanation, and the choice the router made', () => {
    expect(explanationTerms(CUT_EXPLANATION)).toEqual({ int8: 1, total: 20, head: 5, rtt: 10, up: 2, queue: 1, compute: 1.5, down: 0.5, 'vs:edge': 40, 'vs:cloud': 35, prior: 1 });
    expect(explanationTerms('tier=cloud; total=23.1; cloud failed (CLEAVE_E_UNAVAILABLE), ran cnn-small on the edge')).toEqual({ total: 23.1 });
    const big = DOC.nodes[1];
    expect(nodeDecision(big, { node: 'big', status: 'done', placement: 'cut:block3.pool_out int8', explanation: CUT_EXPLANATION, expectedMs: 20, ms: 18 }))
      .toEqual({ choice: 'cut:block3.pool_out', expectedMs: 20, actualMs: 18, terms: explanationTerms(CUT_EXPLANATION) });
    // The exit head answered at the cut: the tail was priced but never ran, so no actual time.
    expect(nodeDecision(big, { node: 'big', status: 'done', placement: 'cut:block3.pool_out', explanation: CUT_EXPLANATION, expectedMs: 20, ms: 6, exited: true }))
      .toMatchObject({ choice: 'exit', expectedMs: 20 });
    expect(nodeDecision(big, { node: 'big', status: 'done', placement: 'cut:block3.pool_out', explanation: CUT_EXPLANATION, ms: 6, exited: true })).not.toHaveProperty('actualMs');
    // A cloud decision that fell back to the edge stays a cloud decision, without a comparable time.
    const degraded = nodeDecision(DOC.nodes[0], { node: 'small', status: 'done', placement: 'edge', explanation: 'tier=cloud; total=9.0; cloud failed (CLEAVE_E_UNAVAILABLE), ran cnn-small on the edge', ms: 3, degraded: { reason: 'CLEAVE_E_UNAVAILABLE', standIn: 'cnn-small' } });
    expect(degraded).toEqual({ choice: 'cloud', expectedMs: 9, terms: { total: 9 } });
    expect(nodeDecision(DOC.nodes[2], { node: 'post', status: 'done', placement: 'inline' })).toBeUndefined();
  });
});

describe('DashboardRecorder', () => {
  const req: WorkflowRunRequest = { name: 'cascade', inputs: {} };

  it('records placements, exits, skips and decisions with their terms, stamped by the clock', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const rec = new DashboardRecorder({ clock });
    rec.onRun(req, { stored: stored(), result: result([smallRan(3), { node: 'big', status: 'done', placement: 'cut:block3.pool_out int8', explanation: CUT_EXPLANATION, expectedMs: 20, ms: 18 }, { node: 'post', status: 'done', placement: 'inline', ms: 0 }], 22) });
    clock.advance(1000);
    rec.onRun(req, { stored: stored(), result: result([{ ...smallRan(5), exited: true }], 6) });
    clock.advance(1000);
    // big's in-edge from small was dead.
    rec.onRun(req, { stored: stored(), result: result([smallRan(4), { node: 'big', status: 'skipped' }], 5) });

    const d = rec.detail('cascade')!;
    expect(d.runs).toBe(3);
    expect(d.errors).toBe(0);
    expect(d.nodes.get('small')).toMatchObject({ lastPlacement: 'edge', runs: 3, p50Ms: 4, p90Ms: 5, p99Ms: 5 });
    expect(d.nodes.get('small')!.lastDecision).toEqual({ choice: 'edge', expectedMs: 4, actualMs: 4, terms: { total: 4, compute: 4, 'vs:cloud': 30.5 }, at: 1_700_000_002_000 });
    expect(d.nodes.get('big')).toMatchObject({ lastPlacement: 'skipped', runs: 1, p50Ms: 18 });
    expect(d.nodes.get('big')!.lastDecision).toMatchObject({ choice: 'cut:block3.pool_out', at: 1_700_000_000_000 });
    expect(d.nodes.get('post')).toMatchObject({ lastPlacement: 'edge', runs: 1 });
    expect(d.series).toEqual([
      { at: 1_700_000_000_000, totalMs: 22, segments: { edge: 3, cloud: 18 } },
      { at: 1_700_000_001_000, totalMs: 6, segments: { edge: 5, cloud: 0 } },
      { at: 1_700_000_002_000, totalMs: 5, segments: { edge: 4, cloud: 0 } },
    ]);
    expect(d.decisions.map((x) => `${x.node}:${x.choice}@${x.at - 1_700_000_000_000}`)).toEqual(['small:edge@0', 'big:cut:block3.pool_out@0', 'small:edge@1000', 'small:edge@2000']);

    // The run that exited at small: small shows `exit` until it runs again without exiting.
    const after = new DashboardRecorder({ clock });
    after.onRun(req, { stored: stored(), result: result([{ ...smallRan(5), exited: true }], 6) });
    expect(after.detail('cascade')!.nodes.get('small')!.lastPlacement).toBe('exit');
    expect(after.detail('cascade')!.nodes.has('big')).toBe(false);
  });

  it('counts failed runs of deployed workflows, and ignores runs of unknown ones', () => {
    const rec = new DashboardRecorder({ clock: new ManualClock(0) });
    rec.onRun(req, { stored: stored(), error: new CleaveError('CLEAVE_E_SHAPE', 'bad input') });
    rec.onRun({ name: 'no-such', inputs: {} }, { error: new CleaveError('CLEAVE_E_NOT_FOUND', 'no workflow') });
    rec.onRun(req, { stored: stored('cascade', 2), result: result([smallRan(2)], 2) });
    expect(rec.summary('cascade')).toEqual({ name: 'cascade', version: 2, runs: 2, errors: 1, p50Ms: 2, p99Ms: 2 });
    expect(rec.names()).toEqual(['cascade']);
    expect(rec.summary('no-such')).toBeUndefined();
  });

  it('keeps the last 300 runs and samples and the last 50 decisions; percentiles cover the window only', () => {
    const clock = new ManualClock(0);
    const rec = new DashboardRecorder({ clock });
    for (let i = 1; i <= 350; i++) {
      rec.onRun(req, { stored: stored(), result: result([smallRan(i)], i) });
      clock.advance(1);
    }
    const d = rec.detail('cascade')!;
    expect(d.runs).toBe(350);
    expect(d.series).toHaveLength(300);
    expect(d.series[0]).toMatchObject({ at: 50, totalMs: 51 });
    // Window 51..350: nearest rank 150 is 200; rank 297 is 347.
    expect(d.p50Ms).toBe(200);
    expect(d.p99Ms).toBe(347);
    expect(d.nodes.get('small')).toMatchObject({ runs: 350, p50Ms: 200, p90Ms: 320, p99Ms: 347 });
    expect(d.decisions).toHaveLength(50);
    expect(d.decisions[0]!.actualMs).toBe(301);
    expect(d.decisions[49]!.actualMs).toBe(350);
  });

  it('tracks at most maxWorkflows, dropping the one touched longest ago', () => {
    const rec = new DashboardRecorder({ clock: new ManualClock(0), maxWorkflows: 3 });
    const run = (name: string): void => rec.onRun({ name, inputs: {} }, { stored: stored(name), result: result([smallRan(1)], 1) });
    run('a');
    run('b');
    run('c');
    run('a');
    run('d');
    expect(rec.names()).toEqual(['c', 'a', 'd']);
    expect(rec.summary('b')).toBeUndefined();
    expect(rec.summary('a')!.runs).toBe(2);
    expect(new DashboardRecorder({ clock: new ManualClock(0) }).names()).toEqual([]);
    expect(() => new DashboardRecorder({ clock: new ManualClock(0), maxRuns: 0 })).toThrow(/maxRuns 0/);
  });

  it('tracks at most maxNodes per workflow, dropping the node touched longest ago', () => {
    const rec = new DashboardRecorder({ clock: new ManualClock(0), maxNodes: 2 });
    rec.onRun(req, { stored: stored(), result: result([smallRan(1), { node: 'big', status: 'skipped' }, { node: 'post', status: 'done', placement: 'inline', ms: 0 }], 1) });
    expect([...rec.detail('cascade')!.nodes.keys()]).toEqual(['big', 'post']);
  });
});
