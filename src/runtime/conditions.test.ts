import { describe, expect, it } from 'vitest';
import { setCondition } from './conditions.js';

describe('setCondition', () => {
  const t1 = new Date('2026-01-01T00:00:00Z');
  const t2 = new Date('2026-01-01T01:00:00Z');
  it('moves lastTransitionTime only when the status flips', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Unreachable', message: 'x' }, t1);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Unreachable', message: 'y' }, t2);
    expect(b[0]!.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(b[0]!.message).toBe('y');
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Observed', message: '' }, t2);
    expect(c[0]!.lastTransitionTime).toBe('2026-01-01T01:00:00Z');
    expect(a[0]!.message).toBe('x');
  });
  it('keys the list by type', () => {
    let l = setCondition([], { type: 'Ready', status: 'True', reason: 'A', message: '' }, t1);
    l = setCondition(l, { type: 'Degraded', status: 'False', reason: 'B', message: '' }, t1);
    l = setCondition(l, { type: 'Ready', status: 'False', reason: 'C', message: '' }, t1);
    expect(l.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=False', 'Degraded=False']);
  });
});
