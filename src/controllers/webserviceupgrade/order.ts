/**
 * Runbook R5 "Order": which webservice nodes the upgrade rebuilds, in which order (finished nodes,
 * the one in progress, pending nodes without the VIP, the VIP holder last) and where each one moves
 * (the pair of physical hosts swapped), with the rules a node list or spec can break on the way.
 */
import type { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { PlatformNode } from '../../facts/types.js';
import { validated } from '../../ssh/command.js';
import type { NodeSettings } from './installer.js';

/** Keys of settings/N a rebuild changes (seed 004 lines 73–75, 102–103) or reads (line 76). */
const REQUIRED_KEYS = [
  'mgmt_network_address',
  'mgmt_network_mac_address',
  'physical_host',
  'physical_host_network_interface',
  'os_name',
  'os_version',
] as const;

import type { Violation } from '../../runbook/violation.js';

export type { Violation };

export interface PlannedNode {
  name: string;
  address: string;
  holdsVip: boolean;
  physicalHost: string;
  newPhysicalHost: string;
  temporaryAddress?: string;
}

/** Which webservice nodes the upgrade rebuilds: spec.nodes, or every webservice node of the zone. */
export function targetNodes(
  spec: WebserviceUpgradeSpec,
  zoneId: string,
  nodes: readonly PlatformNode[],
): { targets: PlatformNode[]; violations: Violation[] } {
  const ws = nodes.filter((n) => n.zoneId === zoneId && n.roles.includes('webservice'));
  const violations: Violation[] = [];
  if (!spec.nodes?.length) {
    if (ws.length === 0)
      violations.push({
        reason: 'NoWebserviceNodes',
        message: `the installer lists no webservice node in zone ${zoneId}; check the Zone's zoneId`,
      });
    return { targets: ws, violations };
  }
  const targets: PlatformNode[] = [];
  for (const name of spec.nodes) {
    const n = ws.find((x) => x.nodeId === name);
    if (n) targets.push(n);
    else
      violations.push({
        reason: 'UnknownNode',
        message: `spec.nodes: ${name} is not a webservice node of zone ${zoneId} (have: ${ws.map((x) => x.nodeId).join(', ') || 'none'})`,
      });
  }
  return { targets, violations };
}

/** The physical host each node moves to: the next distinct host of the set ("the pair swapped"). */
export function swapPhysicalHosts(
  nodes: readonly { name: string; physicalHost: string }[],
): Record<string, string> {
  // Sorted, so the mapping does not depend on the rollout order (which follows the VIP).
  const hosts = [...new Set(nodes.map((n) => n.physicalHost))].sort();
  return Object.fromEntries(
    nodes.map((n) => [n.name, hosts[(hosts.indexOf(n.physicalHost) + 1) % hosts.length]!]),
  );
}

/** The targets in rollout order, each with its addresses and physical hosts (before and after). */
export function orderNodes(input: {
  spec: WebserviceUpgradeSpec;
  targets: readonly PlatformNode[];
  platformNodes: readonly PlatformNode[];
  settings: Record<string, NodeSettings | undefined>;
  done: readonly string[];
  started: readonly string[];
  recordedVip?: Readonly<Record<string, boolean>> | undefined;
}): { planned: PlannedNode[]; violations: Violation[] } {
  const { spec, targets } = input;
  const violations: Violation[] = [];
  // Observed VIP for nodes not yet started; what was recorded for the others.
  const holdsVip = (n: PlatformNode) =>
    input.done.includes(n.nodeId) || input.started.includes(n.nodeId)
      ? (input.recordedVip?.[n.nodeId] ?? n.vip)
      : n.vip;
  const pending = targets.filter((n) => !input.done.includes(n.nodeId) && !input.started.includes(n.nodeId));
  const ordered = [
    ...input.done.map((d) => targets.find((t) => t.nodeId === d)).filter((x): x is PlatformNode => !!x),
    ...targets.filter((n) => input.started.includes(n.nodeId)),
    ...pending.filter((n) => !n.vip),
    ...pending.filter((n) => n.vip),
  ];

  const planned: PlannedNode[] = [];
  const listed = new Set(input.platformNodes.map((n) => n.mgmtIp));
  ordered.forEach((n, i) => {
    const s = input.settings[n.nodeId];
    if (!s?.physicalHost) {
      violations.push({
        reason: 'SettingsMissing',
        message: `${n.nodeId}: /pitrix/conf/settings/${n.nodeId} on firstbox is missing, not in R5's key="value" format, or has no physical_host; R5 rebuilds VMs only (restore the node's settings file)`,
      });
      return;
    }
    // The keys R5 changes or reads must be in the node's own file: the operator never adds keys
    // (seed 004 lines 79–118 show them all).
    const absent = [...REQUIRED_KEYS].filter((k) => s.values[k] === undefined);
    if (absent.length) {
      violations.push({
        reason: 'SettingsMissing',
        message: `${n.nodeId}: /pitrix/conf/settings/${n.nodeId} has no ${absent.join(', ')} line (seed 004's settings example has them); add them as the installer writes them`,
      });
      return;
    }
    const temp = spec.temporaryAddresses?.length
      ? spec.temporaryAddresses[i % spec.temporaryAddresses.length]
      : undefined;
    if (temp && listed.has(temp))
      violations.push({
        reason: 'TemporaryAddressInUse',
        message: `spec.temporaryAddresses: ${temp} belongs to a node in the installer's list; use an unused address`,
      });
    planned.push({
      name: validated('NODE_ID', n.nodeId, 'installer node id'),
      address: validated('IPV4', n.mgmtIp, `mgmt_ip of ${n.nodeId}`),
      holdsVip: holdsVip(n),
      physicalHost: validated('NODE_ID', s.physicalHost, `physical_host of ${n.nodeId}`),
      newPhysicalHost: '',
      ...(temp ? { temporaryAddress: temp } : {}),
    });
  });
  const swap = swapPhysicalHosts(planned);
  for (const p of planned) p.newPhysicalHost = swap[p.name]!;
  return { planned, violations };
}
