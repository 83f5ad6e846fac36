import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Condition } from './conditions.js';
import { kstatusConditions } from './kstatus.js';

const T = '2026-01-01T00:00:00Z';
const c = (type: string, status: Condition['status'], reason: string, gen = 3, message = ''): Condition => ({
  type,
  status,
  reason,
  message,
  observedGeneration: gen,
  lastTransitionTime: T,
});
/** "Reconciling=True(reason)" / "Stalled=True(reason)" / "Current". */
function verdict(conds: Condition[], gen = 3): string {
  const out = kstatusConditions(conds, gen, new Date('2026-02-01T00:00:00Z'));
  const r = out.find((x) => x.type === 'Reconciling')!;
  const s = out.find((x) => x.type === 'Stalled')!;
  expect(r.status === 'True' && s.status === 'True', 'never both True').toBe(false);
  expect(r.observedGeneration).toBe(gen);
  expect(s.observedGeneration).toBe(gen);
  if (r.status === 'True') return `Reconciling(${r.reason})`;
  if (s.status === 'True') return `Stalled(${s.reason})`;
  return 'Current';
}
const pending = c('Ready', 'False', 'PlanPending');

describe('kstatusConditions: the phases of a plan (runner.ts reasons)', () => {
  it('Reconciling while a step runs or is still running on the platform', () => {
    expect(verdict([pending, c('Progressing', 'True', 'Executing')])).toBe('Reconciling(Executing)');
    expect(verdict([pending, c('Progressing', 'True', 'StepInProgress')])).toBe(
      'Reconciling(StepInProgress)',
    );
  });
  it('Reconciling while it waits for the zone lock, an approval, a resume or a window', () => {
    for (const r of ['WaitingForZoneLock', 'ZoneJobBusy', 'AwaitingApproval', 'Paused', 'WaitingForWindow'])
      expect(verdict([pending, c('Progressing', 'False', r)])).toBe(`Reconciling(${r})`);
  });
  it('Stalled after a failed or interrupted step; Reconciling again while the retry runs', () => {
    const failed = [
      pending,
      c('Progressing', 'False', 'StepFailed'),
      c('Degraded', 'True', 'StepFailed', 3, 'exit 1'),
    ];
    expect(verdict(failed)).toBe('Stalled(StepFailed)');
    const msg = kstatusConditions(failed, 3).find((x) => x.type === 'Stalled')!.message;
    expect(msg).toBe('exit 1');
    expect(
      verdict([
        pending,
        c('Progressing', 'False', 'StepInterrupted'),
        c('Degraded', 'True', 'StepInterrupted'),
      ]),
    ).toBe('Stalled(StepInterrupted)');
    // A step that could not start for want of its Secret (runner: blocked, SecretUnavailable).
    expect(
      verdict([
        pending,
        c('Progressing', 'False', 'SecretUnavailable'),
        c('Degraded', 'True', 'SecretUnavailable'),
      ]),
    ).toBe('Stalled(SecretUnavailable)');
    // The plan finished but the platform does not show its result.
    expect(
      verdict([
        c('Ready', 'False', 'NotConverged'),
        c('Progressing', 'False', 'NotConverged'),
        c('Degraded', 'True', 'NotConverged'),
      ]),
    ).toBe('Stalled(NotConverged)');
    expect(
      verdict([pending, c('Progressing', 'True', 'Executing'), c('Degraded', 'True', 'StepFailed')]),
    ).toBe('Reconciling(Executing)');
  });
  it('Stalled on a refused spec and on a missing Secret or bad credentials', () => {
    expect(
      verdict([
        c('Ready', 'False', 'HyperNodesNotInPairs'),
        c('Progressing', 'False', 'HyperNodesNotInPairs'),
      ]),
    ).toBe('Stalled(HyperNodesNotInPairs)');
    for (const r of [
      'SecretNotFound',
      'InvalidCredentials',
      'HostKeyMismatch',
      'InvalidSpec',
      'ZoneNotFound',
    ])
      expect(verdict([c('Ready', 'False', r)])).toBe(`Stalled(${r})`);
  });
  it('Reconciling while a Zone converges or SSH fails in a way the operator retries', () => {
    for (const r of ['ZoneNotReady', 'Unreachable', 'Timeout', 'ConnectionDropped', 'MigrationRunning'])
      expect(verdict([c('Ready', 'False', r)])).toBe(`Reconciling(${r})`);
    expect(verdict([c('Ready', 'Unknown', 'Whatever')])).toBe('Reconciling(Whatever)');
  });
  it('Current once Ready=True for this generation with nothing running', () => {
    expect(
      verdict([
        c('Ready', 'True', 'Completed'),
        c('Progressing', 'False', 'Idle'),
        c('Degraded', 'False', 'AsExpected'),
      ]),
    ).toBe('Current');
    expect(verdict([c('Ready', 'True', 'Observed')])).toBe('Current');
  });
  it('Reconciling until the operator reports on a new generation; stale conditions do not count', () => {
    expect(verdict([])).toBe('Reconciling(NotObserved)');
    expect(verdict([c('Ready', 'True', 'Completed', 2)])).toBe('Reconciling(ObservedGenerationStale)');
    // A failure of generation 2 does not stall generation 3, whose plan is ready.
    expect(verdict([c('Ready', 'True', 'Completed', 3), c('Degraded', 'True', 'StepFailed', 2)])).toBe(
      'Current',
    );
  });
  it('fails closed: a reason it does not know is Stalled, never Current', () => {
    expect(verdict([c('Ready', 'False', 'SomethingNew')])).toBe('Stalled(SomethingNew)');
    expect(verdict([c('Ready', 'True', 'X'), c('Progressing', 'False', 'SomethingNew')])).toBe(
      'Stalled(SomethingNew)',
    );
  });
});

describe('kstatusConditions: condition hygiene', () => {
  it('keeps the other conditions, does not modify its input, and is idempotent', () => {
    const input = [c('Ready', 'True', 'Completed'), c('ScaleInUnsupported', 'True', 'NodesNotInSpec')];
    const frozen = JSON.stringify(input);
    const once = kstatusConditions(input, 3, new Date('2026-02-01T00:00:00Z'));
    expect(JSON.stringify(input)).toBe(frozen);
    expect(once.map((x) => x.type)).toEqual(['Ready', 'ScaleInUnsupported', 'Reconciling', 'Stalled']);
    // A second save with the same verdict later changes nothing (so no status write).
    expect(kstatusConditions(once, 3, new Date('2026-03-01T00:00:00Z'))).toEqual(once);
  });
  it('never sets both True, whatever the conditions (kstatus takes the first True in the list)', () => {
    const reasons = fc.constantFrom(
      'Executing',
      'StepFailed',
      'Idle',
      'Paused',
      'PlanPending',
      'Completed',
      'X',
    );
    const cond = fc.record({
      type: fc.constantFrom('Ready', 'Progressing', 'Degraded', 'Reconciling', 'Stalled'),
      status: fc.constantFrom<Condition['status']>('True', 'False', 'Unknown'),
      reason: reasons,
      gen: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(cond, { maxLength: 5, selector: (x) => x.type }),
        fc.integer({ min: 1, max: 4 }),
        (list, gen) => {
          const conds = list.map((x) => c(x.type, x.status, x.reason, x.gen));
          const out = kstatusConditions(conds, gen);
          const trues = out.filter(
            (x) => (x.type === 'Reconciling' || x.type === 'Stalled') && x.status === 'True',
          );
          return (
            trues.length === 1 ||
            (trues.length === 0 && out.some((x) => x.type === 'Ready' && x.status === 'True'))
          );
        },
      ),
    );
  });
});
