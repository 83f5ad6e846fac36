import { describe, expect, it } from 'vitest';
import { backoffDelay, WorkQueue } from './queue.js';

describe('backoffDelay', () => {
  it('doubles from 5 ms as controller-runtime does, but caps at 2 minutes (a plan in flight never idles 17 min)', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n))).toEqual([5, 10, 20, 40]);
    expect(backoffDelay(100)).toBe(120_000);
  });
});

describe('WorkQueue', () => {
  it('keeps one entry per key however many adds arrive', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 100; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('never hands out a key that is being processed; a re-add comes back after done', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    const k = await q.get();
    q.add('ns/a');
    q.add('ns/a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    const waiting = q.get().then((x) => (second = x));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBeUndefined();
    q.done(k!);
    await waiting;
    expect(second).toBe('ns/a');
  });

  it('retries with growing delays and forgets on success', async () => {
    const q = new WorkQueue({ baseMs: 20, maxMs: 1000 });
    expect(q.addRateLimited('ns/a')).toBe(20);
    expect(q.addRateLimited('ns/a')).toBe(40);
    expect(q.numRequeues('ns/a')).toBe(2);
    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).toBe(0);
    const t0 = Date.now();
    expect(await q.get()).toBe('ns/a');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
  });

  it('keeps the earliest of two delayed adds', async () => {
    const q = new WorkQueue();
    q.addAfter('ns/a', 1000);
    q.addAfter('ns/a', 10);
    const t0 = Date.now();
    expect(await q.get()).toBe('ns/a');
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('releases waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const w = q.get();
    q.shutDown();
    expect(await w).toBeUndefined();
  });
});
