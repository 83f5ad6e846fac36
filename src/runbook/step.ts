/**
 * Steps and plans. A Step is one runbook action on one host, with its exact command; a Plan is the
 * ordered list a controller computes as a pure function of (spec, observed facts, journal). The
 * plan's hash covers ids, hosts and commands, so approving a hash approves exactly those commands.
 */
import { createHash } from 'node:crypto';
import { STEP_ACTION_MAX, STEP_ID_MAX } from '../api/common.js';
import type { ShellCommand } from '../ssh/types.js';
import { installGuardStep } from './jobguard.js';

/** Where a step runs: the zone's firstbox, or one node reached directly. */
export type StepHost = { kind: 'firstbox' } | { kind: 'node'; address: string; port?: number; user?: string };

export interface Step {
  /** Stable id named after the runbook action (`scaleQingcloud`), unique in the plan. */
  id: string;
  /**
   * The runbook action the step performs (`launchVm`) and the node it acts for, when it is one of
   * a node's steps (`forNode`): reports group steps by them, never by parsing the id.
   */
  action?: string;
  node?: string;
  /** What it does, with the runbook reference ("R4.7 scale the zone with the new nodes"). */
  description: string;
  host: StepHost;
  command: ShellCommand;
  timeoutMs: number;
  /**
   * "Already done?" Exit 0: done; 1: not done, run the command; 3: still in progress (a job the
   * platform runs on its own), poll again later. Any other answer, or none (timeout, dropped
   * connection, cancelled), is unknown and stops the plan (src/runbook/outcome.ts).
   * A step found Running after a restart is never re-run without this check saying "not done".
   */
  check?: ShellCommand;
  /** Safe to run again when its outcome is unknown (after an interruption) and it has no check. */
  idempotent?: boolean;
  /** Only reads (listings, describe-*, status): may simply run again after an interruption. */
  readOnly?: boolean;
  /**
   * What the step's whole output yields (records of short strings), stored in the journal entry
   * with its Succeeded state: a report reads it there, never by parsing an output tail.
   */
  capture?(stdout: string): Array<Record<string, string>>;
  /** Set by `guardedStep` (jobguard.ts): the command runs under the job guard in this directory. */
  job?: { dir: string };
  /** Exit codes that count as success when `verify` judges the output (default: only 0). */
  acceptExitCodes?: readonly number[];
  /** Destroys data (erasing disks, shutting a VM down): shown as such in the plan. */
  destructive?: boolean;
  /** Verifies the command's output beyond its exit code; returns a reason when it is wrong. */
  verify?: (stdout: string) => string | undefined;
  /** A secret fed to the command's stdin (never part of the command text, status or hash). */
  stdinSecret?: { secretName: string; key: string };
  /** Content (not secret) fed to the command's stdin; its digest is part of the plan hash, never the text. */
  stdinContent?: string;
}

export interface PlannedRunbook {
  steps: Step[];
  hash: string;
  /** What the hash also covers beyond the steps (the firstbox access, zone/access.ts). */
  binding?: string;
}

export const CHECK_DONE = 0;
export const CHECK_NOT_DONE = 1;
export const CHECK_IN_PROGRESS = 3;

export function hostLabel(host: StepHost): string {
  return host.kind === 'firstbox' ? 'firstbox' : host.address;
}

/** What identifies a step: where it runs and what it runs. Descriptions and timeouts do not count. */
function identity(s: Step): string {
  return JSON.stringify([
    s.id,
    hostLabel(s.host),
    s.command.script,
    s.check?.script ?? '',
    !!s.destructive,
    ...(s.stdinContent === undefined ? [] : [createHash('sha256').update(s.stdinContent).digest('hex')]),
  ]);
}

/** Hash of what will run, where, and in which order. Descriptions and timeouts do not count. */
export function planHash(steps: readonly Step[]): string {
  const h = createHash('sha256');
  for (const s of steps) {
    h.update(identity(s));
    h.update('\n');
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * One step's identity, with what its plan is bound to (the firstbox access): journaled with the
 * step, so a re-plan can tell whether it still holds exactly this step (`continueInFlight`).
 */
export function stepDigest(s: Step, binding = ''): string {
  return createHash('sha256').update(identity(s)).update('\n').update(binding).digest('hex').slice(0, 16);
}

/**
 * A plan from its steps, in order. Steps are named in camelCase after the runbook action
 * (`scaleQingcloud`); a step repeated per node or other subject carries that action and its subject
 * (`forNode`, `forSubject`: id `ACTION-SUBJECT`), so nothing ever parses an id for its meaning. A
 * step named otherwise is refused here. A plan with guarded jobs gets the guard's installation
 * before the first of them.
 */
export function makePlan(input: Step[]): PlannedRunbook {
  const steps = withJobGuard(input);
  const ids = new Set<string>();
  for (const s of steps) {
    const wrong = namingProblem(s);
    if (wrong) throw new Error(`plan step ${JSON.stringify(s.id)}: ${wrong}`);
    if (ids.has(s.id)) throw new Error(`plan has two steps with id ${s.id}: step ids must be unique`);
    ids.add(s.id);
  }
  return { steps, hash: planHash(steps) };
}

/** A runbook action's name: camelCase, letters and digits only (`checkBossHealth`, `launchVm`). */
export const CAMEL_CASE = /^[a-z][a-zA-Z0-9]*$/;

/** Why a step's id or action breaks the naming convention; undefined when it follows it. */
export function namingProblem(s: Pick<Step, 'id' | 'action' | 'node'>): string | undefined {
  if (s.id.length > STEP_ID_MAX)
    return `its id is longer than ${STEP_ID_MAX} characters (status.plan holds no more)`;
  if ((s.action?.length ?? 0) > STEP_ACTION_MAX)
    return `its action is longer than ${STEP_ACTION_MAX} characters (status.plan holds no more)`;
  if (s.action === undefined) {
    if (s.node !== undefined)
      return `names node ${s.node} without an action; build it with forNode(action, node)`;
    return CAMEL_CASE.test(s.id)
      ? undefined
      : 'a step id is the camelCase name of its runbook action (`dumpHosts`, `checkBossHealth`); a step repeated per node or subject takes forNode(action, node) or forSubject(action, subject)';
  }
  if (!CAMEL_CASE.test(s.action))
    return `its action ${JSON.stringify(s.action)} is not camelCase: name it after the runbook action (\`launchVm\`)`;
  if (s.id !== s.action && !s.id.startsWith(`${s.action}-`))
    return `its id does not start with its action ${s.action}: build it with forNode or forSubject`;
  return undefined;
}

/** What a step is for reports and metrics: its action, or its id when it has none. Never parsed. */
export function actionOf(s: { id: string; action?: string }): string {
  return s.action ?? s.id;
}

function withJobGuard(steps: Step[]): Step[] {
  const first = steps.findIndex((s) => s.job && s.host.kind === 'firstbox');
  if (first < 0 || steps.some((s) => s.id === 'installJobGuard')) return steps;
  return [...steps.slice(0, first), installGuardStep(), ...steps.slice(first)];
}

/** The id and group of a node's step: `forNode('launchVm', 'webservice1')` → id `launchVm-webservice1`. */
export function forNode(action: string, node: string): { id: string; action: string; node: string } {
  return { ...forSubject(action, node), node };
}

/**
 * The id and action of a step repeated for a subject other than a node (a role, a zone, a program):
 * `forSubject('stopV1Program', 'webservice.boss_collector')` → id `stopV1Program-webservice.boss_collector`.
 */
export function forSubject(action: string, subject: string): { id: string; action: string } {
  return { id: `${action}-${subject}`, action };
}
