/** TagServer: the global tag service and the migration of zone tags into it (runbook R1). */
import { z } from 'zod';
import {
  Approval,
  Conditions,
  CurrentStep,
  d,
  immutable,
  int,
  listSet,
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

export const TagServerSpec = d(
  z.object({
    zoneRef: d(withRules(ZoneRef, [immutable('zoneRef')]), 'The global zone (the tag service runs there).'),
    enabledZones: d(
      listSet(z.array(pattern('ZONE_ID', 32)).min(1).max(64)),
      'Region ids (or zone ids for a non-region deployment) that use the tag service: ' +
        'common.zones_enable_tag_server.',
    ),
    registerToZk: d(z.boolean().default(true), 'tag_server.register_to_zk in the global zone config.'),
    migration: d(
      z.object({
        zones: d(
          listSet(z.array(pattern('ZONE_ID', 32)).max(64)),
          'Zones whose existing tags are migrated (migrate_for_tag_server.py -z).',
        ),
        verify: d(
          z.boolean().default(true),
          'Re-run with -a update and require total_count == inserted + warnings and no errors.',
        ),
        predictWarnings: d(
          z.boolean().default(true),
          'Before each zone, run migrate_for_tag_server.py -a describe (read-only; not a runbook step, see ' +
            'docs/platform-interface.md) to predict its warnings. A script that refuses the option is tolerated: the ' +
            'zone migrates without a prediction and says so. The runbook rule (total_count == inserted + warnings, ' +
            'no errors) decides either way. Set false to never run it.',
        ),
      }),
      'Migration of existing tags into the tag service.',
    ).optional(),
    packages: Packages,
    approval: Approval,
    paused: Paused,
  }),
  'Desired state of the tag service.',
);
export type TagServerSpec = z.infer<typeof TagServerSpec>;

export const MigrationResult = z.object({
  totalCount: d(int().min(0).optional(), 'total_count of the probe response.'),
  inserted: d(int().min(0).optional(), 'Tags inserted (+).'),
  updated: d(int().min(0).optional(), 'Tags updated (^).'),
  errors: d(int().min(0).optional(), 'Errors (X).'),
  warnings: d(int().min(0).optional(), 'Warnings (W): one user holds a same-named tag in several zones.'),
  predictedWarnings: d(int().min(0).optional(), 'Warnings predicted from the tags before migrating.'),
  verified: d(
    z.boolean().optional(),
    'total_count == inserted + warnings, no errors, and the update pass inserted nothing.',
  ),
  finishedAt: d(timestamp().optional(), 'When the migration of this zone finished.'),
  updatePassInserted: d(
    int().min(0).optional(),
    'Tags the -a update confirmation pass inserted (must be 0).',
  ),
  updatePassErrors: d(int().min(0).optional(), 'Errors the -a update confirmation pass reported.'),
  node: d(text(63).optional(), 'Webservice node the migration runs on.'),
  sameNameTags: d(
    z.array(text(256)).max(20).optional(),
    'Pre-flight audit: tags whose owner holds a same-named tag in a zone migrated before (the predicted warnings).',
  ),
  modelViolations: d(
    z
      .array(
        z.object({
          tagId: d(text(128), 'Tag id.'),
          problem: d(text(256), 'How the tag breaks the R2 tag model.'),
        }),
      )
      .max(32)
      .optional(),
    'Pre-flight audit: tags longer than 2048 characters or malformed `::` system tags.',
  ),
  message: d(text(1024).optional(), 'Why the migration of this zone is not verified.'),
});
export type MigrationResult = z.infer<typeof MigrationResult>;

export const TagServerStatus = d(
  z.object({
    observedGeneration: ObservedGeneration,
    conditions: Conditions,
    migration: d(
      z.record(text(32), MigrationResult).meta({ maxProperties: 64 }).optional(),
      'Migration result per zone id.',
    ),
    audit: d(
      z.object({
        checkedAt: d(
          timestamp().optional(),
          'When the comparison of the configs first gave these findings (unchanged findings keep it).',
        ),
        findings: d(
          z
            .array(
              z.object({
                zone: d(text(32), 'Zone whose server.yaml was checked.'),
                key: d(text(256), 'YAML key path.'),
                expected: d(text(1024).optional(), 'Value the runbook requires.'),
                actual: d(text(1024).optional(), 'Value found.'),
              }),
            )
            .max(128)
            .optional(),
          'Config keys that differ from what runbook R1 steps 3-4 require.',
        ),
      }),
      'Audit of the tag-service settings in each zone config.',
    ).optional(),
    installedVersions: d(
      z.record(text(128), text(128)).meta({ maxProperties: 64 }).optional(),
      'Installed tag-service package versions.',
    ),
    pushing: d(
      z
        .record(text(64), z.array(text(64)).max(256))
        .meta({ maxProperties: 64 })
        .optional(),
      'Node ids each push of the plan in flight covers, by step id: kept until that plan ends, so nodes that received a push mid-run never change the job the plan is running.',
    ),
    plan: Plan.optional(),
    currentStep: CurrentStep,
  }),
  'Observed state of the tag service.',
);
export type TagServerStatus = z.infer<typeof TagServerStatus>;

export const TagServerSchema = d(
  resource('TagServer', TagServerSpec, TagServerStatus),
  'The global tag service (pitrix-ks-tag-server, pitrix-ks-proxy-tag) and the tag migration.',
);
export type TagServer = z.infer<typeof TagServerSchema>;
export type TagServerInput = z.input<typeof TagServerSchema>;

export const parseTagServer = parser('TagServer', TagServerSchema);
