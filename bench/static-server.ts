/**
 * The baseline of the cache-hit figure in `cleave bench edge`: the cheapest answer a Hono app on
 * @hono/node-server can give to the same request. Its POST route reads the body, ignores it, and
 * answers the fixed KServe JSON body in STATIC_BODY (the bench passes the edge's own cached
 * answer, so both servers send the same bytes). Prints `ready: <url>`.
 *
 *   STATIC_BODY='{"model_name":...}' node --import tsx bench/static-server.ts
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const answer = process.env.STATIC_BODY ?? '{}';

const app = new Hono();
app.post('/v2/models/:name/infer', async (c) => {
  await c.req.arrayBuffer();
  return c.body(answer, 200, { 'content-type': 'application/json' });
});

serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`ready: http://127.0.0.1:${info.port}\n`);
});
