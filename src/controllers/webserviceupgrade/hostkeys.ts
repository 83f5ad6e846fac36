/**
 * Host keys across a rebuild (runbook R5, "Host keys"): a rebuilt node comes back with a new key.
 * Nodes are reached through the firstbox's own ssh with its known_hosts, so the re-pin step puts
 * the key the firstbox sees right after the rebuild into that known_hosts for exactly that node
 * (rebuild.ts); the fingerprint is kept in the step's output for status, and an event names old
 * and new.
 */
import type { Plan } from '../../api/common.js';
import type { UpgradeNodeStatus } from '../../api/webserviceupgrade.js';
import { forNode, type PlannedRunbook } from '../../runbook/step.js';
import { sh } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import type { ControllerDeps } from '../deps.js';
import type { StatusSession } from '../runner.js';
import { keyscanFingerprint } from './checks.js';
import type { UpgradePlan } from './plan.js';
import type { Status } from './status.js';

/**
 * The re-pin command (run on the firstbox right after the rebuild): reads the VM's new ed25519 key
 * as the firstbox sees it, replaces that one address's entry in the firstbox's known_hosts with it
 * (so the firstbox's strict ssh, the only way the operator reaches nodes, accepts exactly this key
 * for exactly this node), and prints it for the journal. Fails, changing nothing, if no key came.
 */
export function acceptRebuiltHostKey(address: string): ShellCommand {
  return sh(
    'accept the rebuilt VM host key',
  )`k=$(ssh-keyscan -T 5 -t ed25519 -p 22 ${address} 2>/dev/null) && [ -n "$k" ] && { ssh-keygen -f /root/.ssh/known_hosts -R ${address} >/dev/null 2>&1 || true; } && printf '%s\\n' "$k" >> /root/.ssh/known_hosts && printf '%s\\n' "$k"`;
}

/**
 * The re-pin steps succeed only once ssh-keyscan on the firstbox returned (and installed) the
 * node's key; the fingerprint is captured into the journal entry for status and the event.
 */
export function withRepins(plan: PlannedRunbook, repins: UpgradePlan['repinSteps']): PlannedRunbook {
  return {
    ...plan,
    steps: plan.steps.map((s) => {
      const r = repins[s.id];
      if (!r) return s;
      return {
        ...s,
        verify: (out: string) =>
          keyscanFingerprint(out)
            ? undefined
            : `ssh-keyscan on firstbox returned no host key for ${r.node} (${r.address})`,
        capture: (out: string) => {
          const fingerprint = keyscanFingerprint(out);
          return fingerprint ? [{ node: r.node, address: r.address, fingerprint }] : [];
        },
      };
    }),
  };
}

export function repinEvents(
  events: ControllerDeps['events'],
  session: StatusSession,
  previous: Status,
  nodes: UpgradeNodeStatus[],
): void {
  for (const n of nodes) {
    const before = previous.nodes?.find((p) => p.name === n.name)?.newHostKey;
    if (n.newHostKey && n.newHostKey !== before)
      events.event(
        session.obj,
        'Normal',
        'HostKeyRepinned',
        `${n.name} (${n.address}) was rebuilt: host key ${n.oldHostKey ?? 'unknown'} → ${n.newHostKey}, read through the trusted firstbox and pinned for this node only`,
      );
  }
}

/** The fingerprint the latest succeeded re-pin step of a node recorded in its output. */
export function latestRepin(journal: Plan | undefined, node: string): string | undefined {
  const steps = (journal?.steps ?? []).filter(
    (s) =>
      (s.id === forNode('repinHostKey', node).id || s.id === forNode('repinRolledBackKey', node).id) &&
      s.state === 'Succeeded',
  );
  steps.sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? ''));
  for (const s of steps.reverse()) {
    // Journals written before steps captured their result carry it only in the output tail.
    const fp = s.captured?.[0]?.fingerprint ?? keyscanFingerprint(s.outputTail);
    if (fp) return fp;
  }
  return undefined;
}
