/** Step naming: makePlan refuses a step not named in camelCase after its runbook action. */
import { describe, expect, it } from 'vitest';
import { actionOf, forNode, forSubject, makePlan, type Step } from './step.js';

const fb = { kind: 'firstbox' } as const;
const step = (name: string | { id: string; action?: string; node?: string }): Step => ({
  ...(typeof name === 'string' ? { id: name } : name),
  description: 'a step',
  host: fb,
  command: { script: 'true', purpose: 'a step' },
  timeoutMs: 1000,
  readOnly: true,
});

describe('step names', () => {
  it('accepts camelCase actions, alone or with their node or subject', () => {
    const plan = makePlan([
      step('dumpHosts'),
      step('checkBossHealth'),
      step(forNode('launchVm', 'webservice1')),
      step(forSubject('stopV1Program', 'webservice.boss_collector')),
      step(forSubject('modifyNodeAttributes', '10.0.0.5-sdb')),
    ]);
    expect(plan.steps.map((s) => s.id)).toEqual([
      'dumpHosts',
      'checkBossHealth',
      'launchVm-webservice1',
      'stopV1Program-webservice.boss_collector',
      'modifyNodeAttributes-10.0.0.5-sdb',
    ]);
    expect(plan.steps.map(actionOf)).toEqual([
      'dumpHosts',
      'checkBossHealth',
      'launchVm',
      'stopV1Program',
      'modifyNodeAttributes',
    ]);
  });

  it.each([
    [
      'a kebab-case id',
      step('deploy-console'),
      /"deploy-console": a step id is the camelCase name of its runbook action/,
    ],
    ['a subject without an action', step('stopV1Program-webservice'), /camelCase name of its runbook action/],
    ['a capitalised id', step('DumpHosts'), /camelCase/],
    ['an id with an underscore', step('dump_hosts'), /camelCase/],
    [
      'a kebab-case action',
      step(forNode('launch-vm', 'webservice1')),
      /its action "launch-vm" is not camelCase/,
    ],
    [
      'an id that does not start with its action',
      step({ id: 'launchVm-webservice1', action: 'startVm' }),
      /does not start with its action startVm/,
    ],
    [
      'a node without an action',
      step({ id: 'launchVm', node: 'webservice1' }),
      /names node webservice1 without an action/,
    ],
    [
      'an id the journal cannot hold',
      step(forSubject('launchVm', 'x'.repeat(128))),
      /longer than 128 characters/,
    ],
  ])('refuses %s', (_what, s, message) => {
    expect(() => makePlan([step('dumpHosts'), s])).toThrow(message);
  });
});
