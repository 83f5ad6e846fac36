/**
 * Regression guard (issue 15): a NodePool's status must not grow past twice its recorded size
 * (`npm run bench -- status-size --record`). Sizes are deterministic, so the guard is exact.
 */
import { describe, expect, it } from 'vitest';
import { recorded } from '../../bench/lib/recorded.js';
import { measureStatusSize, type StatusSize } from '../../bench/lib/statussize.js';

describe('status size regression guard', () => {
  const { file, result } = recorded<{ results: StatusSize[] }>('status-size');
  for (const n of [50, 200]) {
    it(`a ${n}-node NodePool is at most 2× the size recorded in ${file}`, () => {
      const base = result.results.find((r) => r.nodes === n);
      expect(base, `${file} has no ${n}-node figure`).toBeDefined();
      const now = measureStatusSize(n);
      expect(now.nodes).toBe(n);
      expect(now.objectBytes).toBeGreaterThan(0);
      expect(now.objectBytes, `object bytes (recorded ${base!.objectBytes})`).toBeLessThanOrEqual(
        2 * base!.objectBytes,
      );
      expect(now.perNodeBytes, `bytes per node (recorded ${base!.perNodeBytes})`).toBeLessThanOrEqual(
        2 * base!.perNodeBytes,
      );
    });
  }
});
