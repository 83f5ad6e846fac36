/**
 * ProgramRestart: restart one supervisor program on the nodes of a role, one node at a time,
 * checking `supervisorctl status` after each. A runbook kind defined entirely in the test folder,
 * to prove that adding a runbook is a schema, a plan and one registry entry (docs/adding-a-runbook.md).
 */
import { z } from 'zod';
import {
  Approval,
  Conditions,
  CurrentStep,
  d,
  ObservedGeneration,
  Paused,
  Plan,
  parser,
  pattern,
  resource,
  ZoneRef,
} from '../../src/api/common.js';
import type { KindInfo } from '../../src/api/kinds.js';

export const ProgramRestartSpec = d(
  z.object({
    zoneRef: ZoneRef,
    role: d(
      pattern('NODE_ID', 32),
      'The installer role whose nodes restart the program (webservice, proxy…).',
    ),
    program: d(
      pattern('SUPERVISOR_PROGRAM', 64),
      'The supervisor program to restart (supervisorctl restart NAME).',
    ),
    approval: Approval,
    paused: Paused,
  }),
  'Which program restarts on which nodes.',
);

export const ProgramRestartStatus = d(
  z.object({
    conditions: Conditions,
    observedGeneration: ObservedGeneration,
    plan: Plan.optional(),
    currentStep: CurrentStep,
  }),
  'The restart, node by node.',
);

export const ProgramRestartSchema = d(
  resource('ProgramRestart', ProgramRestartSpec, ProgramRestartStatus),
  'A rolling restart of one supervisor program on the nodes of a role.',
);
export type ProgramRestart = z.infer<typeof ProgramRestartSchema>;

export const programRestartKind: KindInfo<ProgramRestart> = {
  kind: 'ProgramRestart',
  listKind: 'ProgramRestartList',
  plural: 'programrestarts',
  singular: 'programrestart',
  shortNames: ['prr'],
  categories: ['pitrix'],
  printerColumns: [
    { name: 'Program', type: 'string', jsonPath: '.spec.program', description: 'Program restarted.' },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Ready.',
    },
    { name: 'Step', type: 'string', jsonPath: '.status.currentStep', description: 'Current step.' },
  ],
  schema: ProgramRestartSchema,
  parse: parser('ProgramRestart', ProgramRestartSchema),
};
