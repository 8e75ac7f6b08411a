/**
 * Which edge to call: every configured edge is probed with `GET /v2/health/ready`, timing the
 * round trip; a 200 is healthy, anything else (503 while warming or draining, a refused
 * connection, no answer within the probe timeout) is down. Calls go to the healthy edge with the
 * lowest smoothed RTT, then to edges not yet heard from, then to the down ones (a probe can be
 * wrong; trying is better than refusing).
 *
 * Probes are lazy: a round starts when a call finds the last one older than `intervalMs`, and when
 * a call reports an edge failed. No timer runs between calls, so an idle or closed client holds
 * nothing (the only timers are each probe's own timeout). The first call waits for the round's
 * first healthy answer only: probes start together, so the first to answer healthy is the fastest
 * of that round, and the call need not wait for the slow or dead ones.
 */
import { CleaveError } from '../errors.js';
import type { Clock, Timers } from '../time.js';
import type { CallScope } from './call-scope.js';

/** The fetch this client calls: the WHATWG one (Node 18+, browsers, workerd, React Native). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** What the client knows of one edge. */
export interface EdgeState {
  readonly url: string;
  /** 'unknown' until a probe or a call has answered. */
  readonly health: 'unknown' | 'up' | 'down';
  /** Smoothed probe round trip, ms (EWMA, newest sample weighted `rttAlpha`); absent before the first healthy probe. */
  readonly rttMs?: number;
  /** Clock time of the last probe answer, ms. */
  readonly probedAt?: number;
}

export interface EdgeSelectorOptions {
  /** Base URLs without a trailing slash. */
  readonly edges: readonly string[];
  readonly fetch: FetchLike;
  readonly clock: Clock;
  readonly timers: Timers;
  /** A round older than this is repeated at the next call, ms. */
  readonly intervalMs: number;
  /** A probe with no answer by then marks its edge down, ms. */
  readonly timeoutMs: number;
  /** Path probed. Default '/v2/health/ready'. */
  readonly path?: string;
  /** Headers sent with each probe (authorization, tenant). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Weight of the newest RTT sample. Default 0.5. */
  readonly rttAlpha?: number;
}

interface Mutable {
  url: string;
  health: 'unknown' | 'up' | 'down';
  rttMs?: number;
  probedAt?: number;
  /** Clock time a call last changed `health`: probes started before it do not overrule it. */
  markedAt: number;
  index: number;
}

export class EdgeSelector {
  private readonly states: Mutable[];
  private round: Promise<void> | undefined;
  private firstUp: Promise<void> = Promise.resolve();
  private lastRoundAt: number | undefined;
  private readonly probes = new Set<AbortController>();
  private closed = false;

  constructor(private readonly opts: EdgeSelectorOptions) {
    this.states = opts.edges.map((url, index) => ({ url, health: 'unknown', markedAt: -Infinity, index }));
  }

  /** Every edge, in configured order. */
  snapshot(): EdgeState[] {
    return this.states.map((s) => ({
      url: s.url, health: s.health,
      ...(s.rttMs !== undefined ? { rttMs: s.rttMs } : {}),
      ...(s.probedAt !== undefined ? { probedAt: s.probedAt } : {}),
    }));
  }

  /** Probes every edge now (joining a round under way); resolves once each has answered or timed out. */
  async probe(): Promise<EdgeState[]> {
    await (this.round ?? this.startRound());
    return this.snapshot();
  }

  /**
   * Edge URLs best first. Starts a round when the last is stale; when no edge is known healthy and
   * a round is under way, waits for its first healthy answer (or its end), within the call's scope.
   */
  async order(scope: CallScope): Promise<string[]> {
    if (this.closed) throw new CleaveError('CLEAVE_E_UNAVAILABLE', 'the client is closed');
    const now = this.opts.clock.now();
    if (!this.round && (this.lastRoundAt === undefined || now - this.lastRoundAt >= this.opts.intervalMs)) void this.startRound();
    if (this.round && !this.states.some((s) => s.health === 'up')) await scope.race(this.firstUp);
    return this.ranking();
  }

  /** A call could not reach `url`, or it answered unavailable: try others first, and re-probe soon. */
  reportFailure(url: string): void {
    const s = this.states.find((x) => x.url === url);
    if (!s || this.closed) return;
    const now = this.opts.clock.now();
    s.health = 'down';
    s.markedAt = now;
    // One round at a time, and not more often than once per probe timeout however many calls fail.
    if (!this.round && (this.lastRoundAt === undefined || now - this.lastRoundAt >= this.opts.timeoutMs)) void this.startRound();
  }

  /** A call got an answer from `url`: it is up, whatever an older probe said. */
  reportSuccess(url: string): void {
    const s = this.states.find((x) => x.url === url);
    if (!s || s.health === 'up') return;
    s.health = 'up';
    s.markedAt = this.opts.clock.now();
  }

  /** Stops probes under way; later calls to `order` fail with CLEAVE_E_UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const ac of this.probes) ac.abort();
    this.probes.clear();
  }

  private ranking(): string[] {
    const rank = (s: Mutable): number => (s.health === 'up' ? 0 : s.health === 'unknown' ? 1 : 2);
    return [...this.states]
      .sort((a, b) => rank(a) - rank(b) || (a.health === 'up' ? (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity) : 0) || a.index - b.index)
      .map((s) => s.url);
  }

  private startRound(): Promise<void> {
    this.lastRoundAt = this.opts.clock.now();
    let resolveFirst!: () => void;
    this.firstUp = new Promise((r) => { resolveFirst = r; });
    const round = Promise.all(this.states.map(async (s) => {
      if (await this.probeOne(s)) resolveFirst();
    })).then(() => {
      this.round = undefined;
      resolveFirst();
    });
    this.round = round;
    return round;
  }

  /** One probe; true when the edge answered 200. */
  private async probeOne(s: Mutable): Promise<boolean> {
    const { clock, timers } = this.opts;
    const ac = new AbortController();
    this.probes.add(ac);
    const startedAt = clock.now();
    const timer = timers.setTimeout(() => ac.abort(), this.opts.timeoutMs);
    let up = false;
    try {
      const res = await this.opts.fetch(`${s.url}${this.opts.path ?? '/v2/health/ready'}`, { headers: { ...this.opts.headers }, signal: ac.signal });
      up = res.status === 200;
      // Read the (tiny) body so the connection goes back to the pool.
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      up = false;
    } finally {
      timers.clearTimeout(timer);
      this.probes.delete(ac);
    }
    const now = clock.now();
    // A call's word since this probe started is newer than the probe's.
    if (this.closed || startedAt < s.markedAt) return up && s.health === 'up';
    s.probedAt = now;
    s.health = up ? 'up' : 'down';
    if (up) {
      const sample = now - startedAt;
      const a = this.opts.rttAlpha ?? 0.5;
      s.rttMs = s.rttMs === undefined ? sample : s.rttMs + a * (sample - s.rttMs);
    }
    return up;
  }
}
