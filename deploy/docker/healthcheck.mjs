#!/usr/bin/env node
// Container health check (Dockerfile HEALTHCHECK, compose healthcheck): GET /v2/health/<ready|live>
// on this container's own port, CLEAVE_PORT. A script rather than curl because the images carry
// Node and nothing else that speaks HTTP.
//
//   node deploy/docker/healthcheck.mjs [ready|live]    exit 0 healthy, 1 unhealthy, 2 misused
//
// Readiness is the default: it turns 200 once the models are warm and back to 503 while the
// server drains, which is what compose's `depends_on: condition: service_healthy` should wait on.

/** How long one check may take, ms; Docker's own --timeout should be longer. */
const TIMEOUT_MS = 2000;

const which = process.argv[2] ?? 'ready';
if (which !== 'ready' && which !== 'live') {
  process.stderr.write(`healthcheck: endpoint ${JSON.stringify(which)} is not valid; expected ready or live\n`);
  process.exit(2);
}
const port = process.env.CLEAVE_PORT ?? '';
if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
  process.stderr.write(`healthcheck: CLEAVE_PORT = ${JSON.stringify(port)} is not valid; expected the port the server listens on, 1 to 65535\n`);
  process.exit(2);
}
try {
  const res = await fetch(`http://127.0.0.1:${port}/v2/health/${which}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  process.exit(res.ok ? 0 : 1);
} catch (e) {
  process.stderr.write(`healthcheck: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
