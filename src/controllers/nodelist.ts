/**
 * The node list file R4 hands to `add-nodes.py -I` and `collect-nodes.py -I` (seed 003 §2.1, §3.1):
 * one address per line, written on the firstbox; one builder for the scale-out and the new zone.
 */
import { fileHasContent } from '../runbook/checks.js';
import { MIN } from '../runbook/durations.js';
import type { Step } from '../runbook/step.js';
import { sh } from '../ssh/command.js';

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
