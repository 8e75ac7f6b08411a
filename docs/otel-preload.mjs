// Example preload that exports Cleave's spans with OpenTelemetry (docs/observability.md).
//
// NOT loaded by default, and not a dependency of Cleave: Cleave only calls @opentelemetry/api,
// which records nothing until an SDK registers a tracer provider. This file is that SDK, for a
// deployment that wants it. Install the SDK packages next to Cleave (OpenTelemetry JS SDK 2.x):
//
//   npm install @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-http @opentelemetry/resources
//
// then preload it into either tier (Node >= 20.6):
//
//   OTEL_SERVICE_NAME=cleave-cloud OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318 \
//     node --import ./docs/otel-preload.mjs bin/cleave.mjs cloud
//   OTEL_SERVICE_NAME=cleave-edge OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318 \
//     node --import ./docs/otel-preload.mjs bin/cleave.mjs edge --cloud ws://cloud:9000/v1/ws
//
// The OTLP exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318). The default
// sampler is ParentBased(AlwaysOn): a request whose traceparent says "not sampled" (flags 00) is not
// exported; set OTEL_TRACES_SAMPLER=traceidratio and OTEL_TRACES_SAMPLER_ARG=0.1 to keep 10 % of new traces.
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'cleave' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
// Registers the provider with @opentelemetry/api: from here on trace.getTracer('cleave') records.
provider.register();

// Cleave exits with process.exit() once its SIGTERM drain is over, which leaves no turn for an
// async flush; so flushing starts with the signal and runs beside the drain. Spans that end later
// in the drain go out with the processor's next batch if the process is still there.
const flush = () => {
  provider.forceFlush().catch((e) => process.stderr.write(`otel flush failed: ${e.message}\n`));
};
process.once('SIGTERM', flush);
process.once('SIGINT', flush);
process.once('beforeExit', () => { void provider.shutdown(); });
