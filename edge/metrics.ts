/**
 * Prometheus metrics of an edge node: requests by where they were served, how the cache answered
 * and which tenant asked, time per Server-Timing segment, cache events and size, the cloud link
 * (state, RTT, reconnects), and the router: its decisions, how far its estimates were from the
 * runs, and the link estimates it decides with. prom-client runs in workerd under `nodejs_compat`
 * as well as in Node, so both entries share this file; process metrics are a Node-only extra the
 * Node entry turns on. One Registry per app, so several apps in one process do not share counters.
 * docs/observability.md lists every metric with its labels.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundedLabel } from '../shared/observability/bounded-label.js';
import { estimateError, type DecisionObservation } from '../shared/observability/router-decisions.js';
import type { LinkSnapshot } from '../shared/router/link-estimator.js';
import type { LinkState, LinkStatus } from './cloud-transport.js';
import type { CacheEvent } from './result-cache.js';

/** Latency buckets, seconds: 0.125 ms .. 4 s, doubling. */
const LATENCY_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.000125 * 2 ** i);
/**
 * Buckets of actual / expected latency, around 1 (a perfect estimate): 0.9..1.1 is "right",
 * under 0.5 or over 2 is "off by 2x or more".
 */
export const ESTIMATE_RATIO_BUCKETS = [0.25, 0.5, 0.67, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 4];
const LINK_STATES: readonly LinkState[] = ['disabled', 'connecting', 'connected', 'down'];

/** Options of EdgeMetrics. */
export interface EdgeMetricsOptions {
  /** Node process metrics (CPU, memory, event loop) under `cleave_process_`. Default false. */
  readonly processMetrics?: boolean;
  /** Most distinct tenant label values; later tenants are counted as `_other`. Default 100. */
  readonly maxTenants?: number;
}

export class EdgeMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'cleave_edge_requests_total',
    help: 'Inference requests answered by the edge, by model, tier that computed it (edge, cloud, none on error), cache status, outcome code (ok or an error code) and tenant (at most maxTenants values, then _other).',
    labelNames: ['model', 'served_by', 'cache', 'code', 'tenant'] as const, registers: [this.registry],
  });
  readonly degraded = new Counter({
    name: 'cleave_edge_degraded_total',
    help: 'Requests for a cloud model answered by its edge fallback because the cloud was unavailable.',
    labelNames: ['model', 'fallback'] as const, registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'cleave_edge_request_duration_seconds',
    help: 'Time from reading a request to its answer at the edge, seconds, by model, serving tier and tenant.',
    labelNames: ['model', 'served_by', 'tenant'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly segmentDuration = new Histogram({
    name: 'cleave_edge_segment_duration_seconds',
    help: 'Time per Server-Timing segment (cache, edge, link, cloud-queue, cloud-compute), seconds.',
    labelNames: ['segment'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly cacheEvents = new Counter({
    name: 'cleave_edge_cache_events_total',
    help: 'Result cache events: hit, miss, coalesced, bypass, refresh, eviction, expired, too-large.',
    labelNames: ['event'] as const, registers: [this.registry],
  });
  readonly cacheBytes = new Gauge({ name: 'cleave_edge_cache_bytes', help: 'Bytes held by the result cache.', registers: [this.registry] });
  readonly cacheEntries = new Gauge({ name: 'cleave_edge_cache_entries', help: 'Entries held by the result cache.', registers: [this.registry] });
  readonly linkState = new Gauge({
    name: 'cleave_edge_link_state',
    help: 'Cloud link state: 1 for the current state, 0 for the others.',
    labelNames: ['state'] as const, registers: [this.registry],
  });
  readonly linkRtt = new Gauge({ name: 'cleave_edge_link_rtt_seconds', help: 'EWMA of the cloud link round trip (PING/PONG), seconds.', registers: [this.registry] });
  readonly linkConnects = new Gauge({ name: 'cleave_edge_link_connects', help: 'Successful handshakes with the cloud since start (more than 1 means reconnects).', registers: [this.registry] });
  readonly wsConnections = new Gauge({ name: 'cleave_edge_ws_connections', help: 'Client WebSocket connections open.', registers: [this.registry] });
  readonly wsStreams = new Gauge({ name: 'cleave_edge_ws_streams_in_flight', help: 'Client WebSocket runs in flight.', registers: [this.registry] });
  readonly protocolErrors = new Counter({
    name: 'cleave_edge_protocol_errors_total',
    help: 'Protocol errors sent to WebSocket clients, by code.',
    labelNames: ['code'] as const, registers: [this.registry],
  });

  readonly routerDecisions = new Counter({
    name: 'cleave_edge_router_decisions_total',
    help: 'Placements the router made for requests that ran: kind (model, workflow-node), model, choice (edge, cloud, exit, cut:<tensor> from the model\'s finite cut candidates) and probe (true when the losing tier was re-measured).',
    labelNames: ['kind', 'model', 'choice', 'probe'] as const, registers: [this.registry],
  });
  readonly estimateErrorRatio = new Histogram({
    name: 'cleave_edge_router_estimate_error_ratio',
    help: 'Actual over expected latency of a routed run (1 = exact; above 1 the router was optimistic), by kind, tier (edge, cloud, split) and prior (true when a term of the estimate was a prior).',
    labelNames: ['kind', 'tier', 'prior'] as const, buckets: ESTIMATE_RATIO_BUCKETS, registers: [this.registry],
  });
  readonly estimateErrorSeconds = new Histogram({
    name: 'cleave_edge_router_estimate_error_seconds',
    help: 'Absolute difference between actual and expected latency of a routed run, seconds, by kind, tier and prior.',
    labelNames: ['kind', 'tier', 'prior'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly routerLinkRtt = new Gauge({
    name: 'cleave_edge_router_link_rtt_seconds',
    help: 'Link RTT estimate the router prices cloud runs with (traffic and heartbeat samples, or the prior), seconds.',
    registers: [this.registry], collect: () => this.collectLinkEstimates(),
  });
  readonly routerLinkBandwidth = new Gauge({
    name: 'cleave_edge_router_link_bandwidth_bits_per_second',
    help: 'Link bandwidth estimate the router prices transfers with, bit/s, by direction (up: edge to cloud, down: cloud to edge).',
    labelNames: ['direction'] as const, registers: [this.registry],
  });
  readonly routerLinkPrior = new Gauge({
    name: 'cleave_edge_router_link_prior',
    help: '1 while at least one of the router\'s link estimates (RTT, up, down) is still a prior, else 0.',
    registers: [this.registry],
  });

  readonly tenantRejections = new Counter({
    name: 'cleave_edge_tenant_rejections_total',
    help: 'Requests the tenant guard turned away, by reason (unauthorized 401, forbidden 403, rate-limited and concurrency 429) and tenant (unknown before a key verified; bounded like the request counter).',
    labelNames: ['reason', 'tenant'] as const, registers: [this.registry],
  });

  private readonly tenants: BoundedLabel;
  private linkEstimates: (() => LinkSnapshot) | undefined;

  constructor(opts: EdgeMetricsOptions = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'cleave_process_' });
    this.tenants = new BoundedLabel(opts.maxTenants !== undefined ? { max: opts.maxTenants } : {});
  }

  // prom-client hashes the label object on every call; the hot path keeps the bound children.
  private readonly okChildren = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();
  private readonly segmentChildren = new Map<string, { observe(v: number): void }>();

  /** Counts one request the tenant guard refused; `tenant` is unknown until a key verified. */
  rejected(reason: string, tenant: string | undefined): void {
    this.tenantRejections.inc({ reason, tenant: tenant === undefined ? 'unknown' : this.tenants.value(tenant) });
  }

  /** The tenant label value of `tenant` (bounded: see EdgeMetricsOptions.maxTenants). */
  tenantLabel(tenant: string): string {
    return this.tenants.value(tenant);
  }

  /** Records one answered request: count, duration and its Server-Timing segments (ms). Tenant default `default`. */
  answered(model: string, servedBy: string, cache: string, totalMs: number, segments: readonly (readonly [string, number | undefined])[], tenant = 'default'): void {
    const t = this.tenants.value(tenant);
    const key = `${model}\u0000${servedBy}\u0000${cache}\u0000${t}`;
    let c = this.okChildren.get(key);
    if (!c) {
      c = { count: this.requests.labels({ model, served_by: servedBy, cache, code: 'ok', tenant: t }), duration: this.requestDuration.labels({ model, served_by: servedBy, tenant: t }) };
      this.okChildren.set(key, c);
    }
    c.count.inc();
    c.duration.observe(totalMs / 1000);
    for (const [segment, ms] of segments) {
      if (ms === undefined) continue;
      let h = this.segmentChildren.get(segment);
      if (!h) {
        h = this.segmentDuration.labels({ segment });
        this.segmentChildren.set(segment, h);
      }
      h.observe(ms / 1000);
    }
  }

  /** Counts one failed request (`model` '(unknown)' when the name did not resolve). */
  failed(model: string, code: string, tenant = 'default'): void {
    this.requests.inc({ model, served_by: 'none', cache: 'none', code, tenant: this.tenants.value(tenant) });
  }

  /** Counts one router decision and, when it has one, observes its estimate error. */
  decision(d: DecisionObservation): void {
    this.routerDecisions.inc({ kind: d.kind, model: d.model, choice: d.choice, probe: String(d.probe) });
    const e = d.estimate;
    if (!e) return;
    const err = estimateError(e.expectedMs, e.actualMs);
    if (!err) return;
    const labels = { kind: d.kind, tier: e.tier, prior: String(e.prior) };
    this.estimateErrorRatio.observe(labels, err.ratio);
    this.estimateErrorSeconds.observe(labels, err.absSeconds);
  }

  /** Where the router's link estimates are read at each scrape (the edge's LiveEstimates.link). */
  watchLinkEstimates(snapshot: () => LinkSnapshot): void {
    this.linkEstimates = snapshot;
  }

  private collectLinkEstimates(): void {
    const s = this.linkEstimates?.();
    if (!s) return;
    this.routerLinkRtt.set(s.rttMs / 1000);
    this.routerLinkBandwidth.set({ direction: 'up' }, s.upBitsPerSec);
    this.routerLinkBandwidth.set({ direction: 'down' }, s.downBitsPerSec);
    this.routerLinkPrior.set(s.priorUsed ? 1 : 0);
  }

  /** Counts one cache event. */
  cacheEvent(e: CacheEvent): void {
    this.cacheEvents.inc({ event: e });
  }

  /** Copies the link's state into the gauges (called before each scrape). */
  observeLink(s: LinkStatus): void {
    for (const st of LINK_STATES) this.linkState.set({ state: st }, st === s.state ? 1 : 0);
    if (s.rttMs !== undefined) this.linkRtt.set(s.rttMs / 1000);
    this.linkConnects.set(s.connects);
  }

  /** Text exposition format. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
