/**
 * The Cleave client SDK: fetch and WebSocket only, so the same code runs in browsers, React
 * Native, workerd and Node (docs/client.md).
 *
 *   const client = new CleaveClient({ edges: ['https://edge-a.example.com', 'https://edge-b.example.com'] });
 *   const r = await client.infer('mlp-small', { x: tensor(new Float32Array(64), [1, 64]) }, { deadlineMs: 200 });
 *   r.outputs.logits;          // a TypedTensor; r.servedBy, r.cache, r.timing, r.edge say how it was answered
 *
 * Every call has a deadline (its own or defaultDeadlineMs): sent to the edge as
 * `x-cleave-deadline-ms` (what is left of it at each attempt) and enforced here with an
 * AbortSignal, so a blackholed edge cannot hold a call past it. A caller's AbortSignal cancels.
 * Edges are chosen by probing (edge-selector.ts); failed attempts are retried only where safe
 * (retry-policy.ts). Every failure is a CleaveError with the edge's code, or CLEAVE_E_DEADLINE,
 * CLEAVE_E_CANCELLED, CLEAVE_E_UNAVAILABLE (no edge reachable) from here.
 */
import { CleaveError, toCleaveError } from '../errors.js';
import { ProtocolClient } from '../protocol/client.js';
import type { HostTensor } from '../tensor.js';
import { CallScope } from './call-scope.js';
import { callDeadline, resolveClientOptions, type CleaveClientOptions, type ResolvedClientOptions } from './client-options.js';
import { EdgeSelector, type EdgeState } from './edge-selector.js';
import { EdgeSession } from './edge-session.js';
import { EdgePoster, type Sent } from './edge-poster.js';
import { decodeNativeAnswer, encodeNativeBody, JSON_TYPE, MSGPACK_TYPE, type CacheMode, type EdgeTiming, type WireFormat } from './native-body.js';
import { ndjsonLines } from './ndjson.js';
import { toTypedTensor, type TensorInput, type TypedTensor } from './typed-tensor.js';
import { readWorkflowEvent, readWorkflowResult, type WorkflowRunResult, type WorkflowStreamEvent } from './workflow-body.js';

/** Where a model runs, when the caller has a preference (`x-cleave-placement`). */
export type PlacementPreference = 'edge' | 'cloud' | 'auto';

/** What every call may say. */
export interface CallOptions {
  /** Budget for the whole call, retries included, ms. Default: the client's defaultDeadlineMs. */
  readonly deadlineMs?: number;
  /** Aborting it ends the call with CLEAVE_E_CANCELLED (and the edge stops work it has not started). */
  readonly signal?: AbortSignal;
  /** W3C traceparent of the caller's span; the edge opens a child span under it. */
  readonly traceparent?: string;
  /** Echoed in the answer. */
  readonly id?: string;
}

/** Options of `infer`. */
export interface InferOptions extends CallOptions {
  /** Model version. Default: the newest. */
  readonly version?: number;
  /** The edge's result cache: 'bypass' neither reads nor writes it, 'refresh' recomputes and stores. Default 'default'. */
  readonly cache?: CacheMode;
  /** Where the model runs. Default: where the edge's catalog puts it. */
  readonly placement?: PlacementPreference;
  /** Outputs to return. Default: all. */
  readonly outputs?: readonly string[];
  /** Scheduling priority, an integer >= 1 (1 most urgent). */
  readonly priority?: number;
  /** Body encoding of this call. Default: the client's format. */
  readonly format?: WireFormat;
  /** Ask for float32 outputs as int8 (msgpack only; error at most scale/2 per element). Default false. */
  readonly int8Outputs?: boolean;
}

/** Options of `runWorkflow` and `streamWorkflow`. */
export interface WorkflowOptions extends CallOptions {
  /** Workflow version. Default: the newest. */
  readonly version?: number;
  /** Request body encoding (answers are JSON). Default: the client's format. */
  readonly format?: WireFormat;
}

/** Where an answer came from. */
export interface AnswerMeta {
  /** Base URL of the edge that answered. */
  readonly edge: string;
  /** Attempts it took (1 when the first succeeded). */
  readonly attempts: number;
  /** The edge's request id (`x-request-id`). */
  readonly requestId: string;
  /** The edge's span (`traceparent`), for joining traces. */
  readonly traceparent?: string;
  /** From the call to the decoded answer as this client saw it, ms. */
  readonly elapsedMs: number;
}

/** The answer of `infer`. */
export interface InferResult extends AnswerMeta {
  readonly model: string;
  readonly version: number;
  readonly outputs: Record<string, TypedTensor>;
  /** Which tier computed it: 'edge' or 'cloud'. */
  readonly servedBy: string;
  /** What the result cache did: 'hit', 'miss', 'coalesced', 'bypass' or 'refresh'. */
  readonly cache: string;
  /** Present when a cloud model was answered by its edge fallback. */
  readonly degraded?: { readonly fallback: string; readonly reason: string };
  /** Where the edge spent the time, ms. */
  readonly timing: EdgeTiming;
  /** The router's decision and its cost terms (`x-cleave-placement`), when it made one. */
  readonly placement?: string;
}

/** The answer of `runWorkflow`. */
export interface WorkflowAnswer extends WorkflowRunResult, AnswerMeta {
  /** Each placed node's decision with its cost terms (`x-cleave-placement`). */
  readonly placement: string;
}

const NDJSON_TYPE = 'application/x-ndjson';
const CLIENT_NAME = 'cleave-client/1';

export class CleaveClient {
  private readonly opts: ResolvedClientOptions;
  private readonly selector: EdgeSelector;
  private readonly poster: EdgePoster;
  private readonly sessions = new Set<EdgeSession>();
  private closed = false;

  constructor(options: CleaveClientOptions) {
    this.opts = resolveClientOptions(options);
    const o = this.opts;
    this.selector = new EdgeSelector({
      edges: o.edges, fetch: o.fetch, clock: o.clock, timers: o.timers,
      intervalMs: o.probe.intervalMs, timeoutMs: o.probe.timeoutMs, path: o.probe.path, headers: o.headers,
    });
    this.poster = new EdgePoster(o, this.selector);
  }

  /** What the client knows of each edge, in configured order. */
  edges(): EdgeState[] {
    return this.selector.snapshot();
  }

  /** Probes every edge now; resolves with what was learnt. */
  probe(): Promise<EdgeState[]> {
    return this.selector.probe();
  }

  /** Runs a model on the best edge over HTTP (`POST /v1/models/:model/infer`). */
  async infer(model: string, inputs: Readonly<Record<string, TensorInput>>, opts: InferOptions = {}): Promise<InferResult> {
    const scope = this.scope(`infer "${model}"`, opts);
    try {
      checkName('model', model);
      const format = opts.format ?? this.opts.format;
      const body = encodeNativeBody(checkInputs(inputs), {
        ...(opts.outputs !== undefined ? { outputs: opts.outputs } : {}),
        ...(opts.cache !== undefined ? { cache: opts.cache } : {}),
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
        ...(opts.id !== undefined ? { id: opts.id } : {}),
        ...(opts.int8Outputs ? { int8Outputs: true } : {}),
      }, format);
      const type = format === 'msgpack' ? MSGPACK_TYPE : JSON_TYPE;
      const sent = await this.poster.post(scope, `/v1/models/${encodeURIComponent(model)}${versionPath(opts.version)}/infer`, body, {
        'content-type': type, accept: type,
        ...(opts.placement !== undefined ? { 'x-cleave-placement': opts.placement } : {}),
        ...(opts.traceparent !== undefined ? { traceparent: opts.traceparent } : {}),
      });
      const bytes = new Uint8Array(await sent.res.arrayBuffer());
      const answer = decodeNativeAnswer(bytes, (sent.res.headers.get('content-type') ?? '').includes('msgpack') ? 'msgpack' : 'json');
      const placement = sent.res.headers.get('x-cleave-placement');
      return {
        ...answer, ...this.meta(sent, scope, answer.requestId),
        ...(placement !== null ? { placement } : {}),
      };
    } catch (e) {
      throw scope.ended ?? toCleaveError(e);
    } finally {
      scope.dispose();
    }
  }

  /** Runs a deployed workflow on the best edge (`POST /v1/workflows/:name/infer`) and resolves with its whole answer. */
  async runWorkflow(name: string, inputs: Readonly<Record<string, TensorInput>>, opts: WorkflowOptions = {}): Promise<WorkflowAnswer> {
    const scope = this.scope(`workflow "${name}"`, opts);
    try {
      const sent = await this.sendWorkflow(scope, name, inputs, opts, JSON_TYPE);
      const result = readWorkflowResult(JSON.parse(await sent.res.text()), sent.res.headers.get('x-cleave-plan'));
      return { ...result, ...this.meta(sent, scope), placement: sent.res.headers.get('x-cleave-placement') ?? '' };
    } catch (e) {
      throw scope.ended ?? toCleaveError(e);
    } finally {
      scope.dispose();
    }
  }

  /**
   * Runs a deployed workflow and yields its events as the edge sends them (NDJSON): a `node` event
   * per node as it completes, `skip` and `exit` events, then the `result`. A run that fails after
   * the stream began throws the edge's CleaveError. Leaving the loop early, the deadline, or the
   * signal aborts the request, and the edge cancels the run. Retries happen only before the
   * stream starts.
   */
  async *streamWorkflow(name: string, inputs: Readonly<Record<string, TensorInput>>, opts: WorkflowOptions = {}): AsyncGenerator<WorkflowStreamEvent, void, undefined> {
    const scope = this.scope(`workflow "${name}"`, opts);
    let done = false;
    try {
      const sent = await this.sendWorkflow(scope, name, inputs, opts, NDJSON_TYPE);
      const where = `edge ${sent.edge}`;
      if (!(sent.res.headers.get('content-type') ?? '').includes(NDJSON_TYPE)) {
        // An edge that does not stream answers with the whole result: still a valid (short) stream.
        done = true;
        yield { type: 'result', result: readWorkflowResult(JSON.parse(await sent.res.text()), sent.res.headers.get('x-cleave-plan')) };
        return;
      }
      for await (const line of ndjsonLines(sent.res)) {
        const ev = readWorkflowEvent(line, where);
        if (!ev) continue;
        if (ev.type === 'result') done = true;
        yield ev;
        if (done) return;
      }
      throw new CleaveError('CLEAVE_E_UNAVAILABLE', `the workflow stream from ${sent.edge} ended without a result line`, { edge: sent.edge });
    } catch (e) {
      throw scope.ended ?? toCleaveError(e);
    } finally {
      // Aborting the request is how the edge hears that nobody reads any more.
      if (!done) scope.end(new CleaveError('CLEAVE_E_CANCELLED', `workflow "${name}" stream was closed by its reader`));
      scope.dispose();
    }
  }

  /**
   * Opens a WebSocket session (`/v1/ws`, the Cleave protocol) with the best edge that completes
   * the handshake, trying the next edge when one cannot be reached. Within `deadlineMs` (default:
   * defaultDeadlineMs). Close it with `session.close()` or `client.close()`.
   */
  async connect(opts: { readonly deadlineMs?: number; readonly signal?: AbortSignal } = {}): Promise<EdgeSession> {
    const WS = this.opts.WebSocket;
    if (WS === undefined) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', 'this runtime has no global WebSocket: pass options.WebSocket (on Node 20, the `ws` package\'s WebSocket)', { option: 'WebSocket' });
    }
    const scope = this.scope('connect', opts);
    const tried = new Set<string>();
    let last: CleaveError | undefined;
    try {
      for (let attempt = 1; attempt <= this.opts.retries + 1; attempt++) {
        const order = await this.selector.order(scope);
        const edge = order.find((u) => !tried.has(u));
        if (edge === undefined) break;
        tried.add(edge);
        const url = `${edge.replace(/^http/, 'ws')}/v1/ws`;
        const headers = { ...this.opts.headers };
        let client: ProtocolClient | undefined;
        // Set once the session exists: a socket the edge closes takes its session off the list.
        let forget = (): void => undefined;
        try {
          const socket = Object.keys(headers).length > 0 ? new WS(url, [], { headers }) : new WS(url);
          client = new ProtocolClient(socket, {
            clock: this.opts.clock, timers: this.opts.timers, client: CLIENT_NAME, onClose: () => forget(),
            helloTimeoutMs: Math.max(1, scope.remainingMs()),
            ...(this.opts.apiKey !== undefined ? { token: this.opts.apiKey } : {}),
          });
          const welcome = await scope.race(client.ready);
          this.selector.reportSuccess(edge);
          const session: EdgeSession = new EdgeSession(client, edge, welcome, this.opts.defaultDeadlineMs, () => this.sessions.delete(session));
          this.sessions.add(session);
          forget = () => this.sessions.delete(session);
          if (this.closed) session.close();
          return session;
        } catch (e) {
          client?.close(1000, 'connect abandoned');
          scope.check();
          last = toCleaveError(e, 'CLEAVE_E_UNAVAILABLE');
          // A refusal (a bad token, no common version) is the same on every edge: stop there.
          if (last.code !== 'CLEAVE_E_UNAVAILABLE') throw last;
          this.selector.reportFailure(edge);
        }
      }
      throw last ?? new CleaveError('CLEAVE_E_UNAVAILABLE', 'no edge to connect to');
    } catch (e) {
      throw scope.ended ?? toCleaveError(e);
    } finally {
      scope.dispose();
    }
  }

  /** Stops probes and closes every session. Calls under way finish or fail on their own deadlines. */
  close(): void {
    this.closed = true;
    this.selector.close();
    for (const s of [...this.sessions]) s.close();
  }

  private scope(what: string, opts: { readonly deadlineMs?: number; readonly signal?: AbortSignal }): CallScope {
    if (this.closed) throw new CleaveError('CLEAVE_E_UNAVAILABLE', `${what}: the client is closed`);
    const scope = new CallScope(this.opts.clock, this.opts.timers, callDeadline(opts.deadlineMs, this.opts.defaultDeadlineMs), what, opts.signal);
    if (scope.ended) {
      // Cancelled before it began: nothing goes out.
      scope.dispose();
      throw scope.ended;
    }
    return scope;
  }

  private meta(sent: Sent, scope: CallScope, requestId?: string): AnswerMeta {
    const tp = sent.res.headers.get('traceparent');
    return {
      edge: sent.edge, attempts: sent.attempts,
      requestId: requestId ?? sent.res.headers.get('x-request-id') ?? '',
      ...(tp !== null ? { traceparent: tp } : {}),
      elapsedMs: this.opts.clock.now() - scope.startedAt,
    };
  }

  private sendWorkflow(scope: CallScope, name: string, inputs: Readonly<Record<string, TensorInput>>, opts: WorkflowOptions, accept: string): Promise<Sent> {
    checkName('workflow', name);
    const format = opts.format ?? this.opts.format;
    const body = encodeNativeBody(checkInputs(inputs), opts.id !== undefined ? { id: opts.id } : {}, format);
    const q = opts.version !== undefined ? `?version=${versionNumber(opts.version)}` : '';
    return this.poster.post(scope, `/v1/workflows/${encodeURIComponent(name)}/infer${q}`, body, {
      'content-type': format === 'msgpack' ? MSGPACK_TYPE : JSON_TYPE, accept,
      ...(opts.traceparent !== undefined ? { traceparent: opts.traceparent } : {}),
    });
  }
}

function checkName(what: string, name: unknown): void {
  if (typeof name !== 'string' || name === '' || name.length > 256) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `${what} name must be a non-empty string of at most 256 characters, got ${JSON.stringify(name)}`, { field: what });
  }
}

function versionNumber(v: unknown): number {
  if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 1)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `version must be an integer >= 1, got ${JSON.stringify(v)}`, { field: 'version' });
  }
  return v;
}

function versionPath(v: number | undefined): string {
  return v === undefined ? '' : `/versions/${versionNumber(v)}`;
}

function checkInputs(inputs: Readonly<Record<string, TensorInput>>): Record<string, HostTensor> {
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `inputs must be a map of input name to tensor, got ${Array.isArray(inputs) ? 'an array' : String(inputs)}`, { field: 'inputs' });
  }
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    if (name === '' || name === '__proto__') throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `input name ${JSON.stringify(name)} cannot be sent`, { field: 'inputs' });
    out[name] = toTypedTensor(t, `input "${name}"`);
  }
  return out;
}
