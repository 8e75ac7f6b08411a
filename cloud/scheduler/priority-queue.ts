/**
 * The batcher's request queue: one FIFO per priority level (1 = highest), after Triton's
 * PriorityQueue. Each level holds two lists: requests in arrival order, then requests whose
 * queue timeout passed under the DELAY action, in the order they timed out. Iteration is
 * level 1 (main, delayed), level 2 (main, delayed), ...: a delayed request still goes before
 * every request of a lower priority, as in Triton.
 *
 * Doubly linked lists rather than arrays because requests leave from the middle all the time
 * (cancel, deadline, reject on timeout) and a batch takes requests that are not contiguous
 * (other shapes wait): push, remove and delay are O(1), and no index shifts.
 */
import { CleaveError } from '../../shared/errors.js';

/** Where a value sits in the queue; pass it back to remove() or delay(). */
export interface QueueEntry<T> {
  readonly value: T;
  /** Priority level, 1..levels. */
  readonly level: number;
  /** True once delay() moved it behind the level's on-time requests. */
  readonly delayed: boolean;
  /** False once removed. */
  readonly queued: boolean;
}

class Node<T> implements QueueEntry<T> {
  prev: Node<T> | undefined = undefined;
  next: Node<T> | undefined = undefined;
  list: List<T> | undefined;
  delayed = false;

  constructor(readonly value: T, readonly level: number, list: List<T>) {
    this.list = list;
  }

  get queued(): boolean {
    return this.list !== undefined;
  }
}

class List<T> {
  head: Node<T> | undefined = undefined;
  tail: Node<T> | undefined = undefined;
  size = 0;

  append(n: Node<T>): void {
    n.list = this;
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.size++;
  }

  unlink(n: Node<T>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = undefined;
    n.next = undefined;
    n.list = undefined;
    this.size--;
  }
}

/** FIFO per priority level with O(1) push, remove and delay. */
export class PriorityQueue<T> {
  /** lists[2 * (level - 1)] is the level's on-time list, the next one its delayed list. */
  private readonly lists: List<T>[] = [];
  private count = 0;

  /** @param levels priority levels, >= 1; level 1 is served first. */
  constructor(readonly levels: number) {
    if (!Number.isInteger(levels) || levels < 1) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `priority levels = ${levels}: expected an integer >= 1`);
    }
    for (let i = 0; i < 2 * levels; i++) this.lists.push(new List<T>());
  }

  /** Values queued, all levels, delayed included. */
  get size(): number {
    return this.count;
  }

  /** Values queued at one level, delayed included (what a per-level maxQueueSize counts). */
  sizeAt(level: number): number {
    const i = this.index(level);
    return this.lists[i]!.size + this.lists[i + 1]!.size;
  }

  /** Appends at the back of `level`'s on-time list. */
  push(value: T, level: number): QueueEntry<T> {
    const list = this.lists[this.index(level)]!;
    const n = new Node(value, level, list);
    list.append(n);
    this.count++;
    return n;
  }

  /** Takes an entry out; false when it was not queued (already removed). */
  remove(entry: QueueEntry<T>): boolean {
    const n = entry as Node<T>;
    if (!n.list) return false;
    n.list.unlink(n);
    this.count--;
    return true;
  }

  /** Moves an entry to the back of its level's delayed list; false when not queued or already delayed. */
  delay(entry: QueueEntry<T>): boolean {
    const n = entry as Node<T>;
    if (!n.list || n.delayed) return false;
    n.list.unlink(n);
    n.delayed = true;
    this.lists[this.index(n.level) + 1]!.append(n);
    return true;
  }

  /** The entry served next, or undefined when empty. */
  peek(): QueueEntry<T> | undefined {
    for (const l of this.lists) if (l.head) return l.head;
    return undefined;
  }

  /**
   * Entries in service order: priority, then on-time before delayed, then age. Removing the
   * entry just yielded is safe; any other change during iteration is not (a delayed entry
   * would come round again).
   */
  *entries(): IterableIterator<QueueEntry<T>> {
    for (const l of this.lists) {
      let n = l.head;
      while (n) {
        const next = n.next;
        yield n;
        n = next;
      }
    }
  }

  /** Values in service order (see entries()). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const e of this.entries()) yield e.value;
  }

  private index(level: number): number {
    if (!Number.isInteger(level) || level < 1 || level > this.levels) {
      throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `priority ${level} is not a level of this queue; expected an integer 1..${this.levels}`, { priority: level, levels: this.levels });
    }
    return 2 * (level - 1);
  }
}
