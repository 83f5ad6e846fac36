/**
 * Runbook R1.6-7 (tag service) migration as planned: the state of each zone in spec.migration from
 * the logs the operator leaves on firstbox, judged against the pre-flight prediction, and the
 * insert and update passes still to run (each runs once).
 */
import type { MigrationResult } from '../../api/tagserver.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { forSubject, type Step } from '../../runbook/step.js';
import { sh, validated } from '../../ssh/command.js';
import {
  countsText,
  insertProblems,
  judgeMigration,
  migrationStarted,
  parseMigrationOutput,
} from './migration.js';
import { MIGRATION_LOG_DIR, migrateCommand, migrationLogPath } from './observe.js';
import type { NodeInfo, TagServerPlanInput, Violation, ZoneMigration } from './plan.js';
import { HOUR } from './steps-common.js';

/** Webservice node a zone's migration runs on: the VIP holder, else the first deployed one by id. */
export function migrationNode(nodes: readonly NodeInfo[], zoneId: string): NodeInfo | undefined {
  const ws = nodes
    .filter((n) => n.zoneId === zoneId && n.roles.includes('webservice') && n.status === 'deployed')
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return ws.find((n) => n.vip) ?? ws[0];
}

/**
 * Migration state of each zone (R1.6-7): from the logs on firstbox, judged against the prediction.
 * A zone failed or still running blocks the zones after it; violations found are added to `violations`.
 */
export function planMigration(
  input: TagServerPlanInput,
  violations: Violation[],
): { migration: ZoneMigration[]; steps: Step[] } {
  const { spec } = input;
  const migration: ZoneMigration[] = [];
  const requireUpdatePass = spec.migration?.verify ?? true;
  let blocked = false;
  const migrationSteps: Step[] = [];
  for (const zoneId of spec.migration?.zones ?? []) {
    const zone = validated('ZONE_ID', zoneId, 'spec.migration.zones[]');
    const logs = input.logs[zone] ?? {};
    const prev = input.previous[zone];
    const insert = logs.insert?.present ? parseMigrationOutput(logs.insert.text) : undefined;
    const update = logs.update?.present ? parseMigrationOutput(logs.update.text) : undefined;
    const started = !!logs.insert?.present && migrationStarted(logs.insert.text);
    const finishedWithoutSummary = started && !insert && /^exec_nodes:/m.test(logs.insert!.text);
    const audit = input.audit[zone];
    const predicted =
      started && prev?.predictedWarnings !== undefined ? prev.predictedWarnings : audit?.predictedWarnings;
    const verdict = judgeMigration({
      insert,
      insertStartedWithoutSummary: finishedWithoutSummary,
      update,
      predictedWarnings: predicted,
      requireUpdatePass,
    });
    const running = started && !insert && !finishedWithoutSummary;
    // The pre-flight -a describe is the operator's, not the runbook's (seed 000 lines 66–84 run
    // only insert and update): without it the zone migrates without a prediction, and says so.
    const notes = [
      ...verdict.notes,
      ...(!started && !audit && !blocked
        ? [
            "no warnings prediction: the pre-flight -a describe (not a runbook step) gave no usable DescribeTagsResponse; the runbook's rule alone decides",
          ]
        : []),
    ];
    const state: ZoneMigration['state'] = running ? 'running' : verdict.state;
    const node = migrationNode(input.nodes, zone);
    const result: MigrationResult = {
      ...(insert?.totalCount !== undefined
        ? { totalCount: insert.totalCount }
        : audit
          ? { totalCount: audit.totalCount }
          : {}),
      ...(insert
        ? {
            inserted: insert.inserted,
            updated: insert.updated,
            errors: insert.errors,
            warnings: insert.warnings,
          }
        : {}),
      ...(predicted !== undefined ? { predictedWarnings: predicted } : {}),
      ...(update ? { updatePassInserted: update.inserted, updatePassErrors: update.errors } : {}),
      verified: state === 'verified',
      ...(node ? { node: node.nodeId } : {}),
      ...(audit
        ? { sameNameTags: audit.sameName }
        : prev?.sameNameTags
          ? { sameNameTags: prev.sameNameTags }
          : {}),
      ...(audit && audit.violations.length > 0
        ? { modelViolations: audit.violations.slice(0, 32) }
        : prev?.modelViolations
          ? { modelViolations: prev.modelViolations }
          : {}),
      ...(prev?.finishedAt && state === 'verified' ? { finishedAt: prev.finishedAt } : {}),
      ...(verdict.problems.length + notes.length > 0
        ? { message: [...verdict.problems, ...notes].join('; ').slice(0, 1024) }
        : {}),
    };
    migration.push({ zone, result, state, problems: verdict.problems, ...(insert ? { insert } : {}) });
    if (state === 'failed' || state === 'running') blocked = true;
    if (blocked || state === 'verified' || state === 'failed') continue;
    if (!node) {
      violations.push({
        reason: 'NoWebserviceNode',
        message: `zone ${zone} has no deployed webservice node to run migrate_for_tag_server.py on (R1.6)`,
      });
      blocked = true;
      continue;
    }
    if (!started) migrationSteps.push(insertStep(zone, node.nodeId, audit?.predictedWarnings));
    if (requireUpdatePass && !update) migrationSteps.push(updateStep(zone, node.nodeId));
  }
  return { migration, steps: migrationSteps };
}

/**
 * R1.6: runs once. Its output goes to a log on firstbox; the check says "done" as soon as that log
 * shows the migration started, so neither a retry nor a restarted operator runs the insert again.
 */
function insertStep(zone: string, nodeId: string, predicted: number | undefined): Step {
  const log = migrationLogPath(zone, 'insert');
  // Under the job guard: a dropped connection or a restart never starts a second insert.
  return guardedStep(migrationInsert(zone, nodeId, predicted, log), { lockScope: zone });
}

function migrationInsert(zone: string, nodeId: string, predicted: number | undefined, log: string): Step {
  return {
    ...forSubject('migrateInsert', zone),
    description: `R1.6 migrate the tags of ${zone} into the tag service (-a insert on ${nodeId}; ${predicted === undefined ? 'no warnings prediction' : `${predicted} warning(s) predicted`}); runs once, its log ${log} marks it done`,
    host: { kind: 'firstbox' },
    command: sh(
      `migrate ${zone} (insert)`,
    )`mkdir -p ${MIGRATION_LOG_DIR} && { ${migrateCommand(nodeId, zone, 'insert')}; } > ${log} 2>&1; rc=$?; cat ${log}; exit $rc`,
    check: sh(
      `${zone} insert already ran?`,
    )`test -e ${log} || exit 1; grep -Eq '^There are [0-9]+ tag items' ${log}`,
    verify: (out) => {
      const c = parseMigrationOutput(out);
      if (!c) return 'no summary line (tag: N + N ^ N X N W ...) in the output';
      // The original's rule only; a warnings count off the prediction is a note in status.
      const p = insertProblems(c);
      return p.length > 0 ? `${countsText(c)}: ${p.join('; ')}` : undefined;
    },
    timeoutMs: 4 * HOUR,
  };
}

/** R1.7: the update pass must insert nothing. Runs once, like the insert. */
function updateStep(zone: string, nodeId: string): Step {
  const log = migrationLogPath(zone, 'update');
  return guardedStep(migrationUpdate(zone, nodeId, log), { lockScope: zone });
}

function migrationUpdate(zone: string, nodeId: string, log: string): Step {
  return {
    ...forSubject('migrateUpdate', zone),
    description: `R1.7 confirm the migration of ${zone} (-a update on ${nodeId}): it must insert nothing`,
    host: { kind: 'firstbox' },
    command: sh(
      `migrate ${zone} (update)`,
    )`mkdir -p ${MIGRATION_LOG_DIR} && { ${migrateCommand(nodeId, zone, 'update')}; } > ${log} 2>&1; rc=$?; cat ${log}; exit $rc`,
    check: sh(
      `${zone} update pass already ran?`,
    )`test -e ${log} || exit 1; grep -Eq '^There are [0-9]+ tag items' ${log}`,
    verify: (out) => {
      const c = parseMigrationOutput(out);
      if (!c) return 'no summary line (tag: N + N ^ N X N W ...) in the output';
      const p: string[] = [];
      if (c.inserted > 0) p.push(`inserted ${c.inserted} (must be 0)`);
      if (c.errors > 0) p.push(`${c.errors} tag error(s)`);
      if (c.resourceErrors > 0) p.push(`${c.resourceErrors} resource_tag error(s)`);
      return p.length > 0 ? `update pass: ${countsText(c)}: ${p.join('; ')}` : undefined;
    },
    timeoutMs: 4 * HOUR,
  };
}
