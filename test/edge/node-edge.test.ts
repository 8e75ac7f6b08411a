// The edge conformance suite against `cleave edge` on Node: a real child process, its models on
// onnxruntime-node, its cloud link over `ws` to a real `cleave cloud` process.
import { startEdgeProcess } from '../helpers/edge.js';
import { edgeConformance } from './conformance.js';

edgeConformance('Node edge process', (opts) => startEdgeProcess([
  ...(opts.cloudUrl !== undefined ? ['--cloud', opts.cloudUrl] : []),
  ...(opts.maxBodyBytes !== undefined ? ['--max-body-bytes', String(opts.maxBodyBytes)] : []),
]), { expectCoalesced: true });
