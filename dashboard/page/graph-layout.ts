/**
 * Layered layout of a workflow graph for the dashboard, left to right: longest-path layering from
 * the workflow's inputs, then the order inside each layer by barycenter sweeps (a node sits near
 * the mean position of its neighbours in the layer before, then after), then pixel boxes on a
 * grid, so no two boxes can overlap. Pure: no DOM, no clock; the same graph gives the same layout.
 *
 * Drafts in the editor may be broken (a cycle, an edge to a node that does not exist): the layout
 * still terminates and draws what it can. Edges inside a cycle are laid out as back edges, and
 * edges naming an unknown node are left out and listed in `dangling`.
 */

/** The pseudo-node every workflow input edge starts from. */
export const INPUT_NODE = 'input';

/** A node to lay out. */
export interface LayoutNodeIn {
  readonly id: string;
}

/** An edge to lay out; `when` is drawn as its label. */
export interface LayoutEdgeIn {
  readonly source: string;
  readonly target: string;
  readonly when?: string | undefined;
}

/** Box size and gaps, px. */
export interface LayoutOptions {
  /** Box width, px. Default 168. */
  readonly nodeWidth?: number;
  /** Box height, px. Default 58. */
  readonly nodeHeight?: number;
  /** Horizontal gap between layers, px. Default 72. */
  readonly layerGap?: number;
  /** Vertical gap between boxes of a layer, px. Default 28. */
  readonly rowGap?: number;
  /** Margin around the drawing, px. Default 16. */
  readonly margin?: number;
  /** Barycenter sweeps (down and up count one each). Default 4. */
  readonly sweeps?: number;
}

/** A placed node: its layer (0 = the input), its row in the layer, and its box, px. */
export interface PlacedNode {
  readonly id: string;
  readonly layer: number;
  readonly row: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A placed edge: an SVG path from the source's right side to the target's left side, and its label point. */
export interface PlacedEdge {
  readonly source: string;
  readonly target: string;
  readonly when?: string;
  /** SVG path `d`. */
  readonly path: string;
  readonly labelX: number;
  readonly labelY: number;
  /** True when it goes against the layering (a cycle in a broken draft). */
  readonly back: boolean;
}

export interface GraphLayout {
  readonly nodes: readonly PlacedNode[];
  readonly edges: readonly PlacedEdge[];
  /** Edges that name a node the graph does not have. */
  readonly dangling: readonly LayoutEdgeIn[];
  readonly width: number;
  readonly height: number;
}

/** Most nodes laid out; the workflow schema allows 256, a draft may hold more and is cut here. */
export const MAX_LAYOUT_NODES = 512;

/**
 * Longest-path layers: the input is layer 0 and every node is one past the deepest of its
 * predecessors. Nodes in a cycle (or unreachable from a resolved node) get one past the deepest
 * predecessor already placed, in document order, so the result is defined for any graph.
 */
export function longestPathLayers(ids: readonly string[], edges: readonly LayoutEdgeIn[]): Map<string, number> {
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  const succs = new Map<string, string[]>(ids.map((id) => [id, []]));
  const indeg = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const e of edges) {
    if (!preds.has(e.source) || !preds.has(e.target) || e.source === e.target) continue;
    preds.get(e.target)!.push(e.source);
    succs.get(e.source)!.push(e.target);
    indeg.set(e.target, indeg.get(e.target)! + 1);
  }
  const layer = new Map<string, number>();
  const queue = ids.filter((id) => indeg.get(id) === 0);
  const settle = (id: string): void => {
    let l = 0;
    for (const p of preds.get(id)!) {
      const pl = layer.get(p);
      if (pl !== undefined) l = Math.max(l, pl + 1);
    }
    layer.set(id, l);
  };
  for (;;) {
    while (queue.length > 0) {
      const id = queue.shift()!;
      if (layer.has(id)) continue;
      settle(id);
      for (const s of succs.get(id)!) {
        const d = indeg.get(s)! - 1;
        indeg.set(s, d);
        if (d === 0) queue.push(s);
      }
    }
    // What is left sits on a cycle: break it at the first such node in document order.
    const stuck = ids.find((id) => !layer.has(id));
    if (stuck === undefined) break;
    indeg.set(stuck, 0);
    queue.push(stuck);
  }
  return layer;
}

/** Lays out `nodes` (plus the input pseudo-node when any edge starts there) and `edges`. */
export function layoutGraph(nodesIn: readonly LayoutNodeIn[], edgesIn: readonly LayoutEdgeIn[], opts: LayoutOptions = {}): GraphLayout {
  const w = opts.nodeWidth ?? 168;
  const h = opts.nodeHeight ?? 58;
  const gapX = opts.layerGap ?? 72;
  const gapY = opts.rowGap ?? 28;
  const margin = opts.margin ?? 16;
  const sweeps = opts.sweeps ?? 4;

  // Unique ids in document order; a duplicate id in a draft is drawn once.
  const ids: string[] = [];
  const seen = new Set<string>();
  const usesInput = edgesIn.some((e) => e.source === INPUT_NODE);
  if (usesInput) {
    ids.push(INPUT_NODE);
    seen.add(INPUT_NODE);
  }
  for (const n of nodesIn) {
    if (ids.length >= MAX_LAYOUT_NODES) break;
    if (typeof n.id !== 'string' || seen.has(n.id)) continue;
    seen.add(n.id);
    ids.push(n.id);
  }
  const edges: LayoutEdgeIn[] = [];
  const dangling: LayoutEdgeIn[] = [];
  for (const e of edgesIn) (seen.has(e.source) && seen.has(e.target) ? edges : dangling).push(e);

  const layerOf = longestPathLayers(ids, edges);
  const layerCount = Math.max(0, ...[...layerOf.values()].map((l) => l + 1));
  const layers: string[][] = Array.from({ length: layerCount }, () => []);
  for (const id of ids) layers[layerOf.get(id)!]!.push(id);

  // Barycenter ordering: neighbours in adjacent layers only (long edges pull through their ends).
  const up = new Map<string, string[]>(ids.map((id) => [id, []]));
  const down = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (layerOf.get(e.source)! < layerOf.get(e.target)!) {
      up.get(e.target)!.push(e.source);
      down.get(e.source)!.push(e.target);
    }
  }
  const rowOf = new Map<string, number>();
  const number = (l: readonly string[]): void => l.forEach((id, i) => rowOf.set(id, i));
  layers.forEach(number);
  const reorder = (layer: string[], neighbours: Map<string, string[]>): void => {
    const key = new Map<string, number>();
    for (const id of layer) {
      const ns = neighbours.get(id)!;
      // No neighbours: keep the current row, so unrelated nodes do not jump around.
      key.set(id, ns.length === 0 ? rowOf.get(id)! : ns.reduce((s, n) => s + rowOf.get(n)!, 0) / ns.length);
    }
    // Stable: equal keys keep their order (document order at first).
    layer.sort((a, b) => key.get(a)! - key.get(b)! || rowOf.get(a)! - rowOf.get(b)!);
    number(layer);
  };
  for (let s = 0; s < sweeps; s++) {
    if (s % 2 === 0) for (let l = 1; l < layers.length; l++) reorder(layers[l]!, up);
    else for (let l = layers.length - 2; l >= 0; l--) reorder(layers[l]!, down);
  }

  const tallest = Math.max(0, ...layers.map((l) => l.length));
  const innerH = tallest === 0 ? 0 : tallest * h + (tallest - 1) * gapY;
  const placed = new Map<string, PlacedNode>();
  layers.forEach((layer, li) => {
    const layerH = layer.length * h + (layer.length - 1) * gapY;
    // Each layer centred vertically on the tallest one.
    const y0 = margin + (innerH - layerH) / 2;
    layer.forEach((id, ri) => {
      placed.set(id, { id, layer: li, row: ri, x: margin + li * (w + gapX), y: y0 + ri * (h + gapY), width: w, height: h });
    });
  });

  const placedEdges: PlacedEdge[] = edges.map((e) => {
    const a = placed.get(e.source)!;
    const b = placed.get(e.target)!;
    const back = a.layer >= b.layer;
    let path: string;
    let labelX: number;
    let labelY: number;
    if (!back) {
      const x1 = a.x + a.width;
      const y1 = a.y + a.height / 2;
      const x2 = b.x;
      const y2 = b.y + b.height / 2;
      const mx = (x1 + x2) / 2;
      path = `M${r(x1)} ${r(y1)}C${r(mx)} ${r(y1)} ${r(mx)} ${r(y2)} ${r(x2)} ${r(y2)}`;
      labelX = mx;
      labelY = (y1 + y2) / 2;
    } else {
      // Around the bottom of both boxes, so a back edge does not hide behind the boxes.
      const x1 = a.x + a.width / 2;
      const y1 = a.y + a.height;
      const x2 = b.x + b.width / 2;
      const y2 = b.y + b.height;
      const dip = Math.max(y1, y2) + gapY * 0.8;
      path = `M${r(x1)} ${r(y1)}C${r(x1)} ${r(dip)} ${r(x2)} ${r(dip)} ${r(x2)} ${r(y2)}`;
      labelX = (x1 + x2) / 2;
      labelY = dip;
    }
    return { source: e.source, target: e.target, ...(e.when !== undefined ? { when: e.when } : {}), path, labelX: r(labelX), labelY: r(labelY), back };
  });

  return {
    nodes: ids.map((id) => placed.get(id)!),
    edges: placedEdges,
    dangling,
    width: layerCount === 0 ? 2 * margin : 2 * margin + layerCount * w + (layerCount - 1) * gapX,
    height: 2 * margin + innerH + gapY,
  };
}

/** Rounded to 0.1 px, so the SVG is stable text. */
function r(v: number): number {
  return Math.round(v * 10) / 10;
}
