/**
 * The cloud tier's own view (the same bundle, served by the cloud with `data-mode="cloud"`): its
 * models with their state, queue depth and batching, the sizes of the batches it ran, queue depth
 * over the time this page has been open, and the edges connected over the protocol WebSocket.
 * Reads GET /v1/dashboard/overview of the cloud every 2 s.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { barChart, lineChart } from '../../../shared/charts/svg-chart.js';
import { api, forgetKey, KEY_STORAGE } from '../api.js';
import { bytes, clockTime, ms } from '../format.js';
import { html } from '../html.js';
import { usePolling } from '../use-polling.js';

/** Queue-depth samples kept per model (2 s apart: 10 minutes). */
const HISTORY = 300;
/** Most models drawn in the queue chart. */
const MAX_QUEUE_SERIES = 8;

function Svg({ svg, name }: { svg: string; name: string }) {
  return html`<div class="chart" data-chart=${name} dangerouslySetInnerHTML=${{ __html: svg }}></div>`;
}

export function CloudView() {
  const overview = usePolling(() => api.cloudOverview(), []);
  const t0 = useRef(performance.now());
  const [queue, setQueue] = useState<Map<string, [number, number][]>>(new Map());
  const [showAll, setShowAll] = useState(false);
  const o = overview.data;

  useEffect(() => {
    if (!o || overview.at === undefined) return;
    const t = (overview.at - t0.current) / 1000;
    setQueue((prev) => {
      const next = new Map(prev);
      for (const m of o.models) {
        const key = `${m.name}@${m.version}`;
        next.set(key, [...(next.get(key) ?? []), [t, m.queued ?? 0] as [number, number]].slice(-HISTORY));
      }
      return next;
    });
  }, [overview.at]);

  let keyed = false;
  try {
    keyed = sessionStorage.getItem(KEY_STORAGE) !== null;
  } catch {
    keyed = false;
  }
  const logout = async (): Promise<void> => {
    await api.logout().catch(() => undefined);
    forgetKey();
    location.assign('/dashboard/login');
  };

  const sizes = o ? [...new Set(o.models.flatMap((m) => Object.keys(m.batches ?? {})))].map(Number).sort((a, b) => a - b) : [];
  const withBatches = o?.models.filter((m) => Object.values(m.batches ?? {}).some((n) => n > 0)) ?? [];
  const batchChart = withBatches.length === 0 ? null : barChart({
    title: 'batches executed, by size', xLabel: 'rows per batch', yLabel: 'batches', width: 560, height: 300, idPrefix: 'chart-batches',
    categories: sizes.map((s) => `≤${s}`),
    series: withBatches.map((m) => ({ name: `${m.name}@${m.version}`, values: sizes.map((s) => m.batches?.[String(s)] ?? 0) })),
  });
  // Only models that queued anything: an idle repository would draw a flat line per model.
  const queued = [...queue].filter(([, pts]) => pts.some(([, q]) => q > 0)).slice(0, MAX_QUEUE_SERIES);
  const queueChart = queued.length === 0 ? null : lineChart({
    title: 'queue depth while this page is open', xLabel: 'seconds', yLabel: 'requests queued', width: 560, height: 300, idPrefix: 'chart-queue',
    series: queued.map(([name, points]) => ({ name, points })),
  });
  // Never-loaded models (on-demand split tails, unloaded versions) are folded away unless asked for.
  const active = (m: NonNullable<typeof o>['models'][number]): boolean =>
    m.state !== 'UNAVAILABLE' || m.reason !== undefined || (m.queued ?? 0) > 0 || Object.values(m.batches ?? {}).some((n) => n > 0);
  const models = (o?.models ?? []).filter((m) => showAll || active(m));
  const hidden = (o?.models.length ?? 0) - models.length;

  return html`<div class="shell">
    <header class="top">
      <h1>Cleave <small>${o ? `${o.cloud.name} ${o.cloud.version} · ${o.cloud.device}` : 'cloud'}</small></h1>
      <dl class="stats">
        <div><dt>ready</dt><dd><span class=${`badge ${o?.cloud.ready ? 'link-connected' : 'link-down'}`}>${o ? (o.cloud.ready ? 'ready' : 'not ready') : '-'}</span></dd></div>
        <div><dt>model memory</dt><dd>${o?.cloud.memoryInUse !== undefined ? `${bytes(o.cloud.memoryInUse)}${o.cloud.memoryBudget ? ` of ${bytes(o.cloud.memoryBudget)}` : ''}` : '-'}</dd></div>
        <div><dt>edges</dt><dd data-edge-count>${o?.edges.length ?? '-'}</dd></div>
      </dl>
      <div class="actions">
        ${overview.paused ? html`<span class="badge paused">paused (tab hidden)</span>` : null}
        ${overview.error ? html`<span class="badge error" title=${overview.error.message}>${(overview.error as { code?: string }).code ?? 'error'}</span>` : null}
        ${keyed ? html`<button type="button" class="secondary" onClick=${logout}>Log out</button>` : null}
      </div>
    </header>
    <main class="cloud">
      <h2>Models</h2>
      <table class="models">
        <thead><tr><th>model</th><th>state</th><th>memory</th><th>queued</th><th>running</th><th>queue (EWMA)</th><th>compute per batch (EWMA)</th><th>batch size (EWMA)</th></tr></thead>
        <tbody>${models.map((m) => html`<tr data-model=${`${m.name}@${m.version}`}>
          <td>${m.name} <small>v${m.version}</small></td><td title=${m.reason ?? ''}>${m.state}</td><td>${bytes(m.bytes)}</td>
          <td>${m.queued ?? 0}</td><td>${m.running ?? 0}</td><td>${ms(m.queueMs)}</td><td>${ms(m.computeMs)}</td><td>${m.batchSize !== undefined ? m.batchSize.toFixed(2) : '-'}</td></tr>`)}</tbody>
      </table>
      ${hidden > 0 || showAll ? html`<p><button type="button" class="link" id="toggle-models" onClick=${() => setShowAll(!showAll)}>${showAll ? 'hide models never loaded' : `show ${hidden} more never loaded (on-demand split tails, old versions)`}</button></p>` : null}
      <div class="charts">
        ${batchChart ? html`<${Svg} svg=${batchChart} name="batches" />` : html`<p class="muted">no batches executed yet.</p>`}
        ${queueChart ? html`<${Svg} svg=${queueChart} name="queue" />` : html`<p class="muted">no request has queued while this page is open.</p>`}
      </div>
      <h2>Connected edges</h2>
      ${o && o.edges.length === 0 ? html`<p class="muted">no edge is connected.</p>` : null}
      <table class="edges">
        <thead><tr><th>session</th><th>from</th><th>connected at</th><th>runs in flight</th></tr></thead>
        <tbody>${(o?.edges ?? []).map((e) => html`<tr><td class="mono">${e.id.slice(0, 8)}</td><td>${e.remote ?? '-'}</td><td>${clockTime(e.connectedAt)}</td><td>${e.inFlight}</td></tr>`)}</tbody>
      </table>
    </main>
  </div>`;
}
