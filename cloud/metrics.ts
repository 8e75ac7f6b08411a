/**
 * Prometheus metrics of the cloud tier, named after Triton's (nv_inference_request_success,
 * nv_inference_queue_duration_us, ...) in Prometheus' own conventions: a `cleave_` prefix,
 * seconds, `_total` counters. One Registry per server, so several servers in one process (tests,
 * benches) do not share counters. docs/observability.md lists every metric with its labels.
 *
 * `cleave_inference_pending_request_count` is the queue depth a HorizontalPodAutoscaler scales on
 * (deploy/): its name and its `model` label are part of the deployment contract; keep them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets, seconds: 0.25 ms .. 8 s, doubling. */
const LATENCY_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);
/** Batch size buckets, rows. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class CloudMetrics {
  readonly registry = new Registry();

  readonly requestSuccess = new Counter({
    name: 'cleave_inference_request_success_total',
    help: 'Inference requests that returned a result (Triton: nv_inference_request_success).',
    labelNames: ['model', 'version'] as const, registers: [this.registry],
  });
  readonly requestFailure = new Counter({
    name: 'cleave_inference_request_failure_total',
    help: 'Inference requests that ended in an error, by error code (Triton: nv_inference_request_failure).',
    labelNames: ['model', 'version', 'code'] as const, registers: [this.registry],
  });
  readonly inferenceCount = new Counter({
    name: 'cleave_inference_count_total',
    help: 'Inferences performed: rows, so a request of batch 4 counts 4 (Triton: nv_inference_count).',
    labelNames: ['model', 'version'] as const, registers: [this.registry],
  });
  readonly execCount = new Counter({
    name: 'cleave_inference_exec_count_total',
    help: 'Model executions: batches the dynamic batcher ran (Triton: nv_inference_exec_count).',
    labelNames: ['model', 'version'] as const, registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'cleave_inference_request_duration_seconds',
    help: 'Time from receiving a request to its answer, seconds.',
    labelNames: ['model', 'version', 'protocol'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly queueDuration = new Histogram({
    name: 'cleave_inference_queue_duration_seconds',
    help: 'Time a request waited in the dynamic batcher queue, seconds.',
    labelNames: ['model', 'version'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly computeDuration = new Histogram({
    name: 'cleave_inference_compute_duration_seconds',
    help: 'Time one batch spent in the inference backend, seconds.',
    labelNames: ['model', 'version'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'cleave_inference_batch_size',
    help: 'Rows per executed batch.',
    labelNames: ['model', 'version'] as const, buckets: BATCH_BUCKETS, registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: 'cleave_inference_pending_request_count',
    help: 'Requests waiting in the batcher queue now, by model, all versions together (Triton: nv_inference_pending_request_count). Read at each scrape.',
    labelNames: ['model'] as const, registers: [this.registry],
    collect: () => this.collectQueues(),
  });
  readonly modelCacheHits = new Counter({
    name: 'cleave_model_cache_hits_total',
    help: 'Requests whose model was already loaded.',
    labelNames: ['model'] as const, registers: [this.registry],
  });
  readonly modelCacheMisses = new Counter({
    name: 'cleave_model_cache_misses_total',
    help: 'Requests that had to (re)load their model first.',
    labelNames: ['model'] as const, registers: [this.registry],
  });
  readonly modelEvents = new Counter({
    name: 'cleave_model_repository_events_total',
    help: 'Model lifecycle events: load, unload, evict (LRU under the memory budget), load-failed.',
    labelNames: ['model', 'event'] as const, registers: [this.registry],
  });
  readonly modelMemory = new Gauge({
    name: 'cleave_model_repository_memory_bytes',
    help: 'Estimated resident bytes of loaded models.',
    registers: [this.registry],
  });
  readonly modelMemoryBudget = new Gauge({
    name: 'cleave_model_repository_memory_budget_bytes',
    help: 'Memory budget for loaded models, bytes; 0 means unlimited.',
    registers: [this.registry],
  });
  readonly connections = new Gauge({
    name: 'cleave_ws_connections',
    help: 'Open protocol WebSocket connections.',
    registers: [this.registry],
  });
  readonly streams = new Gauge({
    name: 'cleave_ws_streams_in_flight',
    help: 'Protocol runs in flight over all connections.',
    registers: [this.registry],
  });
  readonly protocolErrors = new Counter({
    name: 'cleave_protocol_errors_total',
    help: 'Protocol errors sent to peers, by code (malformed frames, credit overruns, auth failures).',
    labelNames: ['code'] as const, registers: [this.registry],
  });

  private queueDepths: (() => ReadonlyMap<string, number>) | undefined;

  constructor(opts: { processMetrics?: boolean } = {}) {
    // Process metrics (CPU, RSS, event loop lag) matter in production; tests turn them off to keep scrapes small.
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'cleave_process_' });
  }

  /**
   * Where the queue depths are read at each scrape (the InferenceService's batchers): requests
   * queued per model. A model stays listed (at 0) once it has had a batcher, so the series an
   * autoscaler watches does not vanish when the queue empties.
   */
  watchQueues(depths: () => ReadonlyMap<string, number>): void {
    this.queueDepths = depths;
  }

  private collectQueues(): void {
    const depths = this.queueDepths?.();
    if (!depths) return;
    for (const [model, n] of depths) this.pending.set({ model }, n);
  }

  /** Text exposition format. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
