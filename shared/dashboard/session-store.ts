/**
 * Dashboard sessions: after POST /dashboard/login verified an admin key, the browser holds an
 * opaque random token in an HttpOnly cookie, so it can load the page and its script (a browser
 * sends no Authorization header with those). The key itself never goes into the cookie. Held in
 * memory: a restart logs everyone out, which for a short-lived admin session is the safe side.
 * Runtime-neutral; the clock and the randomness are injected.
 */
import type { Clock } from '../time.js';
import type { RandomBytes } from '../trace.js';

/** Default session lifetime, ms (30 minutes, from login; not extended by use). */
export const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
/** Default most sessions held at once; the oldest goes first when a new one needs room. */
export const DEFAULT_MAX_SESSIONS = 256;
/** Random bytes per token (256 bits). */
const TOKEN_BYTES = 32;

export interface SessionStoreOptions {
  /** Monotonic clock, ms. */
  readonly clock: Clock;
  /** A CSPRNG (tokens are bearer secrets). */
  readonly random: RandomBytes;
  /** Lifetime of a session, ms. Default 1800000 (30 min). */
  readonly ttlMs?: number;
  /** Most sessions held. Default 256. */
  readonly maxSessions?: number;
}

/** A live session: who logged in, and until when (clock ms). */
export interface DashboardSession {
  readonly subject: string;
  readonly expiresAt: number;
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class DashboardSessions {
  /** Insertion order is creation order, which eviction relies on. */
  private readonly sessions = new Map<string, DashboardSession>();
  readonly ttlMs: number;
  private readonly max: number;

  constructor(private readonly opts: SessionStoreOptions) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.max = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!(this.ttlMs > 0) || !Number.isInteger(this.max) || this.max < 1) {
      throw new RangeError(`dashboard sessions: ttlMs ${this.ttlMs} must be > 0 and maxSessions ${this.max} an integer >= 1`);
    }
  }

  /** A new session for `subject`; returns its token. */
  create(subject: string): { token: string; session: DashboardSession } {
    this.sweep();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value as string);
    const token = base64url(this.opts.random(TOKEN_BYTES));
    const session = { subject, expiresAt: this.opts.clock.now() + this.ttlMs };
    this.sessions.set(token, session);
    return { token, session };
  }

  /**
   * The live session of `token`, if any. A hash-map lookup on a 256-bit random token: timing can
   * tell an attacker nothing useful about a token they would have to guess whole.
   */
  get(token: string | undefined): DashboardSession | undefined {
    if (token === undefined || token.length !== 43) return undefined;
    const s = this.sessions.get(token);
    if (s === undefined) return undefined;
    if (this.opts.clock.now() >= s.expiresAt) {
      this.sessions.delete(token);
      return undefined;
    }
    return s;
  }

  /** Ends a session (log out). */
  delete(token: string | undefined): void {
    if (token !== undefined) this.sessions.delete(token);
  }

  /** Sessions held now (expired ones not yet swept count). */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.opts.clock.now();
    for (const [t, s] of this.sessions) if (now >= s.expiresAt) this.sessions.delete(t);
  }
}
