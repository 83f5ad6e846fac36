/**
 * Rollback of one rebuilt node (R5: "rollback is possible while old-N.img exists"): stop the new
 * VM, put the old image back on its original physical host, restore the node's settings from the
 * dated backup, boot the old image (launch_vms.sh without -f), re-pin its host key through the
 * firstbox and check its services. Pure, like the rollout plan.
 */
import { guardedStep, JOB_ROOT } from '../../runbook/jobguard.js';
import { forNode, makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { and, sh, shell, validated } from '../../ssh/command.js';
import { verifySupervisor } from './checks.js';
import { acceptRebuiltHostKey } from './hostkeys.js';
import {
  installerTools,
  KERNELS_DIR,
  type NodeSettings,
  settingsBackupDir,
  settingsPath,
  sshPortOpen,
} from './installer.js';
import { removeStaleHostKeys } from './rebuild.js';

const MIN = 60_000;

export const ROLLBACK_ANNOTATION = 'ops.pitrix.io/rollback-node';

export interface RollbackInput {
  node: string;
  address: string;
  /** The node's settings before the upgrade (from the dated backup). */
  original: NodeSettings;
  backupSuffix: string;
  installerVersion: string;
  /** The zone's id: the scope of the job guard's lock and job records. */
  zoneId: string;
  /** Which rollout this is (name@startedAt): part of the relaunch job's identity. */
  rollout: string;
}

/** The guarded jobs of a node, in the rebuild (rebuild.ts) and in a rollback. */
const NODE_JOBS: string[] = [
  'genNodeList',
  'launchVm',
  'installNode',
  'deployServices',
  'restoreSettings',
  'relaunchOldVm',
];

/**
 * Before a rollback's own job: the finished guarded jobs of the rebuild it undoes (and of an
 * earlier rollback of the node) are set aside, as the guard's own `release` does, so that
 * rebuilding the node again after the rollback (removing the annotation) launches, installs and
 * deploys it again instead of finding "already done" records. A job without a recorded exit code
 * is never touched: it may still run, and the step fails naming it.
 */
function setAsideNodeJobs(zoneId: string, node: string): Step {
  const dir = `${JOB_ROOT}/${zoneId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return {
    ...forNode('setAsideNodeJobs', node),
    description: `R5 rollback: set aside the finished guarded jobs (${NODE_JOBS.join(', ')}) of ${node} under ${dir}, so a later rebuild runs them again`,
    host: { kind: 'firstbox' },
    // `?` × 16: a job id's hex digits; copies set aside earlier carry a suffix and do not match.
    command: sh(
      'set aside finished jobs of the node',
    )`d=${dir}; n=${node}; for k in ${shell(NODE_JOBS, 'job kinds')}; do for j in "$d"/"$k"-"$n"-????????????????; do [ -d "$j" ] || continue; if [ ! -e "$j/rc" ]; then echo "job $j has recorded no exit code (it may still run: see its pid and log there); $n is not rolled back while it does" >&2; exit 1; fi; mv "$j" "$j.released.$(date +%s)" || exit 1; done; done`,
    idempotent: true,
    timeoutMs: MIN,
  };
}

export interface RollbackPlan {
  plan: PlannedRunbook;
  repinSteps: Record<string, { node: string; address: string }>;
}

export function planRollback(input: RollbackInput): RollbackPlan {
  const node = validated('NODE_ID', input.node, `${ROLLBACK_ANNOTATION} annotation`);
  const address = validated('IPV4', input.address, `mgmt_ip of ${node}`);
  const host = validated('NODE_ID', input.original.physicalHost ?? '', `original physical_host of ${node}`);
  const backup = settingsBackupDir(validated('OS_VERSION', input.backupSuffix, 'backup date'));
  const tools = installerTools(input.installerVersion);
  const zoneId = validated('ZONE_ID', input.zoneId, 'zone.spec.zoneId');
  const k = KERNELS_DIR;
  const img = `${k}/${node}.img`;
  const oldImg = `${k}/old-${node}.img`;
  const down = sshPortOpen(address);
  const fb = { kind: 'firstbox' } as const;
  const execOn = (target: string, inner: ReturnType<typeof shell>, purpose: string) =>
    shell(['/pitrix/upgrade/exec_nodes.sh', target, inner.script], purpose);
  const osMm = (input.original.osVersion ?? '').split('.').slice(0, 2).join('.');
  const steps: Step[] = [
    setAsideNodeJobs(zoneId, node),
    {
      ...forNode('rollbackStop', node),
      description: `R5 rollback: stop services on the rebuilt ${node} and shut it down`,
      host: fb,
      command: sh(
        'stop rebuilt vm',
      )`if ${down}; then ${execOn(node, sh('stop and power off')`supervisorctl stop all; shutdown -h now`, 'stop and power off')} || true; fi; i=0; while ${down}; do i=$((i+1)); if [ "$i" -ge 120 ]; then echo ${`${node} still answers on port 22`} >&2; exit 1; fi; sleep 1; done`,
      check: sh('vm off?')`! ${down}`,
      destructive: true,
      timeoutMs: 5 * MIN,
    },
    {
      ...forNode('restoreOldImage', node),
      description: `R5 rollback: on ${host}, with virsh list --all showing ${node} shut off, move ${k}/old-${node}.img/.xml back to ${node}.img/.xml`,
      host: fb,
      // The reverse of seed 004 lines 138–142, after virsh list --all shows the domain shut off.
      command: execOn(
        host,
        sh(
          'restore old image',
        )`state=$(virsh list --all | awk -v d=${node} '$2 == d { $1 = ""; $2 = ""; sub(/^ +/, ""); print }'); if [ "$state" != 'shut off' ]; then echo ${`${node} on ${host} is not shut off, the old image is not moved back; virsh list --all says:`} "$state" >&2; exit 1; fi; cd ${k}/ && mv -f ${`old-${node}.img`} ${`${node}.img`} && mv -f ${`old-${node}.xml`} ${`${node}.xml`} && touch ${`${node}.Done`}`,
        'restore old image',
      ),
      check: execOn(
        host,
        sh('old image restored?')`test ! -e ${oldImg} && test -e ${img}`,
        'old image restored?',
      ),
      destructive: true,
      timeoutMs: 10 * MIN,
    },
    // The package build is long: under the guard, like the rebuild's (never two builds at once).
    guardedStep(
      {
        ...forNode('restoreSettings', node),
        description: `R5 rollback: restore settings/${node} from ${backup}, refresh the node list and build, under the job guard`,
        host: fb,
        command: and(
          [
            shell(['cp', '-a', `${backup}/${node}`, settingsPath(node)], 'restore settings'),
            shell([tools.genNodeList], 'generate node list'),
            shell([tools.buildAllinone], 'build packages'),
          ],
          'restore settings',
        ),
        timeoutMs: 30 * MIN,
      },
      { lockScope: zoneId, inputs: [input.rollout, input.original.text] },
    ),
    guardedStep(
      {
        ...forNode('relaunchOldVm', node),
        description: `R5 rollback: boot ${node} from its old image on ${host} (launch_vms.sh without -f), under the job guard`,
        host: fb,
        command: shell(['/pitrix/install/launch_vms.sh', node], 'boot old image'),
        // Without the guard's record: 0 when the node answers with its old OS, 1 otherwise (grep).
        check: sh(
          'old vm up?',
        )`${execOn(node, shell(['lsb_release', '-rs'], 'os release'), 'os release')} | grep -qx ${osMm}`,
        timeoutMs: 30 * MIN,
      },
      { lockScope: zoneId, inputs: [input.rollout, input.original.text] },
    ),
    {
      ...forNode('removeRolledBackHostKeys', node),
      description: `R5 rollback: remove ${node}'s stale host keys (ssh-keygen -R ${node}, ${address}) on firstbox and all nodes, as step 7 does`,
      host: fb,
      command: removeStaleHostKeys(node, [address]),
      idempotent: true,
      timeoutMs: 10 * MIN,
    },
    {
      ...forNode('repinRolledBackKey', node),
      description: `R5 rollback: read ${node}'s host key through the firstbox and pin exactly that node in the firstbox's known_hosts`,
      host: fb,
      command: acceptRebuiltHostKey(address),
      idempotent: true,
      timeoutMs: 2 * MIN,
    },
    {
      ...forNode('verifyRolledBack', node),
      description: `R5 rollback: supervisorctl status on ${node}: every program RUNNING`,
      host: { kind: 'node', address, port: 22 },
      command: shell(['supervisorctl', 'status'], 'check services'),
      acceptExitCodes: [0, 3],
      verify: (out) => verifySupervisor(out, node),
      idempotent: true,
      timeoutMs: 2 * MIN,
    },
  ];
  return {
    plan: makePlan(steps),
    repinSteps: { [forNode('repinRolledBackKey', node).id]: { node, address } },
  };
}
