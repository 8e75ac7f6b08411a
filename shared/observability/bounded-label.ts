/**
 * A metric label whose values come from outside (a tenant name in a header) must not grow without
 * bound: every distinct value is a new time series in Prometheus, kept in memory by the exporter
 * and by every scraper. BoundedLabel keeps the first `max` distinct values as they are and maps
 * every later one to a single overflow value, so a client that sends a new tenant name per
 * request costs one series, not millions. Runtime-neutral.
 */
import { CleaveError } from '../errors.js';

/** Default most distinct values kept (100). */
export const DEFAULT_MAX_LABEL_VALUES = 100;
/** Default value that stands for every value past the limit. */
export const OVERFLOW_LABEL_VALUE = '_other';

/** Options of a BoundedLabel. */
export interface BoundedLabelOptions {
  /** Most distinct values kept as they are. Default 100. */
  readonly max?: number;
  /** What values past the limit become. Default `_other`. */
  readonly overflow?: string;
}

export class BoundedLabel {
  private readonly seen = new Set<string>();
  private readonly max: number;
  private readonly overflow: string;
  private overflowed = 0;

  constructor(opts: BoundedLabelOptions = {}) {
    this.max = opts.max ?? DEFAULT_MAX_LABEL_VALUES;
    this.overflow = opts.overflow ?? OVERFLOW_LABEL_VALUE;
    if (!Number.isSafeInteger(this.max) || this.max < 0) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `bounded label max = ${this.max}: expected a non-negative integer`, { max: this.max });
    }
  }

  /** The label value to use for `value`: itself while there is room (or it was seen before), else the overflow value. */
  value(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size < this.max) {
      this.seen.add(value);
      return value;
    }
    this.overflowed++;
    return this.overflow;
  }

  /** Values mapped to the overflow value so far (for logs and tests). */
  get overflowCount(): number {
    return this.overflowed;
  }
}
