import { describe, expect, it } from 'vitest';
import { scripted } from '../../test/unit/fake-executor.js';
import type { Plan, PlanStep } from '../api/common.js';
import { executePlan } from './engine.js';
import { firstHold, type Gate, pauseGate } from './gates.js';
import { journalFor } from './journal.js';
import { planHash, type Step } from './step.js';

const next: PlanStep = { id: 'rebuild-ws1', state: 'Pending' };
const journal: Plan = { hash: 'h', steps: [next] };

describe('gates', () => {
  it('the first gate that holds decides, in the order given', () => {
    const window: Gate = () => ({ reason: 'WaitingForWindow', message: 'closed', retryAfterMs: 5000 });
    const never: Gate = () => undefined;
    expect(firstHold([never, window], next, journal)?.reason).toBe('WaitingForWindow');
    expect(firstHold([pauseGate(() => true), window], next, journal)).toEqual({
      reason: 'Paused',
      message: 'spec.paused is true; next step rebuild-ws1',
    });
    expect(firstHold([never, pauseGate(() => false)], next, journal)).toBeUndefined();
  });

  it('the engine stops at the step boundary a gate names, after the step before it finished', async () => {
    const { executor, ran } = scripted();
    const step = (id: string): Step => ({
      id,
      description: id,
      host: { kind: 'firstbox' },
      command: { script: id, purpose: id },
      timeoutMs: 1000,
      idempotent: true,
    });
    const steps = [step('backupWs1'), step('rebuildWs2')];
    const plan = { steps, hash: planHash(steps) };
    const onlyFirst: Gate = (s) =>
      s.id === 'rebuildWs2' ? { reason: 'WaitingForWindow', message: 'next node in the window' } : undefined;
    const out = await executePlan({
      plan,
      journal: journalFor(plan, undefined, 'now'),
      executor,
      target: () => ({ name: 'fb', address: '127.0.0.1', port: 22, user: 'root' }),
      persist: async () => {},
      hold: (s, j) => firstHold([onlyFirst], s, j),
      signal: new AbortController().signal,
    });
    expect(ran).toEqual(['backupWs1']);
    expect(out.kind).toBe('held');
    if (out.kind !== 'held') return;
    expect(out.step.id).toBe('rebuildWs2');
    expect(out.hold.reason).toBe('WaitingForWindow');
    expect(out.journal.steps!.map((s) => s.state)).toEqual(['Succeeded', 'Pending']);
  });
});
