/**
 * A model's vital statistics: inputs and outputs with types, operator histogram, parameters,
 * opsets and metadata. What `cleave inspect` prints and what model metadata endpoints serve.
 */
import { dtypeSize, maybeDTypeFromCode } from './dtype.js';
import { unknownOps } from './ops.js';
import { elementCount } from './tensor-data.js';
import { formatType, valueTypeOf, type ValueType } from './shape/value-type.js';
import type { ModelProto } from './types.js';

export interface ModelSummary {
  graphName: string;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; type: ValueType | undefined; display: string }[];
  outputs: { name: string; type: ValueType | undefined; display: string }[];
  nodes: number;
  /** Op type -> count, most frequent first. */
  ops: { op: string; count: number }[];
  parameters: number;
  parameterBytes: number;
  /** Parameter bytes by element type, e.g. { float32: 1.2e6, int8: 3e5 }. */
  parameterBytesByDType: Record<string, number>;
  metadata: Record<string, string>;
  unknownOps: string[];
}

export function inspectModel(m: ModelProto): ModelSummary {
  const initNames = new Set(m.graph.initializer.map((t) => t.name));
  const io = (vs: ModelProto['graph']['input']) =>
    vs.filter((v) => !initNames.has(v.name)).map((v) => {
      const type = valueTypeOf(v);
      return { name: v.name, type, display: formatType(type) };
    });
  const hist = new Map<string, number>();
  for (const n of m.graph.node) {
    const key = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    hist.set(key, (hist.get(key) ?? 0) + 1);
  }
  let parameters = 0;
  let parameterBytes = 0;
  const byDType: Record<string, number> = {};
  for (const t of m.graph.initializer) {
    const n = elementCount(t.dims);
    const dtype = maybeDTypeFromCode(t.dataType) ?? `type${t.dataType}`;
    const size = maybeDTypeFromCode(t.dataType) ? dtypeSize(maybeDTypeFromCode(t.dataType)!) : 0;
    parameters += n;
    parameterBytes += n * size;
    byDType[dtype] = (byDType[dtype] ?? 0) + n * size;
  }
  return {
    graphName: m.graph.name,
    irVersion: m.irVersion,
    producer: [m.producerName, m.producerVersion].filter(Boolean).join(' '),
    opsets: m.opsetImport.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    inputs: io(m.graph.input),
    outputs: io(m.graph.output),
    nodes: m.graph.node.length,
    ops: [...hist.entries()].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || (a.op < b.op ? -1 : 1)),
    parameters,
    parameterBytes,
    parameterBytesByDType: byDType,
    metadata: Object.fromEntries(m.metadataProps.map((e) => [e.key, e.value])),
    unknownOps: [...new Set(unknownOps(m).map((u) => (u.domain ? `${u.domain}::${u.opType}` : u.opType)))],
  };
}
