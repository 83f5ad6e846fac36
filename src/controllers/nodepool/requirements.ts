/**
 * What a node needs to be worth deploying in a pool of a given role (runbook R4 §2.1, "check the
 * hardware information of each node"). Kept apart from the plan so both the plan (nodes already
 * collected) and the verifyNodes step (R4.4, the new ones) judge the same rule.
 */
import type { NodeRole } from '../../api/nodepool.js';
import type { PlatformNode } from '../../facts/types.js';

/**
 * Minimum a node needs to be worth deploying, per role, judged on what the installer collected
 * (collect-nodes.py, as `describe-nodes.py` lists it): the operator never probes a machine before
 * the installer lists it, so the installer's facts are the ones every node has. Used before the
 * plan for nodes already collected, and by the verifyNodes step (R4.4) for the new ones.
 */
export function nodeProblems(role: NodeRole, node: PlatformNode): string[] {
  const problems: string[] = [];
  const usable = node.disks.filter((d) => d.enabled && d.sizeGiB > 0);
  if ((role === 'hyper' || role === 'vg' || role === 'snapshot') && usable.length === 0) {
    problems.push('has no enabled data disk in the collected facts (describe-nodes.py)');
  }
  if (node.osName && node.osName !== 'Ubuntu')
    problems.push(`runs ${node.osName}, the installer deploys Ubuntu`);
  return problems;
}
