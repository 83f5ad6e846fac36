import { describe, expect, it } from 'vitest';
import { Semaphore } from './limits.js';
import { MASK, maskSecrets, OutputBuffer, TailBuffer } from './output.js';

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

describe('OutputBuffer: masking before truncation, secrets of any length, head for parsers', () => {
  it('a secret straddling the cut leaves no fragment (tail)', () => {
    const secret = 'S3cr3t-Passw0rd';
    for (let shift = 0; shift < secret.length + 2; shift++) {
      const b = new OutputBuffer(20, 64);
      b.push(Buffer.from(`${'a'.repeat(30)}${secret}${'b'.repeat(20 - shift)}`));
      const t = b.text([secret]);
      for (let n = 3; n <= secret.length; n++)
        for (let i = 0; i + n <= secret.length; i++)
          if (secret.slice(i, i + n).match(/[0-9-]/)) expect(t).not.toContain(secret.slice(i, i + n));
    }
  });
  it('a secret straddling the cut leaves no fragment (head)', () => {
    const secret = 'S3cr3t-Passw0rd';
    const b = new OutputBuffer(25, 64, 'head');
    b.push(Buffer.from(`${'a'.repeat(18)}${secret}${'b'.repeat(100)}`));
    const t = b.text([secret]);
    expect(b.truncated).toBe(true);
    expect(t).toBe(`${'a'.repeat(18)}${MASK}`);
  });
  it('masks passwords shorter than 4 characters', () => {
    expect(maskSecrets('user=root pw=x9 done', ['x9'])).toBe(`user=root pw=${MASK} done`);
  });
  it('head mode keeps the first sections and says it dropped the rest', () => {
    const b = new OutputBuffer(10, 4, 'head');
    b.push(Buffer.from('HEAD-12345'));
    b.push(Buffer.from('-and-much-more'));
    expect(b.text([])).toBe('HEAD-12345');
    expect(b.truncated).toBe(true);
  });
  it('masks a 1-character secret in a large output in linear time', () => {
    const b = new OutputBuffer(4 * 1024 * 1024, 1024, 'head');
    b.push(Buffer.from('ab'.repeat(1024 * 1024)));
    const t0 = Date.now();
    const t = b.text(['a']);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(t.startsWith(`${MASK}b${MASK}b`)).toBe(true);
  });
});
