/** Component: an optional platform service deployed on a zone (BOSS V2, cronus, websupervisor; runbook R3). */
import { z } from 'zod';
import {
  Approval,
  Conditions,
  CurrentStep,
  d,
  freeForm,
  immutable,
  int,
  ObservedGeneration,
  Packages,
  Paused,
  Plan,
  parser,
  pattern,
  resource,
  text,
  timestamp,
  withRules,
  ZoneRef,
} from './common.js';

export const ComponentName = z.enum(['boss', 'cronus', 'websupervisor']);
export type ComponentName = z.infer<typeof ComponentName>;

export const ComponentState = z.enum(['Present', 'Absent']);
export type ComponentState = z.infer<typeof ComponentState>;

const looseSection = (description: string) => d(freeForm(z.looseObject({})).optional(), description);

export const ComponentConfig = d(
  freeForm(
    z.looseObject({
      boss2: looseSection(
        'Overrides merged into boss2/boss2.yaml.<zoneId> (built into pitrix-ks-boss2-conf). Keys are YAML key paths.',
      ),
      console: looseSection(
        'Overrides merged into boss2/local_config.yaml (built into pitrix-ks-boss2-console).',
      ),
    }),
  ).optional(),
  'Free-form configuration overrides; each value is written as YAML data, never as shell text.',
);

export const ComponentSpec = d(
  z.object({
    zoneRef: withRules(ZoneRef, [immutable('zoneRef')]),
    name: d(
      withRules(ComponentName, [immutable('name')]),
      'Which component: boss (BOSS V2, global zone only, needs cronus first), cronus, websupervisor. Immutable.',
    ),
    state: d(ComponentState.default('Present'), 'Present deploys and keeps it; Absent removes it.'),
    config: ComponentConfig,
    packages: Packages,
    healthCheckInterval: d(
      pattern('DURATION', 32).default('1m'),
      'How often the health check (`django_manage.sh areyouok` for BOSS), the installed versions and ' +
        'the default-password check run once the component is deployed (`30s`, `1m`, `10m`).',
    ),
    approval: Approval,
    paused: Paused,
  }),
  'Desired state of the component.',
);
export type ComponentSpec = z.infer<typeof ComponentSpec>;

export const ComponentStatus = d(
  z.object({
    observedGeneration: ObservedGeneration,
    conditions: Conditions,
    versions: d(
      z.record(text(128), text(128)).meta({ maxProperties: 256 }).optional(),
      'Installed versions by package or service (`django_manage.sh versions` for BOSS).',
    ),
    health: d(
      z.object({
        healthy: d(z.boolean(), 'The health check passed (`django_manage.sh areyouok` for BOSS).'),
        checkedAt: d(
          timestamp().optional(),
          'Since when the check has given this verdict (rewritten when healthy or the message changes).',
        ),
        message: d(text(2048).optional(), 'Output of a failed check.'),
      }),
      'Last health check.',
    ).optional(),
    defaultCredentials: d(
      z.boolean().optional(),
      'The built-in account still has its default password and must be changed (runbook R3).',
    ),
    progress: d(
      z.object({
        jobId: d(text(128).optional(), 'Installer job id (`deploy-qingcloud-component.py`).'),
        status: d(text(32).optional(), 'running, successful or failed, as get-…-status.py reports it.'),
        percent: d(int().min(0).max(100).optional(), 'Progress in percent, as the installer reports it.'),
        step: d(text(512).optional(), 'The installer step running now.'),
        updatedAt: d(timestamp().optional(), 'When the progress was last read.'),
      }),
      'Progress of the long-running deployment job, polled from the installer while it runs.',
    ).optional(),
    plan: Plan.optional(),
    currentStep: CurrentStep,
  }),
  'Observed state of the component.',
);
export type ComponentStatus = z.infer<typeof ComponentStatus>;

export const ComponentSchema = d(
  resource('Component', ComponentSpec, ComponentStatus),
  'An optional platform service of a zone: BOSS V2, cronus or websupervisor.',
);
export type Component = z.infer<typeof ComponentSchema>;
export type ComponentInput = z.input<typeof ComponentSchema>;

export const parseComponent = parser('Component', ComponentSchema);
