/**
 * Regression guard (issue 15): a short `engine` benchmark against the real control plane. The
 * operator's time per step above its command, as a ratio to the same run's bare API GET and SSH
 * exec (so a loaded machine does not fail it), must stay within twice the recorded ratio
 * (`npm run bench -- engine --record`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineFigures, measureEngine } from '../../bench/lib/engine.js';
import { recorded } from '../../bench/lib/recorded.js';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.stop();
});

describe('engine regression guard', () => {
  it('per-step overhead ratio within 2× of the recorded one (40 steps, journal + check + event)', async () => {
    const { file, result } = recorded<{ results: EngineFigures[] }>('engine');
    const base = Math.min(...result.results.map((r) => r.ratio));
    const now = await measureEngine(cp, { steps: 40, port: 2253, references: 20 });
    // Every step journaled twice (Running, Succeeded) and its Event sent: the work is all there.
    expect(now.statusWritesPerStep).toBeGreaterThanOrEqual(2);
    expect(now.events.count).toBeGreaterThanOrEqual(40);
    expect(
      now.ratio,
      `overhead ${now.overheadMs.median} ms/step vs references API ${now.reference.apiGetMs} ms, SSH ${now.reference.sshExecMs} ms; recorded ratio ${base} (${file})`,
    ).toBeLessThanOrEqual(2 * base);
  });
});
