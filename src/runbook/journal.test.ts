import { describe, expect, it } from 'vitest';
import type { Plan } from '../api/common.js';
import { guardedStep } from './jobguard.js';
import { continueInFlight, journalFor, skipNotNeeded } from './journal.js';
import { forNode, forSubject, makePlan, type Step } from './step.js';

const fb = { kind: 'firstbox' } as const;
const step = (id: string, script = `run ${id}`, extra: Partial<Step> = {}): Step => ({
  id,
  description: id,
  host: fb,
  command: { script, purpose: id },
  timeoutMs: 1000,
  check: { script: `check ${id}`, purpose: id },
  ...extra,
});
const bound = (steps: Step[], binding = 'firstbox 10.0.0.1:22') => ({ ...makePlan(steps), binding });

/** The journal of `steps` with the first `done` Succeeded and the next one Running. */
function inFlightJournal(steps: Step[], done: number, binding?: string): Plan {
  const j = journalFor(bound(steps, binding), undefined, 'now');
  return {
    ...j,
    steps: j.steps!.map((e, i) => ({
      ...e,
      state: i < done ? 'Succeeded' : i === done ? 'Running' : 'Pending',
    })),
  };
}

describe('continueInFlight: a re-plan after a restart carries the plan in flight on', () => {
  const first = [
    step('writeServerYaml'),
    step('buildTagServer'),
    step('installTagServer'),
    step('pushGlobalConf'),
  ];

  it('keeps the hash and the journal when the re-plan only dropped finished steps', () => {
    const journal = inFlightJournal(first, 2);
    const replan = bound([first[2]!, first[3]!]);
    const continued = continueInFlight(replan, journal)!.plan;
    expect(continued.hash).toBe(journal.hash);
    expect(continued.steps.map((s) => s.id)).toEqual(journal.steps!.map((e) => e.id));
    // What is left runs as the re-plan says it (its check, its stdin); the dropped ones are records.
    expect(continued.steps[2]).toBe(replan.steps[0]);
    expect(continued.steps[0]!.readOnly).toBe(true);
    // The journal as it was: the Running step is still Running, its check decides.
    expect(journalFor(continued, journal, 'later')).toEqual(journal);
  });

  it('does not continue when the re-plan holds new work', () => {
    const journal = inFlightJournal(first, 2);
    expect(continueInFlight(bound([first[2]!, first[3]!, step('upgradeTag')]), journal)).toBeUndefined();
  });

  it('does not continue when an unfinished step changed or was dropped', () => {
    const journal = inFlightJournal(first, 2);
    const changed = step('installTagServer', 'update.sh pek3a-webservice pitrix-ks-tag-server # other nodes');
    expect(continueInFlight(bound([changed, first[3]!]), journal)).toBeUndefined();
    expect(continueInFlight(bound([first[3]!]), journal)).toBeUndefined();
    const otherCheck = step('pushGlobalConf', 'run pushGlobalConf', {
      check: { script: 'other', purpose: 'p' },
    });
    expect(continueInFlight(bound([first[2]!, otherCheck]), journal)).toBeUndefined();
    const otherStdin = step('installTagServer', 'run installTagServer', { stdinContent: 'new content' });
    expect(continueInFlight(bound([otherStdin, first[3]!]), journal)).toBeUndefined();
  });

  it('asks a started guarded job the re-plan dropped (its effect is seen) before going on', () => {
    const job = (id: string) =>
      guardedStep(step(id, `update.sh ${id}`), { lockScope: 'pek3a', inputs: ['missing on a'] });
    const jobs = [step('writeServerYaml'), job('installProxyTagA'), job('installProxyTagB')];
    const planOf = makePlan(jobs);
    // writeServerYaml and the guard's installation done, installProxyTagA running.
    const journal = inFlightJournal(jobs, 2);
    expect(journal.steps!.map((e) => e.id)).toEqual(planOf.steps.map((s) => s.id));
    const replan = bound(planOf.steps.filter((s) => s.id === 'installProxyTagB'));
    const continued = continueInFlight(replan, journal)!.plan;
    expect(continued.hash).toBe(journal.hash);
    const running = continued.steps.find((s) => s.id === 'installProxyTagA')!;
    const original = planOf.steps.find((s) => s.id === 'installProxyTagA')!;
    expect(running.check?.script).toBe(original.check?.script);
    expect(running.command.script).toBe(original.command.script);
    expect(running.job).toEqual(original.job);
    // Not started yet and dropped: the platform already shows it done, so it is recorded Skipped
    // (never run) and the plan keeps its hash.
    const pendingDropped = bound(planOf.steps.filter((s) => s.id === 'installProxyTagA'));
    const rest = continueInFlight(pendingDropped, journal)!;
    expect(rest.plan.hash).toBe(journal.hash);
    expect(rest.notNeeded).toEqual(['installProxyTagB']);
    const skipped = skipNotNeeded(journalFor(rest.plan, journal, 'now'), rest.notNeeded, 'now');
    expect(skipped.steps!.find((e) => e.id === 'installProxyTagB')).toMatchObject({
      state: 'Skipped',
      note: expect.stringContaining('no longer holds it'),
    });
    expect(skipped.steps!.find((e) => e.id === 'installProxyTagA')!.state).toBe('Running');
    // A human asked to run it again without its check: not carried on a guess either.
    const forced = {
      ...journal,
      steps: journal.steps!.map((e) => (e.id === 'installProxyTagA' ? { ...e, forceRun: true } : e)),
    };
    expect(continueInFlight(replan, forced)).toBeUndefined();
  });

  it('does not continue when the firstbox access changed (an approval covers where commands go)', () => {
    const journal = inFlightJournal(first, 2);
    expect(continueInFlight(bound([first[2]!, first[3]!], 'firstbox 10.6.6.6:22'), journal)).toBeUndefined();
  });

  it('leaves a plan that has not started, a finished one and an old journal without digests alone', () => {
    const notStarted = inFlightJournal(first, -1);
    notStarted.steps = notStarted.steps!.map((e) => ({ ...e, state: 'Pending' }));
    expect(continueInFlight(bound(first.slice(1)), notStarted)).toBeUndefined();
    const finished = {
      ...notStarted,
      steps: notStarted.steps.map((e) => ({ ...e, state: 'Succeeded' as const })),
    };
    expect(continueInFlight(bound(first.slice(1)), finished)).toBeUndefined();
    const old = inFlightJournal(first, 2);
    old.steps = old.steps!.map(({ digest: _digest, ...e }) => e);
    expect(continueInFlight(bound(first.slice(2)), old)).toBeUndefined();
  });
});

describe('journalFor', () => {
  it('gives a journal written before its steps carried their action and node those of its own plan', () => {
    const plan = makePlan([
      step('scanRepository'),
      { ...step('x'), ...forSubject('checkServices', 'hyper') },
      { ...step('y'), ...forNode('launchVm', 'webservice1') },
    ]);
    const journal = journalFor(plan, undefined, 'now');
    const old: Plan = { ...journal, steps: journal.steps!.map(({ action: _a, node: _n, ...e }) => e) };
    expect(journalFor(plan, old, 'later').steps!.map((e) => [e.id, e.action, e.node])).toEqual([
      ['scanRepository', undefined, undefined],
      ['checkServices-hyper', 'checkServices', undefined],
      ['launchVm-webservice1', 'launchVm', 'webservice1'],
    ]);
  });
});
