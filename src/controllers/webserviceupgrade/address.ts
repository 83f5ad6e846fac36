/**
 * The temporary management address (seed 004 line 73): a node is rebuilt on an unused address
 * that "will finally be changed to the original IP address", and no step of the runbook (nor any
 * tool it names) changes a running VM's address back (the translation's note 2 on lines 120 and
 * 206). The operator does not invent one: after the node's services are deployed and its settings
 * file holds its own address again, the rollout waits (condition AddressSwitchBackRequired) until a
 * human has moved the VM back and says so with an annotation; then `verifyAddressRestored-N` checks
 * it from the firstbox (the own address answers on port 22, the temporary one does not) before the
 * host keys are renewed and the next node may borrow the address. A claim the platform does not
 * show stops the node there; nothing is re-run on it.
 */
import type { Gate } from '../../runbook/gates.js';
import { forNode, type Step } from '../../runbook/step.js';
import { sh } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import { sshPortOpen } from './installer.js';

export const ADDRESS_RESTORED_ANNOTATION = 'ops.pitrix.io/address-restored';

/** A node that was lent a temporary address, and the address it must be back on. */
export interface LentAddress {
  node: string;
  own: string;
  temporary: string;
}

/** Node ids the annotation confirms (`webservice0` or `webservice0,webservice1`). */
export function confirmedNodes(value: string | undefined): Set<string> {
  return new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

export function switchBackMessage(upgrade: string, lent: LentAddress): string {
  return (
    `${lent.node} was rebuilt on the temporary address ${lent.temporary}; runbook R5 changes it back to ${lent.own} ` +
    `but gives no tool for it, so the operator does not do it: move the VM's management address back to ${lent.own} ` +
    `(its settings file already says so), then kubectl annotate webserviceupgrade ${upgrade} ` +
    `${ADDRESS_RESTORED_ANNOTATION}=${lent.node} --overwrite (a comma-separated list when several nodes are confirmed)`
  );
}

/** Before `verifyAddressRestored-N` of a lent node: wait for the human's confirmation. */
export function addressGate(
  lent: ReadonlyMap<string, LentAddress>,
  confirmed: () => Set<string>,
  upgrade: string,
): Gate {
  return (next) => {
    const l = next.state === 'Pending' ? lent.get(next.id) : undefined;
    return l && !confirmed().has(l.node)
      ? { reason: 'AddressSwitchBackRequired', message: switchBackMessage(upgrade, l) }
      : undefined;
  };
}

/** The check after the confirmation: read-only, from the firstbox, so it may simply run again. */
export function verifyAddressRestoredStep(lent: LentAddress, timeoutMs: number): Step {
  const probe = (a: string): ShellCommand => sshPortOpen(a);
  return {
    ...forNode('verifyAddressRestored', lent.node),
    description: `R5.1 ${lent.node} is back on its own address ${lent.own} (answers on port 22) and the temporary ${lent.temporary} is free again (confirmed with ${ADDRESS_RESTORED_ANNOTATION})`,
    host: { kind: 'firstbox' },
    command: sh(
      'verify the address switch-back',
    )`if ! ${probe(lent.own)}; then echo ${`the own address ${lent.own} of ${lent.node} does not answer on port 22: the VM is not back on it; move it back, then the step is tried again`} >&2; exit 1; fi; if ${probe(lent.temporary)}; then echo ${`the temporary address ${lent.temporary} still answers on port 22: ${lent.node} (or another machine) still holds it; free it, then the step is tried again`} >&2; exit 1; fi`,
    readOnly: true,
    timeoutMs,
  };
}
