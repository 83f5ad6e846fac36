import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../api/common.js';
import { addressGate, confirmedNodes, verifyAddressRestoredStep } from './address.js';

const lent = { node: 'webservice2', own: '10.16.1.32', temporary: '10.16.1.90' };
const step = (id: string, state: PlanStep['state'] = 'Pending') => ({ id, state }) as PlanStep;
const journal = { hash: 'h', steps: [] };

describe('the temporary address switch-back (seed 004 line 73)', () => {
  const gate = (value: string | undefined) =>
    addressGate(new Map([['verifyAddressRestored-webservice2', lent]]), () => confirmedNodes(value), 'up');

  it('holds the lent node before its check until a human confirms that node', () => {
    const hold = gate(undefined)(step('verifyAddressRestored-webservice2'), journal);
    expect(hold?.reason).toBe('AddressSwitchBackRequired');
    expect(hold?.message).toContain('rebuilt on the temporary address 10.16.1.90');
    expect(hold?.message).toContain('back to 10.16.1.32');
    expect(hold?.message).toContain('ops.pitrix.io/address-restored=webservice2');
    expect(hold?.retryAfterMs).toBeUndefined();
  });

  it("another node's confirmation, or an empty one, does not count", () => {
    for (const v of ['', 'webservice1', 'webservice20', ' , ', 'webservice2x'])
      expect(gate(v)(step('verifyAddressRestored-webservice2'), journal)?.reason, v).toBe(
        'AddressSwitchBackRequired',
      );
  });

  it('a confirmation of the node (alone or in a list) lets its check run', () => {
    for (const v of ['webservice2', 'webservice1, webservice2', ' webservice2 '])
      expect(gate(v)(step('verifyAddressRestored-webservice2'), journal), v).toBeUndefined();
  });

  it('never holds other steps, nor the check once it has started', () => {
    expect(gate(undefined)(step('removeStaleHostKeys-webservice2'), journal)).toBeUndefined();
    expect(gate(undefined)(step('verifyAddressRestored-webservice2', 'Failed'), journal)).toBeUndefined();
  });

  it('the check is read-only and probes both addresses from the firstbox', () => {
    const s = verifyAddressRestoredStep(lent, 60_000);
    expect(s.id).toBe('verifyAddressRestored-webservice2');
    expect(s.host).toEqual({ kind: 'firstbox' });
    expect(s.readOnly).toBe(true);
    expect(s.check).toBeUndefined();
    expect(s.command.script).toContain("/dev/tcp/$0/22' 10.16.1.32");
    expect(s.command.script).toContain("/dev/tcp/$0/22' 10.16.1.90");
    expect(s.command.script).toMatch(
      /if ! timeout 3 .*10\.16\.1\.32; then .*exit 1; fi; if timeout 3 .*10\.16\.1\.90; then .*exit 1; fi$/,
    );
  });
});
