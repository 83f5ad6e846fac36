/**
 * Runbook R5 (rebuild the webservice VMs of a zone on a new OS, one at a time) as a pure function:
 * from the upgrade's spec, the zone, the installer's node list, each node's original settings and
 * what already finished, decide which rules are broken, the order (nodes without the VIP first,
 * the VIP holder last) and the journaled steps. No I/O here: the golden-plan tests run this.
 * This file puts the plan together; the order, the preparation, a node's rebuild and the health
 * gate each have their own file.
 *
 * Every value that reaches a shell comes from the API (validated by its pattern) or from the
 * platform (node ids, addresses, physical hosts, bridges), and is validated here before use.
 */
import type { UpgradeNodePhase, WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { PlatformNode } from '../../facts/types.js';
import { makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import type { LentAddress } from './address.js';
import { healthGateSteps } from './healthgate.js';
import { type NodeSettings, settingsBackupDir, type UpgradeZoneView } from './installer.js';
import { orderNodes, type PlannedNode, targetNodes, type Violation } from './order.js';
import { preparationSteps } from './prepare.js';
import { rebuildSteps } from './rebuild.js';

export { healthChecks } from './healthgate.js';
export {
  floatingIpLocation,
  installerTools,
  type NodeSettings,
  nodeBackupDir,
  PACKAGES,
  settingsBackupDir,
  settingsPath,
  sshPortOpen,
  type UpgradeZoneView,
} from './installer.js';
export { type PlannedNode, swapPhysicalHosts, targetNodes, type Violation } from './order.js';
export { renderNodeSettings } from './rebuild.js';

export interface UpgradePlanInput {
  /** metadata.name of the WebserviceUpgrade: names backups and markers. */
  name: string;
  spec: WebserviceUpgradeSpec;
  zone: UpgradeZoneView;
  /** The installer's node list (describe-nodes.py -s all), with `vip` observed now. */
  platformNodes: PlatformNode[];
  /** Each node's settings as they were before this upgrade touched them (the dated backup). */
  settings: Record<string, NodeSettings | undefined>;
  /** The zone's recorded webservice_floating_ip, if any. */
  floatingIp?: string;
  /** UTC date the rollout started, `YYYYMMDD`: names the settings backup. */
  backupSuffix: string;
  /** When the rollout started (status.startedAt): with the name, the identity of its guarded jobs. */
  startedAt: string;
  /** Nodes whose rebuild finished, in the order they finished. */
  done: readonly string[];
  /** Nodes whose rebuild started and has not finished (normally at most one). */
  started: readonly string[];
  /** holdsVip as recorded when a node started (observed, never re-assumed afterwards). */
  recordedVip?: Readonly<Record<string, boolean>>;
}

export interface UpgradePlan {
  violations: Violation[];
  /** Nodes in the order they are rebuilt. */
  order: PlannedNode[];
  plan: PlannedRunbook;
  /** Step ids of the one-time preparation. */
  prepSteps: string[];
  /** Step ids per node, in order; the first one is where a node "starts". */
  nodeSteps: Record<string, string[]>;
  /** Steps whose output is a host key to re-pin for a node. */
  repinSteps: Record<string, { node: string; address: string }>;
  /** Whether a floating IP is in use (keepalived is configured per node). */
  floatingIp?: string;
  /** `verifyAddressRestored-N` step ids of the nodes lent a temporary address (address.ts's gate). */
  lentAddresses: Record<string, LentAddress>;
}

/** Kinds of the per-node rollout steps (prep steps such as `backupNode-N` are not among them). */
export const NODE_STEP_KINDS = [
  'preflight',
  'writeNodeSettings',
  'checkBridge',
  'genNodeList',
  'checkImage',
  'stopServices',
  'keepOldImage',
  'launchVm',
  'installNode',
  'nginxConfig',
  'keepalived',
  'deployServices',
  'restoreAddress',
  'verifyAddressRestored',
  'removeStaleHostKeys',
  'repinHostKey',
  'verifyServices',
  'healthGate',
];

/** Whether a step is one of a node's rollout steps (what "the node started" is judged by). */
export function isNodeStep(step: { action?: string }): boolean {
  return !!step.action && NODE_STEP_KINDS.includes(step.action);
}

/** Which part of R5 a step's action belongs to, for the node's phase. */
export function phaseOfStep(step: { action?: string }): UpgradeNodePhase {
  const kind = step.action ?? '';
  if (['preflight', 'writeNodeSettings', 'checkBridge', 'genNodeList', 'checkImage'].includes(kind))
    return 'Preparing';
  if (['stopServices', 'keepOldImage', 'launchVm', 'installNode', 'nginxConfig', 'keepalived'].includes(kind))
    return 'Rebuilding';
  if (
    [
      'deployServices',
      'restoreAddress',
      'verifyAddressRestored',
      'removeStaleHostKeys',
      'repinHostKey',
    ].includes(kind)
  )
    return 'Deploying';
  return 'Verifying';
}

export function planUpgrade(input: UpgradePlanInput): UpgradePlan {
  const { spec, zone, name } = input;
  const violations: Violation[] = [];
  const zoneId = validated('ZONE_ID', zone.zoneId, 'zone.spec.zoneId');
  const upgrade = validated('K8S_NAME', name, 'metadata.name');
  const { targets, violations: tv } = targetNodes(spec, zoneId, input.platformNodes);
  violations.push(...tv);
  const { planned, violations: ov } = orderNodes({
    spec,
    targets,
    platformNodes: input.platformNodes,
    settings: input.settings,
    done: input.done,
    started: input.started,
    recordedVip: input.recordedVip,
  });
  violations.push(...ov);

  if (spec.floatingIP && input.floatingIp && spec.floatingIP !== input.floatingIp)
    violations.push({
      reason: 'FloatingIPMismatch',
      message: `spec.floatingIP ${spec.floatingIP} differs from the zone's recorded webservice_floating_ip ${input.floatingIp}; remove spec.floatingIP or make them equal`,
    });
  const floatingIp = input.floatingIp ?? spec.floatingIP;
  if (!spec.target.baseImage || !spec.target.repository)
    violations.push({
      reason: 'BaseImageUnknown',
      message:
        'runbook R5 prepares the new OS base image and its repository on firstbox in advance, and does not say where: set spec.target.baseImage and spec.target.repository to their paths on firstbox (checked before the first node goes down)',
    });

  const empty: UpgradePlan = {
    violations,
    order: planned,
    plan: makePlan([]),
    prepSteps: [],
    nodeSteps: {},
    repinSteps: {},
    lentAddresses: {},
    ...(floatingIp ? { floatingIp } : {}),
  };
  if (violations.length > 0 || planned.length === 0) return empty;

  const steps: Step[] = [];
  const nodeSteps: Record<string, string[]> = {};
  const repinSteps: UpgradePlan['repinSteps'] = {};
  const lentAddresses: UpgradePlan['lentAddresses'] = {};

  const prep = preparationSteps({
    upgrade,
    zone,
    planned,
    backupSuffix: input.backupSuffix,
    spec,
    floatingIp: input.floatingIp,
  });
  steps.push(...prep);

  // One node at a time: each node's steps follow the previous node's health gate.
  for (const n of planned) {
    const rebuild = rebuildSteps(n, {
      settingsBackup: settingsBackupDir(validated('OS_VERSION', input.backupSuffix, 'backup date')),
      spec,
      zone,
      settings: input.settings[n.name]!,
      floatingIp,
      rollout: `${name}@${input.startedAt}`,
    });
    const own = [...rebuild.steps, ...healthGateSteps(n, zone, floatingIp, spec)];
    steps.push(...own);
    repinSteps[rebuild.repinStep] = { node: n.name, address: n.address };
    if (rebuild.addressCheck) lentAddresses[rebuild.addressCheck.step] = rebuild.addressCheck.lent;
    nodeSteps[n.name] = own.map((s) => s.id);
  }
  return {
    violations,
    order: planned,
    plan: makePlan(steps),
    prepSteps: prep.map((s) => s.id),
    nodeSteps,
    repinSteps,
    lentAddresses,
    ...(floatingIp ? { floatingIp } : {}),
  };
}

export type { ShellCommand };
