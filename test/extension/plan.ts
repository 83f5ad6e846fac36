/** The plan: per node, in node-id order, restart then check; a node that does not come back stops the rest. */
import type { PlatformNode } from '../../src/facts/types.js';
import { forNode, makePlan, type PlannedRunbook, type Step } from '../../src/runbook/step.js';
import { shell } from '../../src/ssh/command.js';

export function planRestart(
  nodes: readonly PlatformNode[],
  spec: { role: string; program: string },
): PlannedRunbook {
  const steps: Step[] = [];
  const targets = nodes
    .filter((n) => n.roles.includes(spec.role))
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  for (const n of targets) {
    const host = { kind: 'node', address: n.mgmtIp } as const;
    steps.push({
      ...forNode('restartProgram', n.nodeId),
      description: `supervisorctl restart ${spec.program} on ${n.nodeId}`,
      host,
      command: shell(['supervisorctl', 'restart', spec.program], `restart ${spec.program}`),
      timeoutMs: 60_000,
      // A second restart of a supervisor program is harmless: safe to run again when interrupted.
      idempotent: true,
    });
    steps.push({
      ...forNode('checkProgram', n.nodeId),
      description: `supervisorctl status ${spec.program} on ${n.nodeId} is RUNNING before the next node`,
      host,
      command: shell(['supervisorctl', 'status', spec.program], `status of ${spec.program}`),
      timeoutMs: 60_000,
      readOnly: true,
      verify: (out) =>
        /\sRUNNING\s/.test(` ${out} `) ? undefined : `${spec.program} is not RUNNING: ${out.trim()}`,
    });
  }
  return makePlan(steps);
}
