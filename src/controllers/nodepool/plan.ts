/**
 * Runbook R4 (scale out nodes) as a pure function: from the pool's spec, the zone, what the
 * installer already knows about the nodes and the facts probed from them, decide which rules are
 * broken (nothing runs then), what each node's phase is, and the ordered steps to deploy the new
 * nodes. No I/O here: the golden-plan tests run this directly.
 */
import type { Plan } from '../../api/common.js';
import type { NodePoolSpec } from '../../api/nodepool.js';
import type { NodeFacts, PlatformNode } from '../../facts/types.js';
import { makePlan, type PlannedRunbook } from '../../runbook/step.js';
import { validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { serverYamlPath } from '../tagserver/observe.js';
import { type FirstboxFiles, fillTemplate, SETTINGS_TEMPLATE } from '../templatefill.js';
import { YamlEditError } from '../yamledit.js';
import { scaleSettingsPath } from './paths.js';
import { qemuSection } from './qemu.js';
import { nodeProblems } from './requirements.js';
import { scaleSettingsFills } from './settings.js';
import { scaleOutSteps } from './steps.js';

export interface ZoneView {
  zoneId: string;
  mode: 'standard' | 'fusion' | 'devops';
  installerVersion?: string;
}

export interface NodeObservation {
  /** Facts probed through the firstbox, or why the node could not be probed. */
  facts?: NodeFacts;
  error?: string;
  /** Not contacted on purpose (not listed by the installer yet, or listed as new): why. */
  pending?: string;
}

export interface NodePoolPlanInput {
  poolName: string;
  spec: NodePoolSpec;
  zone: ZoneView;
  /** The installer's node list (describe-nodes.py -s all). */
  platformNodes: PlatformNode[];
  observations: Record<string, NodeObservation>;
  /** Addresses this pool reported as Deployed before (status.nodes): removing one is not a scale-in. */
  previouslyDeployed?: readonly string[];
  /**
   * Addresses the unfinished plan in flight deploys (status.deploying). The plan is built for them
   * whatever is observed, so a node seen deployed mid-plan does not drop the steps after the scale
   * (services check, mirror refresh, cache rebuild, routes); other new nodes wait for the next plan.
   */
  inFlight?: readonly string[];
  /**
   * Firstbox files the plan reads (observe.ts `poolFiles`): `settings.template.yaml` (the scale
   * settings are its copy filled in) and, for hyper pools, the zone's server.yaml (the QEMU
   * section). Absent: not observed; then nothing is deployed and the QEMU section is skipped.
   */
  files?: FirstboxFiles;
  /** status.plan: a QEMU run in flight is planned again with its journaled precondition. */
  journal?: Plan;
}

export type NodePhase =
  | 'Pending'
  | 'Unreachable'
  | 'Collected'
  | 'Deploying'
  | 'Deployed'
  | 'Failed'
  | 'Rejected';

export interface NodeReport {
  address: string;
  nodeId?: string;
  phase: NodePhase;
  message?: string;
}

import type { Violation } from '../../runbook/violation.js';

export type { Violation };

export interface NodePoolPlan {
  violations: Violation[];
  nodes: NodeReport[];
  /** Nodes this pool deployed that are no longer in spec (reported, never scaled in). */
  notInSpec: string[];
  /** Addresses this plan deploys (empty: nothing to do). */
  deploying: string[];
  plan: PlannedRunbook;
}

export { listFilePath, scaleSettingsPath } from './paths.js';

/**
 * Rules that need only the spec, checked before any SSH connection is opened: vg needs eips.
 * "Hyper nodes are added in pairs" (003 §1.2 item 2) counts the nodes being *added*, which only
 * the installer's node list tells (a pool with one deployed hyper and two new ones adds a pair):
 * planNodePool judges it, on the candidates, after the read-only observation.
 */
export function staticViolations(spec: NodePoolSpec, _mode: ZoneView['mode']): Violation[] {
  const v: Violation[] = [];
  v.push(...eipsViolations(spec));
  return v;
}

/** Every VG node has its own EIP ranges (003 §1.2 item 3, §2.2); the API refuses this too. */
function eipsViolations(spec: NodePoolSpec): Violation[] {
  if (spec.role !== 'vg') return [];
  const missing = spec.nodes.filter((n) => (n.eips?.length ?? 0) === 0).map((n) => n.address);
  return missing.length
    ? [
        {
          reason: 'EipsRequired',
          message: `spec.nodes[].eips: VG nodes need EIP ranges prepared (R4); add the ranges ${missing.join(', ')} serve(s)`,
        },
      ]
    : [];
}

export function planNodePool(input: NodePoolPlanInput): NodePoolPlan {
  const { spec, zone, poolName } = input;
  const violations: Violation[] = [];
  const zoneId = validated('ZONE_ID', zone.zoneId, 'zone.spec.zoneId');
  const pool = validated('NODE_ID', poolName, 'metadata.name');
  const byIp = new Map(input.platformNodes.map((n) => [n.mgmtIp, n]));
  const wanted = new Set(spec.nodes.map((n) => n.address));

  spec.nodes.forEach((n, i) => {
    validated('HOST', n.address, `spec.nodes[${i}].address`);
  });
  violations.push(...eipsViolations(spec));

  const nodes: NodeReport[] = [];
  const candidates: string[] = [];
  const inFlight = new Set((input.inFlight ?? []).filter((a) => wanted.has(a)));
  for (const n of spec.nodes) {
    const known = byIp.get(n.address);
    if (inFlight.size > 0) {
      if (inFlight.has(n.address)) {
        nodes.push({
          address: n.address,
          nodeId: known?.nodeId,
          phase: known?.status === 'deployed' ? 'Deployed' : 'Deploying',
        });
        candidates.push(n.address);
      } else if (known?.status !== 'deployed') {
        nodes.push({
          address: n.address,
          nodeId: known?.nodeId,
          phase: 'Pending',
          message: 'waits for the scale-out in flight to finish',
        });
      } else {
        nodes.push({ address: n.address, nodeId: known.nodeId, phase: 'Deployed' });
      }
      continue;
    }
    if (known?.status === 'deployed') {
      const wrongRole = !known.roles.includes(spec.role);
      nodes.push({
        address: n.address,
        nodeId: known.nodeId,
        phase: wrongRole ? 'Rejected' : 'Deployed',
        message: wrongRole
          ? `already deployed as ${known.roles.join(',')}, not ${spec.role}; remove it from this pool`
          : undefined,
      });
      continue;
    }
    if (known && known.zoneId !== zoneId) {
      nodes.push({
        address: n.address,
        nodeId: known.nodeId,
        phase: 'Rejected',
        message: `belongs to zone ${known.zoneId}`,
      });
      continue;
    }
    const obs = input.observations[n.address];
    // Not listed yet (or listed as new): never contacted; add-nodes/collect-nodes in the plan are
    // the first to touch it, and verifyNodes judges what they collected.
    if (!known || known.status === 'new') {
      nodes.push({
        address: n.address,
        ...(known ? { nodeId: known.nodeId } : {}),
        phase: 'Pending',
        message:
          obs?.pending ??
          (known
            ? 'listed by the installer as new: facts come from collect-nodes.py'
            : 'not listed by the installer yet: facts come from collect-nodes.py'),
      });
      candidates.push(n.address);
      continue;
    }
    if (!obs?.facts) {
      nodes.push({ address: n.address, phase: 'Unreachable', message: obs?.error ?? 'not probed yet' });
      continue;
    }
    const problems = nodeProblems(spec.role, known);
    if (problems.length > 0) {
      nodes.push({ address: n.address, phase: 'Rejected', message: problems.join('; ') });
      continue;
    }
    nodes.push({ address: n.address, nodeId: known.nodeId, phase: 'Collected' });
    candidates.push(n.address);
  }

  // Only this pool's own deployed nodes (what its status reported Deployed): another pool's
  // hypers in the same zone were never this pool's to lose.
  const stillDeployed = new Set(
    input.platformNodes
      .filter((p) => p.zoneId === zoneId && p.status === 'deployed' && p.roles.includes(spec.role))
      .map((p) => p.mgmtIp),
  );
  const notInSpec = [...new Set(input.previouslyDeployed ?? [])].filter(
    (a) => !wanted.has(a) && stillDeployed.has(a),
  );

  const blocked = nodes.filter((n) => n.phase === 'Unreachable' || n.phase === 'Rejected');
  if (
    inFlight.size === 0 &&
    spec.role === 'hyper' &&
    zone.mode === 'standard' &&
    candidates.length % 2 === 1
  ) {
    violations.push({
      reason: blocked.length > 0 ? 'HyperPairIncomplete' : 'HyperNodesNotInPairs',
      message:
        blocked.length > 0
          ? `standard-mode zones add Hyper nodes in pairs (R4): ${candidates.length} node(s) are ready but ` +
            `${blocked.map((b) => `${b.address} is ${b.phase.toLowerCase()}`).join(', ')}; fix or remove it`
          : `standard-mode zones add Hyper nodes in pairs (R4): this scale-out would add ${candidates.length} node(s) ` +
            `(${candidates.join(', ')}); add or remove one`,
    });
  }

  // R4.5: the scale settings are the template's copy filled in; no template, no scale-out.
  let settingsText: string | undefined;
  if (violations.length === 0 && candidates.length > 0) {
    const r = filledSettings(input, zoneId, candidates);
    if ('violation' in r) violations.push(r.violation);
    else settingsText = r.text;
  }
  const deploying = violations.length > 0 ? [] : candidates;
  for (const n of nodes) if (deploying.includes(n.address) && n.phase === 'Pending') n.phase = 'Deploying';
  let steps =
    deploying.length > 0 && settingsText !== undefined
      ? scaleOutSteps(input, zoneId, pool, deploying, settingsText)
      : [];
  // After the scale (its plan done, nothing left to deploy): the QEMU section, from what the
  // deployed nodes report and what server.yaml lists.
  const serverYaml = input.files?.[serverYamlPath(zoneId)];
  if (steps.length === 0 && violations.length === 0 && inFlight.size === 0 && serverYaml) {
    const q = qemuSection({
      zoneId,
      spec,
      newVersions: Object.fromEntries(
        nodes
          .filter((n) => n.phase === 'Deployed')
          .map((n) => [n.address, input.observations[n.address]?.facts?.qemuVersion ?? undefined]),
      ),
      platformNodes: input.platformNodes,
      serverYaml: serverYaml.error !== undefined ? null : serverYaml.text,
      journal: input.journal,
    });
    if (q.kind === 'stop') violations.push({ reason: q.reason, message: q.message });
    if (q.kind === 'steps') steps = q.steps;
  }
  return { violations, nodes, notInSpec, deploying, plan: makePlan(steps) };
}

function filledSettings(
  input: NodePoolPlanInput,
  zoneId: string,
  ips: string[],
): { text: string } | { violation: Violation } {
  const file = input.files?.[SETTINGS_TEMPLATE];
  if (file?.text === undefined) {
    return {
      violation: {
        reason: 'SettingsTemplateMissing',
        message: `${SETTINGS_TEMPLATE} ${file ? (file.error ?? 'does not exist') : 'was not read'} on the firstbox: runbook R4 copies it to ${scaleSettingsPath(zoneId)} and fills it in`,
      },
    };
  }
  try {
    const origin = `${SETTINGS_TEMPLATE} for NodePool ${input.poolName} (runbook R4)`;
    return {
      text: fillTemplate(file.text, scaleSettingsFills(zoneId, input.spec, ips), SETTINGS_TEMPLATE, origin),
    };
  } catch (err) {
    if (!(err instanceof YamlEditError)) throw err;
    return {
      violation: {
        reason: 'SettingsTemplateUnfillable',
        message: `${err.message}; fill in ${scaleSettingsPath(zoneId)} by hand (runbook R4) or fix the template`,
      },
    };
  }
}

export { vbcRoutes } from './steps.js';
export type { ShellCommand };
