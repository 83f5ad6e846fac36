/**
 * R5's gates: a node's rebuild starts only when the account-database keys were confirmed and inside
 * the maintenance window. Both hold only before a node's first step, so a node never stops halfway.
 */
import type { WebserviceUpgrade } from '../../api/webserviceupgrade.js';
import type { Gate } from '../../runbook/gates.js';
import { keysRefreshMessage } from './keys.js';
import { describeWindow, msUntilOpen, windowOpen } from './window.js';

/** KeysRefreshRequired (keys.ts): no node goes down before the account-database keys are confirmed. */
export function keysGate(
  firstSteps: Set<string>,
  confirmed: () => boolean,
  name: string,
  global: boolean,
): Gate {
  return (next) =>
    next.state === 'Pending' && firstSteps.has(next.id) && !confirmed()
      ? { reason: 'KeysRefreshRequired', message: keysRefreshMessage(name, global) }
      : undefined;
}

/** The next node starts only inside the maintenance window; looked at again when it opens. */
export function windowGate(firstSteps: Set<string>, window: WebserviceUpgrade['spec']['window']): Gate {
  return (next) => {
    if (!window || next.state !== 'Pending' || !firstSteps.has(next.id)) return undefined;
    const now = new Date();
    if (windowOpen(window, now)) return undefined;
    return {
      reason: 'WaitingForWindow',
      message: `the next node starts inside the maintenance window ${describeWindow(window)}`,
      retryAfterMs: Math.min(Math.max(msUntilOpen(window, now), 1000), 10 * 60_000),
    };
  };
}
