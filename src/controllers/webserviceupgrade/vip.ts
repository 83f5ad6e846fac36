/**
 * Which webservice node holds the VIP, as the platform shows it (R5, seed 004 line 12: "first shut
 * down the node that does not have the `VIP`"). The original does not say how to tell (its note 2).
 * ASSUMPTION (docs/platform-interface.md): the VIP is the zone's webservice floating IP, and
 * keepalived holds it as an address on an interface of the node that has it, so
 * `ip -o -4 addr show` on each webservice node, through exec_nodes.sh, names the holder. The
 * installer's node-list `vip` flag is used only while no floating IP is recorded (no address to
 * look for). When the floating IP is on no node, on several, or a node's answer cannot be read, the
 * next node is not started: the rollout says what it could not tell instead of guessing.
 */
import type { PlatformNode } from '../../facts/types.js';
import type { Violation } from '../../runbook/violation.js';
import { shell } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { parseExecNodes } from '../execnodes.js';

export interface VipObservation {
  floatingIp: string;
  /** Webservice nodes that show the floating IP on an interface. */
  holders: string[];
  /** Webservice nodes without a trusted answer (none, or a section named twice). */
  unanswered: string[];
}

export function vipProbe(nodes: readonly PlatformNode[]): ShellCommand {
  return shell(
    ['/pitrix/upgrade/exec_nodes.sh', '-f', nodes.map((n) => n.nodeId).join(','), 'ip -o -4 addr show'],
    'find the webservice node holding the VIP',
  );
}

export function parseVipHolders(
  stdout: string,
  nodes: readonly PlatformNode[],
  floatingIp: string,
): VipObservation {
  const { byIp } = parseExecNodes(stdout);
  const holders: string[] = [];
  const unanswered: string[] = [];
  for (const n of nodes) {
    const section = byIp.get(n.mgmtIp);
    if (!section) unanswered.push(n.nodeId);
    else if (section.text.split('\n').some((l) => holdsAddress(l, floatingIp))) holders.push(n.nodeId);
  }
  return { floatingIp, holders, unanswered };
}

/** `2: eth0    inet 10.16.0.100/32 scope global secondary eth0 …` names the address exactly. */
function holdsAddress(line: string, ip: string): boolean {
  const words = line.trim().split(/\s+/);
  const i = words.indexOf('inet');
  return i >= 0 && words[i + 1]?.split('/')[0] === ip;
}

/**
 * The node list with `vip` as observed. `beforeNextNode`: a node is about to start (none is
 * halfway); only then does an unknown holder stop the rollout. Halfway through a node the VIP may
 * be moving (keepalived fails over while the holder is down): the recorded order goes on.
 */
export function withObservedVip(
  nodes: readonly PlatformNode[],
  obs: VipObservation | undefined,
  beforeNextNode: boolean,
): { nodes: PlatformNode[]; violation?: Violation } {
  if (!obs) return { nodes: [...nodes] };
  if (obs.holders.length === 1) {
    const holder = obs.holders[0];
    return {
      nodes: nodes.map((n) => (n.roles.includes('webservice') ? { ...n, vip: n.nodeId === holder } : n)),
    };
  }
  if (!beforeNextNode) return { nodes: [...nodes] };
  const why =
    obs.holders.length > 1
      ? `is on ${obs.holders.length} webservice nodes (${obs.holders.join(', ')}): keepalived must give it to one node`
      : obs.unanswered.length > 0
        ? `is on none of the webservice nodes that answered, and ${obs.unanswered.join(', ')} gave no readable answer through exec_nodes.sh`
        : 'is on none of the webservice nodes (ip -o -4 addr show): check keepalived on them';
  return {
    nodes: [...nodes],
    violation: {
      reason: 'VipHolderUnknown',
      message: `the floating IP ${obs.floatingIp} ${why}; R5 rebuilds the node holding the VIP last, so no node is shut down until one node holds it`,
    },
  };
}
