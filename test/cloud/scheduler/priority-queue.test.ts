import { describe, expect, it } from 'vitest';
import { PriorityQueue } from '../../../cloud/scheduler/priority-queue.js';

describe('PriorityQueue', () => {
  it('iterates by priority, then age', () => {
    const q = new PriorityQueue<string>(3);
    q.push('c1', 3);
    q.push('b1', 2);
    q.push('a1', 1);
    q.push('b2', 2);
    q.push('a2', 1);
    expect([...q]).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);
    expect(q.size).toBe(5);
    expect(q.sizeAt(2)).toBe(2);
    expect(q.peek()?.value).toBe('a1');
  });

  it('removes by handle from anywhere, once', () => {
    const q = new PriorityQueue<string>(2);
    const a = q.push('a', 1);
    const b = q.push('b', 1);
    const c = q.push('c', 1);
    const d = q.push('d', 2);
    expect(q.remove(b)).toBe(true);
    expect(q.remove(b)).toBe(false);
    expect(b.queued).toBe(false);
    expect(q.remove(a)).toBe(true);
    expect(q.remove(d)).toBe(true);
    expect([...q]).toEqual(['c']);
    expect(q.remove(c)).toBe(true);
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
    q.push('e', 1);
    expect([...q]).toEqual(['e']);
  });

  it('puts a delayed entry behind its level but ahead of lower levels', () => {
    const q = new PriorityQueue<string>(2);
    const a = q.push('a', 1);
    q.push('b', 1);
    q.push('x', 2);
    expect(q.delay(a)).toBe(true);
    expect(q.delay(a)).toBe(false);
    expect(a.delayed).toBe(true);
    q.push('c', 1);
    expect([...q]).toEqual(['b', 'c', 'a', 'x']);
    expect(q.sizeAt(1)).toBe(3);
    expect(q.remove(a)).toBe(true);
    expect([...q]).toEqual(['b', 'c', 'x']);
  });

  it('allows removing the entry just yielded while iterating', () => {
    const q = new PriorityQueue<number>(1);
    for (let i = 0; i < 6; i++) q.push(i, 1);
    const seen: number[] = [];
    for (const e of q.entries()) {
      seen.push(e.value);
      if (e.value % 2 === 0) q.remove(e);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...q]).toEqual([1, 3, 5]);
  });

  it('refuses levels outside 1..levels', () => {
    const q = new PriorityQueue<number>(2);
    expect(() => q.push(1, 0)).toThrow(/priority 0 is not a level of this queue; expected an integer 1\.\.2/);
    expect(() => q.push(1, 3)).toThrow(/priority 3/);
    expect(() => new PriorityQueue<number>(0)).toThrow(/expected an integer >= 1/);
  });
});
