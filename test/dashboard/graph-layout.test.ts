/**
 * The dashboard's graph layout (dashboard/page/graph-layout.ts): longest-path layers, barycenter
 * order, boxes that never overlap, and drafts that are broken (cycles, edges to unknown nodes)
 * laid out anyway.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INPUT_NODE, layoutGraph, longestPathLayers, type GraphLayout } from '../../dashboard/page/graph-layout.js';
import { IMAGE_CASCADE, VOICE_ASSISTANT } from '../../shared/workflow/examples.js';

function overlaps(l: GraphLayout): string[] {
  const bad: string[] = [];
  for (let i = 0; i < l.nodes.length; i++) {
    for (let j = i + 1; j < l.nodes.length; j++) {
      const a = l.nodes[i]!;
      const b = l.nodes[j]!;
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) bad.push(`${a.id}/${b.id}`);
    }
  }
  return bad;
}

describe('longestPathLayers', () => {
  it('puts each node one past its deepest predecessor', () => {
    const layers = longestPathLayers(['input', 'a', 'b', 'c', 'd'], [
      { source: 'input', target: 'a' }, { source: 'a', target: 'b' }, { source: 'b', target: 'c' }, { source: 'input', target: 'c' }, { source: 'a', target: 'd' },
    ]);
    expect(Object.fromEntries(layers)).toEqual({ input: 0, a: 1, b: 2, c: 3, d: 2 });
  });

  it('terminates on a cycle and still gives every node a layer', () => {
    const layers = longestPathLayers(['input', 'a', 'b'], [{ source: 'input', target: 'a' }, { source: 'a', target: 'b' }, { source: 'b', target: 'a' }]);
    expect([...layers.keys()].sort()).toEqual(['a', 'b', 'input']);
    expect(layers.get('input')).toBe(0);
  });
});

describe('layoutGraph', () => {
  it('lays the image cascade out input -> small -> big, with the control edge forward', () => {
    const l = layoutGraph(IMAGE_CASCADE.nodes, IMAGE_CASCADE.edges);
    const layer = Object.fromEntries(l.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toEqual({ [INPUT_NODE]: 0, small: 1, big: 2 });
    expect(l.edges.every((e) => !e.back)).toBe(true);
    expect(l.edges.map((e) => `${e.source}->${e.target}`).sort()).toEqual(['input->big', 'input->small', 'small->big']);
    expect(overlaps(l)).toEqual([]);
    // Every box inside the drawing.
    for (const n of l.nodes) expect(n.x + n.width <= l.width && n.y + n.height <= l.height).toBe(true);
  });

  it('lays the voice assistant out as a chain of five layers', () => {
    const l = layoutGraph(VOICE_ASSISTANT.nodes, VOICE_ASSISTANT.edges);
    expect(l.nodes.map((n) => [n.id, n.layer])).toEqual([[INPUT_NODE, 0], ['asr', 1], ['tokens', 2], ['nlu', 3], ['reply', 4]]);
    expect(new Set(l.nodes.map((n) => n.y)).size).toBe(1);
  });

  it('orders a layer by barycenter, so crossing edges are undone', () => {
    // a feeds y, b feeds x: document order x, y would cross; barycenter puts y above x.
    const l = layoutGraph(
      [{ id: 'a' }, { id: 'b' }, { id: 'x' }, { id: 'y' }],
      [{ source: 'input', target: 'a' }, { source: 'input', target: 'b' }, { source: 'a', target: 'y' }, { source: 'b', target: 'x' }],
    );
    const row = Object.fromEntries(l.nodes.map((n) => [n.id, n.row]));
    expect(row.a! < row.b!).toBe(true);
    expect(row.y! < row.x!).toBe(true);
  });

  it('keeps the when label of an edge and places it between its ends', () => {
    const l = layoutGraph([{ id: 'small' }, { id: 'big' }], [{ source: 'input', target: 'small' }, { source: 'small', target: 'big', when: 'max(softmax(logits)) < 0.9' }]);
    const e = l.edges.find((x) => x.source === 'small')!;
    const [s, b] = [l.nodes.find((n) => n.id === 'small')!, l.nodes.find((n) => n.id === 'big')!];
    expect(e.when).toBe('max(softmax(logits)) < 0.9');
    expect(e.labelX > s.x + s.width && e.labelX < b.x).toBe(true);
  });

  it('draws what it can of a broken draft: a back edge for a cycle, dangling edges listed', () => {
    const l = layoutGraph([{ id: 'a' }, { id: 'b' }, { id: 'a' }], [
      { source: 'input', target: 'a' }, { source: 'a', target: 'b' }, { source: 'b', target: 'a' }, { source: 'a', target: 'nope' },
    ]);
    expect(l.nodes.map((n) => n.id)).toEqual([INPUT_NODE, 'a', 'b']);
    expect(l.edges.filter((e) => e.back).map((e) => `${e.source}->${e.target}`)).toEqual(['b->a']);
    expect(l.dangling).toEqual([{ source: 'a', target: 'nope' }]);
    expect(overlaps(l)).toEqual([]);
  });

  it('never overlaps boxes and always layers a DAG forward (random graphs)', () => {
    const dag = fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(
      fc.constant(n),
      fc.array(fc.tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 0, max: n - 1 })), { maxLength: 80 }),
    ));
    fc.assert(fc.property(dag, ([n, pairs]) => {
      const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}` }));
      // source index i (0 = input) to target j >= i: forward in document order, so acyclic.
      const edges = pairs.map(([i, j]) => ({ source: i === 0 ? INPUT_NODE : `n${i - 1}`, target: `n${Math.max(j, i)}` }))
        .filter((e) => e.source !== e.target);
      const l = layoutGraph(nodes, edges);
      expect(overlaps(l)).toEqual([]);
      const layer = new Map(l.nodes.map((x) => [x.id, x.layer]));
      for (const e of l.edges) expect(layer.get(e.target)!).toBeGreaterThan(layer.get(e.source)!);
      // Rows in a layer are 0..k-1 with no gaps.
      const byLayer = new Map<number, number[]>();
      for (const x of l.nodes) byLayer.set(x.layer, [...(byLayer.get(x.layer) ?? []), x.row]);
      for (const rows of byLayer.values()) expect(rows.sort((a, b) => a - b)).toEqual(rows.map((_, i) => i));
    }), { numRuns: 200, seed: 7 });
  });
});
