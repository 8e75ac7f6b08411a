/**
 * The readable form of a profile report (cli/table.ts tables), printed by `cleave profile`
 * beside the JSON it writes: compute per backend and batch, the cut table, the links, and the
 * recommended placement per link and batch; for a workflow, its nodes and critical paths too.
 */
import { EDGE_CUT, CLOUD_CUT } from '../../shared/router/cost-model.js';
import { formatBytes, formatTable, type Cell } from '../table.js';
import type { ComputeStats } from './measure.js';
import type { CutProfile, LinkProfile, ModelProfile, ProfileReport } from './report.js';

const ms = (v: number | undefined): Cell => (v === undefined ? undefined : Math.round(v * 1000) / 1000);
const mbit = (bps: number): Cell => Math.round(bps / 1e4) / 100;

function computeRows(label: string, list: readonly ComputeStats[]): Cell[][] {
  return list.map((s) => [label, s.batch, ms(s.p50Ms), ms(s.p90Ms), ms(s.meanMs), s.runs]);
}

function cutRow(c: CutProfile, batch: number): Cell[] {
  const at = (l: readonly ComputeStats[] | undefined): Cell => ms(l?.find((s) => s.batch === batch)?.p50Ms);
  return [c.tensor, c.afterNode, formatBytes(c.activationBytesPerRow), formatBytes(c.transferBytesPerRow), formatBytes(c.int8BytesPerRow),
    formatBytes(c.headParamBytes), formatBytes(c.tailParamBytes), at(c.head), at(c.tail), at(c.cloudTail)];
}

/** The sections of one model's profile. */
export function formatModel(p: ModelProfile): string {
  const out: string[] = [];
  out.push(`model ${p.model} (${p.file}, ${formatBytes(p.fileBytes)}; inputs: ${p.inputs}); ${formatBytes(p.inputBytesPerRow)} in and ${formatBytes(p.outputBytesPerRow)} out per row`);
  const rows: Cell[][] = [];
  for (const c of p.compute) rows.push(...computeRows(`${c.backend} (${c.providers.join(',')})`, c.batches));
  if (p.cloud) {
    rows.push(...computeRows('cloud, as reported', p.cloud.batches));
    rows.push(...computeRows('cloud, round trip from here', p.cloud.wire));
  }
  if (p.edgeNode) rows.push(...computeRows(`edge node ${p.edgeNode.url}`, p.edgeNode.batches));
  out.push('', 'compute, ms per call', formatTable(['where', 'batch', 'p50', 'p90', 'mean', 'runs'], rows));
  if (p.cloudError) out.push(`cloud: not measured: ${p.cloudError}`);
  if (p.edgeNodeError) out.push(`edge node: not measured: ${p.edgeNodeError}`);
  if (p.cuts.length > 0) {
    const batch = p.cuts[0]!.head[0]?.batch ?? 1;
    out.push('', `cuts (the frontier: each sends less than the input and every earlier cut); ms at batch ${batch}`,
      formatTable(['cut', 'after node', 'activation/row', 'sent/row', 'int8/row', 'head params', 'tail params', 'head ms', 'tail ms', 'cloud tail ms'], p.cuts.map((c) => cutRow(c, batch))));
  }
  out.push('', 'recommended placement (router cost model)', formatTable(
    ['link', 'batch', 'placement', 'expected ms', 'edge ms', 'cloud ms', 'best cut ms', 'reason'],
    p.recommendations.map((r) => {
      const of = (cut: string): number | undefined => r.options.find((o) => o.placement === cut)?.totalMs;
      const cuts = r.options.filter((o) => o.placement !== EDGE_CUT && o.placement !== CLOUD_CUT).map((o) => o.totalMs);
      return [r.link, r.batch, r.placement === EDGE_CUT || r.placement === CLOUD_CUT ? r.placement : `cut:${r.placement}`, ms(r.expectedMs), ms(of(EDGE_CUT)), ms(of(CLOUD_CUT)), cuts.length ? ms(Math.min(...cuts)) : undefined, r.reason];
    }),
  ));
  if (p.recommendations.some((r) => r.options.some((o) => o.prior))) {
    out.push('(prior: figures not measured against a cloud are this machine\'s, e.g. the cloud\'s compute without --cloud)');
  }
  return out.join('\n');
}

function linkTable(links: readonly LinkProfile[]): string {
  return formatTable(['link', 'rtt ms', 'up Mbit/s', 'down Mbit/s', 'source'], links.map((l) => [
    l.name, ms(l.rttMs), mbit(l.upBitsPerSec), mbit(l.downBitsPerSec), l.measured ? (l.prior ? 'measured RTT, bandwidth prior' : 'measured') : 'reference',
  ]));
}

/** The whole report as text. */
export function formatReport(r: ProfileReport): string {
  const out: string[] = [];
  out.push(`cleave profile on ${r.host.platform}/${r.host.arch}, ${r.host.cpus} cpus, node ${r.host.node}; batches ${r.settings.batches.join(', ')}; ${r.settings.runs} runs after ${r.settings.warmup} warm-up`);
  if (r.cloud) out.push(`cloud ${r.cloud.url} (${r.cloud.device}): PING p50 ${ms(r.cloud.rtt.p50Ms)} ms, p90 ${ms(r.cloud.rtt.p90Ms)} ms; ${r.cloud.upSamples} upload samples`);
  out.push('', linkTable(r.links));
  if (r.model) out.push('', formatModel(r.model));
  if (r.workflow) {
    const w = r.workflow;
    out.push('', `workflow ${w.name} (${w.file})`, formatTable(['node', 'type', 'model', 'placement'], w.nodes.map((n) => [n.node, n.type, n.model, n.policy ?? (n.type === 'split-model' ? 'auto (cut)' : 'inline')])));
    out.push('', 'critical path (expected ms with the cost model\'s best placement per node)', formatTable(['link', 'batch', 'ms', 'path'], w.criticalPaths.map((c) => [c.link, c.batch, ms(c.ms), c.path.join(' -> ')])));
    for (const p of Object.values(w.models)) out.push('', formatModel(p));
  }
  return out.join('\n');
}
