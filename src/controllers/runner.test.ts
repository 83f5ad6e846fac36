import { describe, expect, it } from 'vitest';
import { failedStepWait } from './runner.js';

describe('failedStepWait', () => {
  const at = Date.parse('2026-12-01T10:00:00Z');
  it('holds a failed step for 5 s after its first attempt, doubling per attempt up to 5 min', () => {
    const s = (attempts: number) => ({ state: 'Failed', finishedAt: '2026-12-01T10:00:00Z', attempts });
    expect(failedStepWait(s(1), at)).toBe(5_000);
    expect(failedStepWait(s(3), at + 1_000)).toBe(19_000);
    expect(failedStepWait(s(20), at)).toBe(300_000);
    expect(failedStepWait(s(1), at + 6_000)).toBe(0);
  });
  it('never holds a step that is not Failed', () => {
    expect(failedStepWait({ state: 'Pending', finishedAt: '2026-12-01T10:00:00Z', attempts: 3 }, at)).toBe(0);
  });
});
