/**
 * A fixed-capacity ring: the newest `capacity` items, oldest first on read. The dashboard keeps
 * its run series, decisions and latency samples in these, so a busy edge holds a bounded window
 * however long it runs. Runtime-neutral.
 */

/** The last `capacity` items pushed. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  /** `capacity`: items kept, an integer >= 1. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity ${capacity} is not valid; expected an integer >= 1`);
    this.items = new Array<T | undefined>(capacity);
  }

  /** Items held now, at most `capacity`. */
  get size(): number {
    return this.count;
  }

  /** Adds `item`, dropping the oldest when full. */
  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** The items held, oldest first (a copy). */
  toArray(): T[] {
    const out: T[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.items[(start + i) % this.capacity] as T);
    return out;
  }

  /** The newest item, or undefined when empty. */
  last(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }
}
