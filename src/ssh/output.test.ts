import { describe, expect, it } from 'vitest';
import { Semaphore } from './limits.js';
import { MASK, maskSecrets, TailBuffer } from './output.js';

describe('TailBuffer', () => {
  it('keeps everything under the cap', () => {
    const b = new TailBuffer(100);
    b.push(Buffer.from('hello '));
    b.push(Buffer.from('world'));
    expect(b.text([])).toBe('hello world');
    expect(b.truncated).toBe(false);
  });
  it('keeps the tail over the cap, on a character boundary', () => {
    const b = new TailBuffer(10, 4);
    for (let i = 0; i < 50; i++) b.push(Buffer.from('é'));
    b.push(Buffer.from('END'));
    const t = b.text([]);
    expect(b.truncated).toBe(true);
    expect(t.endsWith('END')).toBe(true);
    expect(Buffer.byteLength(t)).toBeLessThanOrEqual(10);
    expect(t).not.toContain('\ufffd');
  });
  it('masks secrets, even ones straddling chunks or the cut', () => {
    const b = new TailBuffer(20, 64);
    b.push(Buffer.from('xxxxxxxxxxxxxxxxxxxxpass'));
    b.push(Buffer.from('word-123 tail'));
    const t = b.text(['password-123']);
    expect(t).not.toContain('word-123');
    expect(t).toContain(MASK);
  });
  it('masks longest secrets first', () => {
    expect(maskSecrets('abc abcdef', ['abc', 'abcdef'])).toBe(`${MASK} ${MASK}`);
  });
});

describe('Semaphore', () => {
  it('bounds concurrency and serves waiters in order; aborted waiters leave the queue', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    await s.acquire();
    const order: number[] = [];
    const ac = new AbortController();
    const w3 = s.acquire().then((r) => order.push(3) && r);
    const w4 = s.acquire(ac.signal).catch(() => order.push(-4));
    const w5 = s.acquire().then((r) => order.push(5) && r);
    ac.abort();
    await w4;
    r1();
    r1(); // idempotent
    await w3;
    expect(s.inUse).toBe(2);
    expect(order).toEqual([-4, 3]);
    expect(s.waiting).toBe(1);
    void w5;
  });
});
