/**
 * Prometheus metrics of an edge node: requests by where they were served and how the cache
 * answered, time per Server-Timing segment, cache events and size, and the cloud link (state,
 * RTT, reconnects). prom-client runs in workerd under `nodejs_compat` as well as in Node, so both
 * entries share this file; process metrics are a Node-only extra the Node entry turns on. One
 * Registry per app, so several apps in one process do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LinkState, LinkStatus } from './cloud-transport.js';
import type { CacheEvent } from './result-cache.js';

/** Latency buckets, seconds: 0.125 ms .. 4 s, doubling. */
const LATENCY_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.000125 * 2 ** i);
const LINK_STATES: readonly LinkState[] = ['disabled', 'connecting', 'connected', 'down'];

export class EdgeMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'cleave_edge_requests_total',
    help: 'Inference requests answered by the edge, by model, tier that computed it (edge, cloud, none on error), cache status and outcome code (ok or an error code).',
    labelNames: ['model', 'served_by', 'cache', 'code'] as const, registers: [this.registry],
  });
  readonly degraded = new Counter({
    name: 'cleave_edge_degraded_total',
    help: 'Requests for a cloud model answered by its edge fallback because the cloud was unavailable.',
    labelNames: ['model', 'fallback'] as const, registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'cleave_edge_request_duration_seconds',
    help: 'Time from reading a request to its answer at the edge, seconds.',
    labelNames: ['model', 'served_by'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
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

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'cleave_process_' });
  }

  // prom-client hashes the label object on every call; the hot path keeps the bound children.
  private readonly okChildren = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();
  private readonly segmentChildren = new Map<string, { observe(v: number): void }>();

  /** Records one answered request: count, duration and its Server-Timing segments (ms). */
  answered(model: string, servedBy: string, cache: string, totalMs: number, segments: readonly (readonly [string, number | undefined])[]): void {
    const key = `${model}\u0000${servedBy}\u0000${cache}`;
    let c = this.okChildren.get(key);
    if (!c) {
      c = { count: this.requests.labels({ model, served_by: servedBy, cache, code: 'ok' }), duration: this.requestDuration.labels({ model, served_by: servedBy }) };
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
