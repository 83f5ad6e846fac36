/**
 * Runbook R4 (scale out nodes) as a pure function: from the pool's spec, the zone, what the
 * installer already knows about the nodes and the facts probed from them, decide which rules are
 * broken (nothing runs then), what each node's phase is, and the ordered steps to deploy the new
 * nodes. No I/O here: the golden-plan tests run this directly.
 */
import type { Plan } from '../../api/common.js';
import type { NodePoolSpec } from '../../api/nodepool.js';
import type { NodeFacts, PlatformNode } from '../../facts/types.js';
import { fileHasContent } from '../../runbook/checks.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { sh, shell, validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { onFirstBoss } from '../component/observe.js';
import { serverYamlPath } from '../tagserver/observe.js';
import { copyAndFillSteps, type FirstboxFiles, fillTemplate, SETTINGS_TEMPLATE } from '../templatefill.js';
import { YamlEditError } from '../yamledit.js';
import { checks } from './checks.js';
import { qemuSection } from './qemu.js';
import { nodeProblems } from './requirements.js';
import { scaleSettingsFills } from './settings.js';

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

const HOUR = 3_600_000;
const MIN = 60_000;

export const listFilePath = (zoneId: string, pool: string) => `/pitrix/conf/operator/${zoneId}-${pool}.list`;
export const scaleSettingsPath = (zoneId: string) => `/pitrix/config/scale_settings.${zoneId}.yaml`;

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

function scaleOutSteps(
  input: NodePoolPlanInput,
  zoneId: string,
  pool: string,
  ips: string[],
  settingsText: string,
): Step[] {
  const { spec, zone } = input;
  const list = listFilePath(zoneId, pool);
  const settings = scaleSettingsPath(zoneId);
  const fb = { kind: 'firstbox' } as const;
  const steps: Step[] = [];
  const listText = `${ips.join('\n')}\n`;
  steps.push({
    id: 'writeNodeList',
    description: `R4.1 write the ${ips.length} new address(es) to ${list}`,
    host: fb,
    command: sh('write the node list')`mkdir -p /pitrix/conf/operator && printf '%s' ${listText} > ${list}`,
    check: fileHasContent(list, listText, 'node list already written?'),
    timeoutMs: MIN,
  });
  steps.push({
    id: 'addNodes',
    description: 'R4.1 add the nodes to the installer (add-nodes.py), then they show as new',
    host: fb,
    command: shell(['/pitrix/cli/add-nodes.py', '-I', list, '-z', zoneId], 'add nodes'),
    check: checks.nodesInStatus(ips, ['new', 'collected', 'available', 'deployed'], 'nodes already added?'),
    timeoutMs: 10 * MIN,
  });
  // 003 §2.1 "View the newly added nodes: describe-nodes.py -s new" (`-f json`: the operator's
  // reading format, see the table). Nodes the installer had collected before this plan are past new.
  const pastNew = ips.filter((ip) => {
    const s = input.platformNodes.find((p) => p.mgmtIp === ip)?.status;
    return s !== undefined && s !== 'new';
  });
  steps.push({
    id: 'listNewNodes',
    description: 'R4.1 view the newly added nodes (describe-nodes.py -s new): each is listed as new',
    host: fb,
    command: shell(['/pitrix/cli/describe-nodes.py', '-s', 'new', '-f', 'json'], 'describe new nodes'),
    check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
    verify: (stdout) => checks.verifyListedNew(stdout, ips, pastNew),
    timeoutMs: 5 * MIN,
    readOnly: true,
  });
  if (spec.nodeCredentialsSecretRef) {
    steps.push({
      id: 'establishSsh',
      description: 'R4.2 set up key access on nodes with non-default credentials (establish_ssh.sh)',
      host: fb,
      // The user and password arrive on stdin, never in the command text, status or plan hash.
      command: sh(
        'establish ssh key access',
      )`IFS= read -r PITRIX_USER && IFS= read -r PITRIX_PASSWD && /pitrix/node/collect/establish_ssh.sh ${list} ${String(spec.sshPort)} "$PITRIX_USER" "$PITRIX_PASSWD"`,
      check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
      stdinSecret: { secretName: spec.nodeCredentialsSecretRef.name, key: 'username,password' },
      timeoutMs: 10 * MIN,
    });
  }
  if (spec.eraseDataDisks) {
    const devices = spec.eraseDataDisks.devices.map((d, i) =>
      validated('DEVICE', d, `spec.eraseDataDisks.devices[${i}]`),
    );
    steps.push(
      guardedStep(
        {
          id: 'eraseDataDisks',
          description: `R4.3 wipe data disks ${devices.join(',')} on the new nodes (erase_data_disks.sh), confirmed by spec.eraseDataDisks.confirm`,
          host: fb,
          command: shell(
            ['/pitrix/bin/erase_data_disks.sh', '-i', list, '-d', devices.join(',')],
            'erase data disks',
          ),
          // Never wipe again once collection has used the disks.
          check: checks.nodesInStatus(
            ips,
            ['collected', 'available', 'deployed'],
            'nodes already collected?',
          ),
          destructive: true,
          timeoutMs: HOUR,
        },
        { lockScope: zoneId, inputs: [listText] },
      ),
    );
  }
  steps.push(
    guardedStep(
      {
        id: 'collectNodes',
        description:
          'R4.3 collect hardware facts of the new nodes (collect-nodes.py); never re-run after deployment',
        host: fb,
        command: shell(['/pitrix/cli/collect-nodes.py', '-I', list], 'collect nodes'),
        check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [listText] },
    ),
  );
  for (const node of spec.nodes.filter((n) => ips.includes(n.address))) {
    for (const o of node.diskOverrides ?? []) {
      const dev = validated('DEVICE', o.device, `spec.nodes[${node.address}].diskOverrides.device`);
      const argv = ['/pitrix/cli/modify-node-attributes.py', '-i', node.address, '-d', dev];
      if (o.type) argv.push('-t', o.type);
      if (o.sizeGiB) argv.push('-S', String(o.sizeGiB));
      if (o.enabled !== undefined) argv.push('-s', o.enabled ? '1' : '0');
      if (argv.length === 5) continue;
      steps.push({
        id: `modifyNodeAttributes-${node.address}-${dev}`,
        description: `R4.3 correct collected facts of ${node.address} ${dev} (${argv.slice(5).join(' ')})`,
        host: fb,
        command: shell(argv, 'correct node attributes'),
        check: checks.nodesInStatus([node.address], ['deployed'], 'node already deployed?'),
        timeoutMs: 5 * MIN,
      });
    }
  }
  steps.push({
    id: 'verifyNodes',
    description: 'R4.4 verify the collected facts (describe-nodes.py -s available)',
    host: fb,
    command: shell(
      ['/pitrix/cli/describe-nodes.py', '-s', 'available', '-f', 'json'],
      'describe available nodes',
    ),
    verify: (stdout) => checks.verifyAvailable(stdout, ips, spec),
    timeoutMs: 5 * MIN,
    readOnly: true,
  });
  steps.push(
    ...copyAndFillSteps({
      name: 'ScaleSettings',
      R: 'R4.5',
      template: SETTINGS_TEMPLATE,
      templateText: input.files![SETTINGS_TEMPLATE]!.text!,
      target: settings,
      filled: settingsText,
      journal: input.journal,
      keys: [
        'zone_id',
        `nodes.${spec.role}`,
        ...(spec.role === 'vg' ? ['eips'] : []),
        ...(spec.vbc ? ['vbc'] : []),
      ],
    }),
  );
  // The job ids carry the files these jobs read: a later scale-out with other nodes or settings
  // is other work, never "already done".
  steps.push(
    guardedStep(
      {
        id: 'configQingcloud',
        description: 'R4.6 configure the platform with the scale settings (config-qingcloud.py -s)',
        host: fb,
        command: shell(['/pitrix/cli/config-qingcloud.py', '-s', settings], 'configure platform'),
        check: checks.nodesInStatus(ips, ['deployed'], 'nodes already deployed?'),
        timeoutMs: HOUR,
      },
      { lockScope: zoneId, inputs: [settingsText, listText] },
    ),
  );
  steps.push(
    guardedStep(
      {
        id: 'scaleQingcloud',
        description: `R4.7 deploy the new nodes (scale-qingcloud.py -z ${zoneId})`,
        host: fb,
        command: shell(['/pitrix/cli/scale-qingcloud.py', '-z', zoneId, '-I', list], 'scale out the zone'),
        check: checks.nodesInStatus(ips, ['deployed'], 'nodes deployed?'),
        timeoutMs: 4 * HOUR,
      },
      { lockScope: zoneId, inputs: [settingsText, listText] },
    ),
  );
  if (spec.role === 'hyper' && zone.mode !== 'standard') {
    // No status check names "mirror refreshed": without a job directory it is not done.
    steps.push(
      guardedStep(
        {
          id: 'updateHyperMirror',
          description: `R4.8 refresh the hyper mirror (${zone.mode} mode; restarts compute_server on updated nodes)`,
          host: fb,
          command: shell(['/pitrix/bin/update_hyper_mirror.sh', '-n', 'hyper'], 'update hyper mirror'),
          timeoutMs: HOUR,
        },
        { lockScope: zoneId, inputs: [listText] },
      ),
    );
  }
  // 003 §2.3 "Check the QingCloud services of the scaled-out nodes": verbatim, both roles, every
  // node of the role (no -f). A role the zone has no node of is skipped (exec_nodes.sh would only
  // answer "no node matches"). Nodes of other zones the firstbox serves are not judged.
  for (const role of ['vg', 'hyper'] as const) {
    const judged = [
      ...new Set([
        ...input.platformNodes
          .filter((p) => p.zoneId === zoneId && p.status === 'deployed' && p.roles.includes(role))
          .map((p) => p.mgmtIp),
        ...(spec.role === role ? ips : []),
      ]),
    ];
    if (judged.length === 0) continue;
    steps.push({
      id: `checkServices-${role}`,
      description: `R4.9 every supervisor program RUNNING on the zone's ${judged.length} ${role} node(s), old and new (exec_nodes.sh ${role} "supervisorctl status")`,
      host: fb,
      command: shell(['/pitrix/upgrade/exec_nodes.sh', role, 'supervisorctl status'], 'check services'),
      verify: (stdout) => checks.verifyServices(stdout, judged, role),
      // exec_nodes.sh exits non-zero when a node's supervisorctl does (a program not RUNNING):
      // verify judges every node's own output.
      acceptExitCodes: [0, 1, 3],
      timeoutMs: 10 * MIN,
      readOnly: true,
    });
  }
  // "If BOSS V2 is deployed" (003 §2.3, 002 "Scaling out the environment"): from what the firstbox
  // lists (a deployed boss node, in this zone or another of the region), not from a resource here.
  if (input.platformNodes.some((n) => n.status === 'deployed' && n.roles.includes('boss'))) {
    steps.push({
      id: 'rebuildBossCache',
      description:
        'R4.10 rebuild the BOSS V2 cache after the scale-out (django_manage.sh rebuild_cache on the first boss node of /pitrix/conf/nodes/boss)',
      host: fb,
      command: onFirstBoss('rebuild_cache'),
      timeoutMs: 30 * MIN,
      idempotent: true,
    });
  }
  if (spec.role === 'hyper') {
    steps.push({
      id: 'dumpVbcRoutes',
      description: 'R4.11 list the VBC return routes the network team must add on the management gateway',
      host: fb,
      command: shell(['/pitrix/bin/dump_vbc_route.sh', 'hyper'], 'dump vbc routes'),
      timeoutMs: 5 * MIN,
      readOnly: true,
      capture: vbcRoutes,
    });
  }
  return steps;
}

/** R4.11: `ip route add CIDR via MGMT_IP  # NODE_ID`, every line of the whole output. */
export function vbcRoutes(stdout: string): Array<{ destination: string; gateway: string }> {
  const routes: Array<{ destination: string; gateway: string }> = [];
  for (const line of stdout.split('\n')) {
    const m = /(\d+\.\d+\.\d+\.\d+\/\d+)\s+via\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (m) routes.push({ destination: m[1]!, gateway: m[2]! });
  }
  return routes;
}

export type { ShellCommand };
