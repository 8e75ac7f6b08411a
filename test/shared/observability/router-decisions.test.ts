import { describe, expect, it } from 'vitest';
import { choiceOf, estimateError, workflowDecisions } from '../../../shared/observability/router-decisions.js';
import { explain, placeStage, chooseCut } from '../../../shared/router/placement.js';
import type { WorkflowDefinition } from '../../../shared/workflow/definition.js';
import type { NodeReport } from '../../../shared/workflow/executor.js';

const LINK = { rttMs: 10, upBitsPerSec: 1e7, downBitsPerSec: 1e7 };

describe('choiceOf', () => {
  it('reads the choice of real explanation lines: tier, cut (percent-decoded), all-edge and all-cloud cuts', () => {
    const stage = placeStage({ model: 'm', batch: 1, bytesIn: 100, bytesOut: 40, edge: { computeMs: 50 }, cloud: { computeMs: 1, queueMs: 0 }, link: LINK }, 'auto');
    expect(choiceOf(explain(stage))).toBe('cloud');
    const cut = chooseCut([
      { cut: 'edge', headMs: 100, tailMs: 0, activationBytes: 0 },
      { cut: 'block;3=out', headMs: 1, tailMs: 1, activationBytes: 10 },
    ], { bytesOut: 40, cloudQueueMs: 0, link: LINK, cloudAvailable: true });
    expect(explain(cut)).toMatch(/^cut=block%3B3%3Dout;/);
    expect(choiceOf(explain(cut))).toBe('cut:block;3=out');
    expect(choiceOf('cut=edge; total=1.0')).toBe('edge');
    expect(choiceOf('cut=cloud; link=down')).toBe('cloud');
    expect(choiceOf('tier=cloud; link=down')).toBe('cloud');
  });

  it('states no choice for lines it cannot read', () => {
    expect(choiceOf(undefined)).toBeUndefined();
    expect(choiceOf('total=1.0; tier=edge')).toBeUndefined();
    expect(choiceOf('tier=moon; total=1')).toBeUndefined();
  });
});

describe('estimateError', () => {
  it('is actual / expected and the absolute difference in seconds', () => {
    expect(estimateError(10, 15)).toEqual({ ratio: 1.5, absSeconds: 0.005 });
    expect(estimateError(20, 10)).toEqual({ ratio: 0.5, absSeconds: 0.01 });
  });

  it('is undefined where a ratio means nothing (a 0 ms prior, negative or non-finite times)', () => {
    for (const [e, a] of [[0, 5], [-1, 5], [5, -1], [Number.NaN, 1], [1, Number.POSITIVE_INFINITY]] as const) expect(estimateError(e, a)).toBeUndefined();
  });
});

const DEF = {
  name: 'w', inputs: [], outputs: [], edges: [],
  nodes: [
    { id: 'a', type: 'model', params: { model: 'mlp-small' } },
    { id: 'b', type: 'model', params: { model: 'text-base' } },
    { id: 's', type: 'split-model', params: { model: 'cnn-large', exit: { when: 'max(logits) > 0', head: 'cnn-large-exit' } } },
    { id: 't', type: 'split-model', params: { model: 'cnn-large' } },
    { id: 'x', type: 'transform', params: { op: 'softmax', input: 'logits', output: 'p' } },
  ],
} as unknown as WorkflowDefinition;

describe('workflowDecisions', () => {
  it('counts each model and split node that ran, with its estimate only where the time is comparable', () => {
    const nodes: NodeReport[] = [
      { node: 'a', status: 'done', placement: 'edge', explanation: 'tier=edge; total=2.0; compute=2.0; vs cloud=30.0', expectedMs: 2, ms: 3 },
      { node: 'b', status: 'done', placement: 'cloud', explanation: 'tier=cloud; total=20.0; probe=1', expectedMs: 20, ms: 10 },
      { node: 't', status: 'done', placement: 'cut:block3.pool_out int8', explanation: 'cut=block3.pool_out; int8=1; total=8.0; prior=1', expectedMs: 8, ms: 16 },
      { node: 'x', status: 'done', placement: 'inline' },
      { node: 'a', status: 'skipped' },
    ];
    expect(workflowDecisions(DEF, nodes)).toEqual([
      { kind: 'workflow-node', model: 'mlp-small', choice: 'edge', probe: false, estimate: { tier: 'edge', expectedMs: 2, actualMs: 3, prior: false } },
      { kind: 'workflow-node', model: 'text-base', choice: 'cloud', probe: true, estimate: { tier: 'cloud', expectedMs: 20, actualMs: 10, prior: false } },
      { kind: 'workflow-node', model: 'cnn-large', choice: 'cut:block3.pool_out', probe: false, estimate: { tier: 'split', expectedMs: 8, actualMs: 16, prior: true } },
    ]);
  });

  it('counts an exit at the cut as "exit", a fallback as the decision it was, and leaves their times out', () => {
    const nodes: NodeReport[] = [
      { node: 's', status: 'done', placement: 'cut:block3.pool_out', explanation: 'cut=block3.pool_out; total=9.0', expectedMs: 9, ms: 2, exited: true },
      { node: 'b', status: 'done', placement: 'edge', explanation: 'tier=cloud; total=20.0; cloud failed (CLEAVE_E_UNAVAILABLE), ran text-tiny on the edge', ms: 4, degraded: { reason: 'CLEAVE_E_UNAVAILABLE', standIn: 'text-tiny' } },
      { node: 'a', status: 'done', placement: 'cloud', explanation: 'tier=cloud; total=20.0', expectedMs: 20, ms: 30, subgraph: 'a' },
      { node: 'b', status: 'done', placement: 'cloud', explanation: 'tier=cloud; link=down', expectedMs: 0, ms: 1 },
    ];
    expect(workflowDecisions(DEF, nodes)).toEqual([
      { kind: 'workflow-node', model: 'cnn-large', choice: 'exit', probe: false },
      { kind: 'workflow-node', model: 'text-base', choice: 'cloud', probe: false },
      { kind: 'workflow-node', model: 'mlp-small', choice: 'cloud', probe: false },
      { kind: 'workflow-node', model: 'text-base', choice: 'cloud', probe: false },
    ]);
  });
});
