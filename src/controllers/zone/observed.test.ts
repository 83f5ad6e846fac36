import { describe, expect, it } from 'vitest';
import { observedSince } from './controller.js';

describe('Zone lastObservedAt', () => {
  const before = {
    installerVersion: '4.6.2',
    // As the API server returns it: keys sorted.
    nodeCounts: { hyper: 2, proxy: 2, webservice: 2 },
    reachable: true,
    lastObservedAt: '2026-12-02T10:00:00Z',
  };

  it('keeps its time when the observation is the same, whatever the order of the roles', () => {
    const observed = {
      installerVersion: '4.6.2',
      nodeCounts: { webservice: 2, proxy: 2, hyper: 2 },
      reachable: true,
    };
    expect(observedSince(before, observed, '2026-12-02T10:05:00Z')).toBe('2026-12-02T10:00:00Z');
  });

  it('moves when a count, the installer version or reachability changes, or none was recorded', () => {
    const now = '2026-12-02T10:05:00Z';
    const same = {
      installerVersion: '4.6.2',
      nodeCounts: { hyper: 2, proxy: 2, webservice: 2 },
      reachable: true,
    };
    expect(observedSince(before, { ...same, nodeCounts: { hyper: 3, proxy: 2, webservice: 2 } }, now)).toBe(
      now,
    );
    expect(observedSince(before, { ...same, installerVersion: '4.6.3' }, now)).toBe(now);
    expect(observedSince({ ...before, reachable: false }, same, now)).toBe(now);
    expect(observedSince({ ...before, lastObservedAt: undefined }, same, now)).toBe(now);
  });
});
