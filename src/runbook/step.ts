/**
 * Steps and plans. A Step is one runbook action on one host, with its exact command; a Plan is the
 * ordered list a controller computes as a pure function of (spec, observed facts, journal). The
 * plan's hash covers ids, hosts and commands, so approving a hash approves exactly those commands.
 */
import { createHash } from 'node:crypto';
import type { ShellCommand } from '../ssh/types.js';

/** Where a step runs: the zone's firstbox, or one node reached directly. */
export type StepHost = { kind: 'firstbox' } | { kind: 'node'; address: string; port?: number; user?: string };

export interface Step {
  /** Stable id named after the runbook action (`scaleQingcloud`), unique in the plan. */
  id: string;
  /** What it does, with the runbook reference ("R4.7 scale the zone with the new nodes"). */
  description: string;
  host: StepHost;
  command: ShellCommand;
  timeoutMs: number;
  /**
   * "Already done?" Exit 0: done, skip or mark succeeded; exit 3: still in progress (a job the
   * platform runs on its own), poll again later; anything else: not done, run the command.
   * A step found Running after a restart is never re-run without this check saying "not done".
   */
  check?: ShellCommand;
  /** Safe to run again when its outcome is unknown (after an interruption) and it has no check. */
  idempotent?: boolean;
  /** Exit codes that count as success when `verify` judges the output (default: only 0). */
  acceptExitCodes?: readonly number[];
  /** Destroys data (erasing disks, shutting a VM down): shown as such in the plan. */
  destructive?: boolean;
  /** Verifies the command's output beyond its exit code; returns a reason when it is wrong. */
  verify?: (stdout: string) => string | undefined;
  /** A secret fed to the command's stdin (never part of the command text, status or hash). */
  stdinSecret?: { secretName: string; key: string };
  /**
   * Content fed to the command's stdin (a file write, controllers/filewrite.ts). Never part of the
   * command text or status; the command carries its sha256, which is how the plan hash covers it.
   */
  stdinContent?: string;
}

export interface PlannedRunbook {
  steps: Step[];
  hash: string;
}

export const CHECK_DONE = 0;
export const CHECK_IN_PROGRESS = 3;

export function hostLabel(host: StepHost): string {
  return host.kind === 'firstbox' ? 'firstbox' : host.address;
}

/** Hash of what will run, where, and in which order. Descriptions and timeouts do not count. */
export function planHash(steps: readonly Step[]): string {
  const h = createHash('sha256');
  for (const s of steps) {
    h.update(
      JSON.stringify([s.id, hostLabel(s.host), s.command.script, s.check?.script ?? '', !!s.destructive]),
    );
    h.update('\n');
  }
  return h.digest('hex').slice(0, 16);
}

export function makePlan(steps: Step[]): PlannedRunbook {
  const ids = new Set<string>();
  for (const s of steps) {
    if (ids.has(s.id)) throw new Error(`plan has two steps with id ${s.id}: step ids must be unique`);
    ids.add(s.id);
  }
  return { steps, hash: planHash(steps) };
}
