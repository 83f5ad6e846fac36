/**
 * The node list file R4 hands to `add-nodes.py -I` and `collect-nodes.py -I` (seed 003 §2.1, §3.1):
 * one address per line, written on the firstbox; and the view of the added machines the runbook
 * takes right after `add-nodes.py` (`describe-nodes.py -s new`, 003 §2.1 and line 165 for a new
 * zone). One builder each for the scale-out and the new zone.
 */
import type { PlatformNode } from '../facts/types.js';
import { fileHasContent } from '../runbook/checks.js';
import { MIN } from '../runbook/durations.js';
import type { Step } from '../runbook/step.js';
import { sh, shell } from '../ssh/command.js';
import { checks } from './nodepool/checks.js';

export function writeNodeListStep(list: string, ips: readonly string[], description: string): Step {
  const listText = `${ips.join('\n')}\n`;
  return {
    id: 'writeNodeList',
    description,
    host: { kind: 'firstbox' },
    command: sh('write the node list')`mkdir -p /pitrix/conf/operator && printf '%s' ${listText} > ${list}`,
    check: fileHasContent(list, listText, 'node list already written?'),
    timeoutMs: MIN,
  };
}

/**
 * `describe-nodes.py -s new` (`-f json`: the operator's reading format): every machine just added is
 * listed as new, except those the installer had already taken past new before this plan (as the
 * node list observed for it shows). Read-only: its "already done?" is the machines collected since.
 */
export function listNewNodesStep(
  ips: readonly string[],
  observed: readonly PlatformNode[],
  description: string,
): Step {
  const pastNew = ips.filter((ip) => {
    const s = observed.find((p) => p.mgmtIp === ip)?.status;
    return s !== undefined && s !== 'new';
  });
  return {
    id: 'listNewNodes',
    description,
    host: { kind: 'firstbox' },
    command: shell(['/pitrix/cli/describe-nodes.py', '-s', 'new', '-f', 'json'], 'describe new nodes'),
    check: checks.nodesInStatus(ips, ['collected', 'available', 'deployed'], 'nodes already collected?'),
    verify: (stdout) => checks.verifyListedNew(stdout, ips, pastNew),
    timeoutMs: 5 * MIN,
    readOnly: true,
  };
}
