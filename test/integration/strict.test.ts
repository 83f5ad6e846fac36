/**
 * The simulator in strict mode (hack/sim/strict.ts): every script, option and subcommand the
 * original runbooks do not name is refused as a real installer would refuse it. What a platform
 * engineer learns from it: where the operator relies on more than the originals, it stops and
 * says so, and it never runs a mutating command on such a guess. The first assumption every
 * runbook meets is the firstbox observation's `describe-nodes.py -s all -f json` (the originals
 * show only `-s new` / `-s available`, no output format), so every kind stops there, before any
 * plan: the outcome for each runbook is this clean stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { applyZone, condition, startScenario } from '../helpers/scenario.js';
import { MUTATING } from '../helpers/soak.js';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
});
afterAll(async () => {
  await cp?.stop();
});

describe('strict simulator', () => {
  it('stops every runbook at the first assumption, naming it, with no mutating command run', async () => {
    const sc = await startScenario(cp, 'standard.yaml', { strict: true, subnet: 131 });
    try {
      await applyZone(sc, 'pek3a', 'pek3a');
      const zone = await sc.waitCondition('zone', 'pek3a', 'Ready', 'False', 90_000);
      const ready = condition(zone, 'Ready')!;
      expect(ready.message).toMatch(/describe-nodes/);
      // A scale-out (R4) asked for now waits on the zone: nothing of it runs.
      await sc.apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'NodePool',
        metadata: { name: 'strict-pair' },
        spec: {
          zoneRef: { name: 'pek3a' },
          role: 'hyper',
          nodes: sc.sim.spare.map((h) => ({ address: h.address })),
        },
      });
      const pool = await sc.waitCondition('nodepool', 'strict-pair', 'Ready', 'False', 60_000);
      expect(condition(pool, 'Ready')!.reason).toMatch(/Zone/);
      await new Promise((r) => setTimeout(r, 3000));
      const log = await sc.sim.commandLog(sc.sim.firstbox.id);
      // The observation asked the installer with the assumed option, and was refused.
      expect(log.some((e) => e.command.includes('describe-nodes.py -s all -f json'))).toBe(true);
      expect(log.filter((e) => MUTATING.some((re) => re.test(e.command))).map((e) => e.command)).toEqual([]);
      console.log(
        `strict run: Zone Ready=False (${ready.reason}): ${ready.message}; NodePool Ready=False (${condition(pool, 'Ready')!.reason})`,
      );
    } finally {
      await sc.stop();
    }
  });
});
