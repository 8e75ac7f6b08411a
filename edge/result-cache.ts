/**
 * The edge's result cache: finished inference results by request key (cache-key.ts), bounded in
 * bytes, with a TTL and single flight. Runtime-neutral; in a Worker it lives per isolate.
 *
 * Modes of `lookup(key, compute, { mode })`:
 * - 'default': a stored, unexpired value is a 'hit' (compute not called). Otherwise a computation
 *   for the key already in flight is joined ('coalesced'). Otherwise compute runs ('miss'); its
 *   value is stored when it succeeds, `cacheable(value)` is not false, and it fits maxEntryBytes.
 * - 'bypass': never reads, writes, joins or starts a shared flight; just computes ('bypass').
 * - 'refresh': never reads; computes as the leader of a new flight and stores the result in place
 *   of the old one ('refresh'). Until it finishes, default lookups still hit the old value; they
 *   join the refresh only when nothing is stored. When the result cannot be stored (not
 *   cacheable, too large) the old entry is dropped anyway: a refresh is asked for because the old
 *   value is not trusted, so it must not outlive a refresh that succeeded. A refresh that fails
 *   leaves the old value in place.
 *
 * Flights: only the newest flight of a key writes. A default flight overtaken by a refresh, or
 * detached by delete()/clear() or by all its waiters leaving, still answers its own waiters but
 * stores nothing, so a value computed from older state never overwrites a newer one. A failed
 * computation stores nothing and every waiter of the flight gets the same rejection; the next
 * lookup computes again. Only the leader's `cacheable` applies to a flight.
 *
 * Cancellation: a waiter whose own signal aborts rejects at once with CLEAVE_E_CANCELLED while the
 * others keep waiting. The signal given to compute aborts only when every waiter of the flight has
 * aborted (a waiter without a signal never aborts), and the flight is then detached so new lookups
 * start afresh. A lookup whose signal is already aborted rejects at once, computes nothing and is
 * not counted as any of hit/miss/coalesced/bypass/refresh (it never reached the cache).
 *
 * Counters: every other lookup counts exactly one of hit, miss, coalesced, bypass, refresh.
 * 'eviction' counts entries pushed out by the byte bound; an entry pushed out after its TTL ran out
 * counts as 'expired' instead, as does an expired entry found by a lookup. 'too-large' counts
 * values served but not stored for size. `onEvent` sees each of these as it is counted.
 *
 * TTL is checked here against the injected clock rather than by lru-cache's own `ttl` + `perf`:
 * lru-cache 11 treats a start time of 0 as "no TTL" (a ManualClock starts at 0), counts an entry
 * stale only once its age is strictly greater than ttl (we expire at exactly ttlMs), and debounces
 * perf.now() through a real setTimeout. lru-cache still does the LRU order and the byte bound.
 */
import { LRUCache } from 'lru-cache';
import { CleaveError } from '../shared/errors.js';
import type { Clock } from '../shared/time.js';

/** How one lookup uses the cache; see the header. */
export type CacheMode = 'default' | 'bypass' | 'refresh';

/** How one lookup was answered. */
export type CacheStatus = 'hit' | 'miss' | 'coalesced' | 'bypass' | 'refresh';

/** Counted events, for metrics. */
export type CacheEvent = 'hit' | 'miss' | 'coalesced' | 'bypass' | 'refresh' | 'eviction' | 'expired' | 'too-large';

/** Configuration of a ResultCache. */
export interface ResultCacheOptions<V> {
  /** Total bytes of stored values (as sizeOf counts them), a positive integer; default 64 MiB. */
  maxBytes?: number;
  /** Largest single value stored, bytes; larger results are served but not stored. Default maxBytes / 8. */
  maxEntryBytes?: number;
  /** Time to live of a stored value, ms; default 60_000. 0 = no expiry. */
  ttlMs?: number;
  /** Time source for the TTL; tests pass a ManualClock. */
  clock: Clock;
  /** Bytes a value holds (finite, >= 0; rounded up, and at least 1 for the byte bound). */
  sizeOf(value: V): number;
  /** Called on every counted event, for metrics; must not throw. */
  onEvent?(event: CacheEvent): void;
}

/** Per-lookup options. */
export interface LookupOptions<V> {
  /** Default 'default'. */
  mode?: CacheMode;
  /** Aborts this caller's wait (CLEAVE_E_CANCELLED); the computation stops only when all waiters abort. */
  signal?: AbortSignal;
  /** false: do not store this value (e.g. a degraded answer). Default: store. */
  cacheable?(value: V): boolean;
}

/** A lookup's answer. */
export interface LookupResult<V> {
  value: V;
  status: CacheStatus;
}

/** Counters since construction, and the current contents. */
export interface ResultCacheStats {
  hits: number;
  misses: number;
  coalesced: number;
  bypasses: number;
  refreshes: number;
  evictions: number;
  expired: number;
  tooLarge: number;
  /** Values stored now (expired ones not yet purged included). */
  entries: number;
  /** Bytes stored now, as sizeOf counted them. */
  bytes: number;
  /** Shared computations running (bypass ones excluded, detached ones included). */
  inFlight: number;
}

/** Default byte bound: 64 MiB. */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** Default TTL: 60 s. */
export const DEFAULT_CACHE_TTL_MS = 60_000;

interface Entry<V> {
  readonly value: V;
  /** clock.now() when stored, ms. */
  readonly storedAt: number;
}

interface Flight<V> {
  readonly promise: Promise<V>;
  readonly controller: AbortController;
  /** Waiters still waiting; the compute signal aborts when this drops to 0. */
  waiters: number;
  settled: boolean;
}

type Counter = Exclude<keyof ResultCacheStats, 'entries' | 'bytes' | 'inFlight'>;

const COUNTER_OF: Readonly<Record<CacheEvent, Counter>> = {
  hit: 'hits',
  miss: 'misses',
  coalesced: 'coalesced',
  bypass: 'bypasses',
  refresh: 'refreshes',
  eviction: 'evictions',
  expired: 'expired',
  'too-large': 'tooLarge',
};

/** A byte-bounded LRU of results with TTL and single flight; see the file header. */
export class ResultCache<V> {
  private readonly lru: LRUCache<string, Entry<V>>;
  private readonly flights = new Map<string, Flight<V>>();
  private readonly maxEntryBytes: number;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly sizeOf: (value: V) => number;
  private readonly onEvent: ((event: CacheEvent) => void) | undefined;
  private readonly counts: Record<Counter, number> = {
    hits: 0, misses: 0, coalesced: 0, bypasses: 0, refreshes: 0, evictions: 0, expired: 0, tooLarge: 0,
  };
  private running = 0;

  constructor(opts: ResultCacheOptions<V>) {
    const maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `result cache maxBytes is ${maxBytes}, expected a positive integer`, { maxBytes });
    }
    const maxEntryBytes = opts.maxEntryBytes ?? Math.max(1, Math.floor(maxBytes / 8));
    if (!Number.isFinite(maxEntryBytes) || maxEntryBytes < 0 || maxEntryBytes > maxBytes) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `result cache maxEntryBytes is ${maxEntryBytes}, expected 0..${maxBytes} (maxBytes)`, { maxEntryBytes, maxBytes });
    }
    const ttlMs = opts.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    if (!Number.isFinite(ttlMs) || ttlMs < 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `result cache ttlMs is ${ttlMs}, expected >= 0 (0 = no expiry)`, { ttlMs });
    }
    this.maxEntryBytes = maxEntryBytes;
    this.ttlMs = ttlMs;
    this.clock = opts.clock;
    this.sizeOf = opts.sizeOf;
    this.onEvent = opts.onEvent;
    this.lru = new LRUCache<string, Entry<V>>({
      maxSize: maxBytes,
      // disposeAfter, not dispose: it runs once lru-cache's own bookkeeping is done, so onEvent
      // code cannot observe or disturb the cache half-way through an eviction.
      disposeAfter: (entry, _key, reason) => {
        if (reason === 'evict') this.count(this.isExpired(entry) ? 'expired' : 'eviction');
      },
    });
  }

  /** Answers `key` from the cache, a running computation, or `compute`; see the file header. */
  async lookup(key: string, compute: (signal: AbortSignal) => Promise<V>, opts: LookupOptions<V> = {}): Promise<LookupResult<V>> {
    const { mode = 'default', signal } = opts;
    if (signal?.aborted) throw cancelled(key, signal);

    if (mode === 'bypass') {
      this.count('bypass');
      return { value: await this.computeAlone(key, compute, signal), status: 'bypass' };
    }
    if (mode === 'default') {
      const entry = this.lru.get(key);
      if (entry !== undefined) {
        if (!this.isExpired(entry)) {
          this.count('hit');
          return { value: entry.value, status: 'hit' };
        }
        this.lru.delete(key);
        this.count('expired');
      }
      const running = this.flights.get(key);
      if (running !== undefined) {
        this.count('coalesced');
        return { value: await this.join(key, running, signal), status: 'coalesced' };
      }
    }
    const status = mode === 'refresh' ? 'refresh' : 'miss';
    this.count(status);
    const flight = this.start(key, compute, mode === 'refresh', opts.cacheable);
    return { value: await this.join(key, flight, signal), status };
  }

  /** Counters and contents now. */
  stats(): ResultCacheStats {
    return { ...this.counts, entries: this.lru.size, bytes: this.lru.calculatedSize, inFlight: this.running };
  }

  /**
   * Drops the stored value of `key` and detaches its running computation (which still answers its
   * waiters but will not store). True when a stored value was dropped.
   */
  delete(key: string): boolean {
    this.flights.delete(key);
    return this.lru.delete(key);
  }

  /** Drops every stored value and detaches every running computation. */
  clear(): void {
    this.flights.clear();
    this.lru.clear();
  }

  private isExpired(entry: Entry<V>): boolean {
    return this.ttlMs > 0 && this.clock.now() - entry.storedAt >= this.ttlMs;
  }

  private count(event: CacheEvent): void {
    this.counts[COUNTER_OF[event]]++;
    this.onEvent?.(event);
  }

  /** Starts a shared flight for `key`, replacing (detaching) any running one. */
  private start(key: string, compute: (signal: AbortSignal) => Promise<V>, refresh: boolean, cacheable: ((value: V) => boolean) | undefined): Flight<V> {
    const controller = new AbortController();
    this.running++;
    // The async wrapper turns a compute that throws synchronously into a rejection like any other.
    const promise = (async () => compute(controller.signal))().then(
      (value) => {
        flight.settled = true;
        this.running--;
        if (this.flights.get(key) !== flight) return value;
        this.flights.delete(key);
        this.store(key, value, refresh, cacheable);
        return value;
      },
      (err: unknown) => {
        flight.settled = true;
        this.running--;
        if (this.flights.get(key) === flight) this.flights.delete(key);
        throw err;
      },
    );
    // Waiters observe the outcome through join(); this only keeps a flight that every waiter left
    // from turning its failure into an unhandled rejection.
    promise.catch(() => undefined);
    const flight: Flight<V> = { promise, controller, waiters: 0, settled: false };
    this.flights.set(key, flight);
    return flight;
  }

  private store(key: string, value: V, refresh: boolean, cacheable: ((value: V) => boolean) | undefined): void {
    if (cacheable !== undefined && !cacheable(value)) {
      if (refresh) this.lru.delete(key);
      return;
    }
    const bytes = this.sizeOf(value);
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new CleaveError('CLEAVE_E_INTERNAL', `result cache sizeOf returned ${bytes} for "${key}", expected a finite number >= 0`, { key });
    }
    if (bytes > this.maxEntryBytes) {
      if (refresh) this.lru.delete(key);
      this.count('too-large');
      return;
    }
    // lru-cache wants a positive integer size; a 0-byte value still takes a slot.
    this.lru.set(key, { value, storedAt: this.clock.now() }, { size: Math.max(1, Math.ceil(bytes)) });
  }

  /** Waits for `flight` as one of its waiters, leaving it alone when `signal` aborts. */
  private join(key: string, flight: Flight<V>, signal: AbortSignal | undefined): Promise<V> {
    flight.waiters++;
    if (signal === undefined) return flight.promise;
    return new Promise<V>((resolve, reject) => {
      const onAbort = (): void => {
        flight.waiters--;
        if (flight.waiters === 0 && !flight.settled) {
          // Nobody wants the answer any more: stop the work, and let new lookups start afresh
          // rather than join a computation that is being torn down.
          if (this.flights.get(key) === flight) this.flights.delete(key);
          flight.controller.abort(signal.reason);
        }
        reject(cancelled(key, signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /** Runs compute for one caller (bypass): a private flight of one waiter, never shared. */
  private computeAlone(key: string, compute: (signal: AbortSignal) => Promise<V>, signal: AbortSignal | undefined): Promise<V> {
    const controller = new AbortController();
    const promise = (async () => compute(controller.signal))();
    const flight: Flight<V> = { promise, controller, waiters: 0, settled: false };
    promise.then(
      () => { flight.settled = true; },
      () => { flight.settled = true; },
    );
    return this.join(key, flight, signal);
  }
}

function cancelled(key: string, signal: AbortSignal): CleaveError {
  return new CleaveError('CLEAVE_E_CANCELLED', `result cache lookup of "${key}" was cancelled`, { key }, { cause: signal.reason });
}
