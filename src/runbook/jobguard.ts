/**
 * The job guard: how a long platform job (config-qingcloud.py, scale-qingcloud.py, update.sh, the
 * component deploy, the tag migration, a VM install) runs on the firstbox so that "is it still
 * running?" is a fact and two copies can never run at once, whatever the operator believes.
 *
 * The step's command claims a job directory (`mkdir` is atomic), then starts the job detached from
 * the SSH session (`setsid`) under a per-zone `flock`, records its pid and, when it ends, its exit
 * code; the foreground only follows it and prints its log. A dropped connection, a timeout or an
 * operator restart therefore changes nothing on the host. The step's check reads the same
 * directory: running (pid alive) → 3, finished 0 → 0, finished otherwise → 4, claimed but gone
 * without an exit code → 5 (unknown: a human decides). Only when the directory does not exist does
 * the runbook's own status check (describe-nodes and the like) answer, and it must answer 0 or 1.
 *
 * The job id is derived from the step id, the job's command and the digests of the files it reads
 * (`inputs`): a new plan whose step would read other input is a new job, never "already done".
 *
 * The guard is one constant program; every variable part arrives as a quoted argv entry. The job
 * and the status check run in bash when the firstbox has it, as the runbook's commands are typed at
 * the firstbox's root shell (R3 sources `/pitrix/conf/nodes/boss`, a bash array): under plain sh
 * they would fail where the runbook's would not.
 * ASSUMPTION (docs/platform-interface.md): the firstbox has POSIX sh, `setsid` and `flock`
 * (util-linux, present on every Ubuntu the installer supports).
 */
import { createHash } from 'node:crypto';
import { sh, shell } from '../ssh/command.js';
import type { ShellCommand } from '../ssh/types.js';
import type { Step } from './step.js';

export const JOB_ROOT = '/pitrix/conf/operator/jobs';

/** Exit codes of the guard itself (chosen outside what the installer's scripts use: 0, 1, 2). */
export const GuardExit = {
  /** The job was claimed before and has no exit code: not started again. */
  alreadyStarted: 75,
  /** Another guarded job holds the zone's lock: not started. */
  zoneBusy: 74,
  /** The job's process vanished without recording an exit code. */
  lost: 76,
} as const;

/** Exit codes of the guard's check, beyond CHECK_DONE (0) / CHECK_NOT_DONE (1) / CHECK_IN_PROGRESS (3). */
export const GuardCheckExit = {
  /** The job ran to its end and failed; its log tail is printed. */
  lastRunFailed: 4,
  /** The job was started and is gone without an exit code: nobody knows whether it completed. */
  lost: 5,
} as const;

export interface JobSpec {
  /** The plan step this job belongs to. */
  stepId: string;
  /** Serialises every guarded job of this scope (a zone): two never run at once. */
  lockScope: string;
  /** The runbook command, exactly as the runbook gives it. */
  command: ShellCommand;
  /** Contents (or digests) of what the job reads that earlier steps wrote. */
  inputs?: readonly string[];
  /** The runbook's own "is it done?" for when no job directory exists: must exit 0 (done) or 1 (not done). */
  statusCheck?: ShellCommand;
}

export interface GuardedJob {
  /** Directory on the firstbox holding started, pid, rc, log. */
  dir: string;
  command: ShellCommand;
  check: ShellCommand;
}

/**
 * The guard program, installed on the firstbox by the `installJobGuard` step that `makePlan` puts
 * before the first guarded step. Its file name carries its digest, so a newer operator's guard
 * never replaces one a running job was started by, and the step's check proves the file unchanged.
 */
export const GUARD_SCRIPT = [
  '#!/bin/sh',
  '# pitrix-operator job guard: see src/runbook/jobguard.ts. Installed by the operator; do not edit.',
  'op=$1; j=$2',
  'case "$op" in',
  'run)',
  '  l=$3 c=$4',
  '  mkdir -p "${j%/*}" || exit 70',
  '  if [ -d "$j" ] && [ ! -e "$j/rc" ]; then echo "pitrix-job: $j was started at $(cat "$j/started" 2>/dev/null) and has recorded no exit code; not starting it again" >&2; exit 75; fi',
  '  if [ -d "$j" ]; then mv "$j" "$j.$(date +%s)" || exit 70; fi',
  '  mkdir "$j" 2>/dev/null || { echo "pitrix-job: $j was claimed by another start" >&2; exit 75; }',
  '  date -u +%Y-%m-%dT%H:%M:%SZ >"$j/started"',
  // The job: detached from this session, holding the zone's lock for as long as it runs.
  `  setsid sh -c 'exec 9>>"$2"; if ! flock -n 9; then echo "pitrix-job: another guarded job holds $2" >"$1/log"; echo 74 >"$1/rc"; exit 0; fi; echo $$ >"$1/pid"; $(command -v bash || echo sh) -c "$3" >"$1/log" 2>&1 </dev/null; echo $? >"$1/rc.new"; mv "$1/rc.new" "$1/rc"' pitrix-job "$j" "$l" "$c" </dev/null >/dev/null 2>&1 &`,
  // Follow it: a dropped connection ends only this loop, never the job.
  '  n=0',
  '  while [ ! -e "$j/rc" ]; do',
  '    sleep 1; n=$((n+1))',
  '    if [ -e "$j/pid" ]; then kill -0 "$(cat "$j/pid")" 2>/dev/null || [ -e "$j/rc" ] || { echo "pitrix-job: job process $(cat "$j/pid") ended without an exit code" >&2; exit 76; }',
  '    elif [ $n -gt 30 ]; then echo "pitrix-job: the job did not start within 30 s" >&2; exit 76; fi',
  '  done',
  '  cat "$j/log"',
  '  exit "$(cat "$j/rc")" ;;',
  'check)',
  '  s=$3',
  '  if [ -d "$j" ]; then',
  '    if [ -e "$j/rc" ]; then rc=$(cat "$j/rc"); tail -c 1500 "$j/log"; [ "$rc" = 0 ] && exit 0; echo "pitrix-job: the job started at $(cat "$j/started" 2>/dev/null) exited $rc"; exit 4; fi',
  '    if [ -e "$j/pid" ] && kill -0 "$(cat "$j/pid")" 2>/dev/null; then echo "pitrix-job: running since $(cat "$j/started" 2>/dev/null) (pid $(cat "$j/pid"))"; exit 3; fi',
  '    echo "pitrix-job: started at $(cat "$j/started" 2>/dev/null), its process is gone and it recorded no exit code"; exit 5',
  '  fi',
  '  [ -n "$s" ] || exit 1',
  '  $(command -v bash || echo sh) -c "$s"; rc=$?',
  '  [ $rc -le 1 ] && exit $rc',
  '  echo "pitrix-job: the status check answered $rc, which is neither done (0) nor not done (1)" >&2; exit 2 ;;',
  'release)',
  '  if [ -d "$j" ]; then mv "$j" "$j.released.$(date +%s)" || exit 1; fi; exit 0 ;;',
  '*) echo "usage: pitrix-job run|check|release DIR ..." >&2; exit 2 ;;',
  'esac',
  '',
].join('\n');

export const GUARD_DIGEST = createHash('sha256').update(GUARD_SCRIPT).digest('hex');
export const GUARD_PATH = `/pitrix/conf/operator/bin/pitrix-job-${GUARD_DIGEST.slice(0, 12)}`;

/** Stable id of a job: step, command and inputs; short enough for a path, long enough never to collide. */
export function jobId(spec: JobSpec): string {
  const h = createHash('sha256').update(
    JSON.stringify([spec.stepId, spec.command.script, spec.inputs ?? []]),
  );
  return `${spec.stepId}-${h.digest('hex').slice(0, 16)}`;
}

/** The guarded command and check of a job; `root` is for tests on this machine. */
export function guardJob(spec: JobSpec, root = JOB_ROOT, program = GUARD_PATH): GuardedJob {
  const scope = spec.lockScope.replace(/[^A-Za-z0-9_.-]/g, '_');
  const dir = `${root}/${scope}/${jobId(spec)}`;
  const lock = `${root}/${scope}.lock`;
  const check = [program, 'check', dir];
  if (spec.statusCheck) check.push(spec.statusCheck.script);
  return {
    dir,
    command: shell([program, 'run', dir, lock, spec.command.script], spec.command.purpose),
    check: shell(check, `${spec.command.purpose}: job state`),
  };
}

/**
 * A plan step whose command runs under the guard: `step.command` is the runbook's command and
 * `step.check`, if any, the runbook's own status check (answering 0 done / 1 not done).
 */
export function guardedStep(step: Step, guard: { lockScope: string; inputs?: readonly string[] }): Step {
  const g = guardJob({
    stepId: step.id,
    lockScope: guard.lockScope,
    command: step.command,
    inputs: guard.inputs,
    statusCheck: step.check,
  });
  return { ...step, command: g.command, check: g.check, job: { dir: g.dir } };
}

/**
 * Sets a claimed job directory aside so the job may be started again: only on a human's word
 * (retry-step), after they verified the job is not running on the firstbox.
 */
export function releaseJob(dir: string, program = GUARD_PATH): ShellCommand {
  return shell([program, 'release', dir], 'set a guarded job aside for a retry');
}

/** The step that installs the guard program (content on stdin, proven by its digest). */
export function installGuardStep(): Step {
  const dir = GUARD_PATH.slice(0, GUARD_PATH.lastIndexOf('/'));
  const tmp = `${GUARD_PATH}.tmp`;
  return {
    id: 'installJobGuard',
    description: `install the operator's job guard ${GUARD_PATH} on the firstbox (one lock and pidfile per long platform job)`,
    host: { kind: 'firstbox' },
    command: sh(
      'install the job guard',
    )`mkdir -p ${dir} && cat >${tmp} && echo ${`${GUARD_DIGEST}  ${tmp}`} | sha256sum -c --status && chmod 0755 ${tmp} && mv ${tmp} ${GUARD_PATH}`,
    check: sh(
      'job guard installed?',
    )`echo ${`${GUARD_DIGEST}  ${GUARD_PATH}`} | sha256sum -c --status && test -x ${GUARD_PATH}`,
    stdinContent: GUARD_SCRIPT,
    idempotent: true,
    timeoutMs: 60_000,
  };
}
