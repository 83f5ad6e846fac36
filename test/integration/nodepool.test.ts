/**
 * Runbook R4 end to end: real kube-apiserver + etcd, the operator process, and the simulated
 * platform over real sshd. What a platform engineer would check: the nodes end up deployed with
 * services RUNNING, every step is journaled, rules refuse bad specs before anything runs, a crash
 * mid-step resumes without repeating a finished step, failures stop the plan and fixing the
 * platform lets it continue, Manual approval gates execution, and the zone lock serialises work.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { waitUntil } from '../helpers/operator.js';
import {
  applyZone,
  condition,
  countCommands,
  nodeCredentialsSecret,
  repoRoot,
  type Scenario,
  startScenario,
} from '../helpers/scenario.js';

const execFileP = promisify(execFile);

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
});
afterAll(async () => {
  await cp?.stop();
});

const RUNBOOK_COMMANDS = [
  /add-nodes\.py/,
  /collect-nodes\.py -I/,
  /config-qingcloud\.py -s/,
  /scale-qingcloud\.py -z/,
  /erase_data_disks\.sh/,
  /modify-node-attributes\.py/,
];

function hyperPool(_sc: Scenario, name: string, addresses: string[], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'NodePool',
    metadata: { name },
    spec: {
      zoneRef: { name: 'pek3a' },
      role: 'hyper',
      nodes: addresses.map((address) => ({ address })),
      ...extra,
    },
  };
}

async function withScenario(
  file: string,
  fn: (sc: Scenario) => Promise<void>,
  opts: { timeScale?: number; zoneId?: string } = {},
) {
  // Strict: the simulator refuses all the originals do not name except the documented assumptions.
  const sc = await startScenario(cp, file, { ...opts, subnet: 111, strict: 'assumed' });
  try {
    await applyZone(sc, 'pek3a', opts.zoneId ?? 'pek3a', opts.zoneId ? { mode: 'fusion' } : {});
    await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 90_000);
    await fn(sc);
  } finally {
    await sc.stop();
  }
}

describe('NodePool scale-out (R4)', () => {
  it('deploys a pair of hyper nodes in a standard zone, every step journaled', async () => {
    await withScenario('standard.yaml', async (sc) => {
      const [a, b] = sc.sim.spare.map((h) => h.address);
      await sc.apply(nodeCredentialsSecret);
      await sc.apply(
        hyperPool(sc, 'hyper-b', [a!, b!], {
          nodes: [
            {
              address: a,
              diskOverrides: [
                { device: 'sdb', type: 'ssd' },
                { device: 'sdc', enabled: false },
              ],
            },
            { address: b },
          ],
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['sdb'], confirm: 'hyper-b' },
        }),
      );
      const pool = await sc
        .waitCondition('nodepool', 'hyper-b', 'Ready', 'True', 120_000)
        .catch(async (e) => {
          throw e;
        });
      const steps = pool.status!.plan!.steps!;
      expect(steps.map((s) => s.state)).toEqual(steps.map(() => 'Succeeded'));
      expect(steps.find((s) => s.id === 'scaleQingcloud')!.outputTail).toMatch(/done/);
      // The next observation sees both nodes deployed.
      await waitUntil(
        async () => {
          const p = await sc.get('nodepool', 'hyper-b');
          return p.status?.nodes?.every((n) => n.phase === 'Deployed') ?? false;
        },
        30_000,
        'nodes Deployed',
      );
      const p = await sc.get('nodepool', 'hyper-b');
      expect(p.status!.nodesReady).toBe('2/2');
      for (const n of p.status!.nodes!) expect(n.hostKey).toMatch(/^SHA256:/);
      // On the platform: services RUNNING on the new nodes, each runbook command run exactly once.
      for (const host of [a!, b!]) {
        const st = await sc.sim.state(host);
        expect(JSON.stringify(st)).toContain('RUNNING');
      }
      for (const re of RUNBOOK_COMMANDS)
        expect(await countCommands(sc.sim, sc.sim.firstbox.id, re), String(re)).toBe(
          re.source.includes('modify') ? 2 : 1,
        );
      // The password went through stdin, never into a command line.
      const log = await sc.sim.commandLog(sc.sim.firstbox.id);
      expect(log.some((e) => e.command.includes('n0t-default'))).toBe(false);
    });
  });

  it("runs R4's QEMU section after the scale when the new hypers run another QEMU", async () => {
    await withScenario('qemu.yaml', async (sc) => {
      const spares = sc.sim.spare.map((h) => h.address);
      await sc.apply(hyperPool(sc, 'hyper-q', spares));
      // Deployed, then stopped: the runbook names neither the incremental package nor its path.
      const stopped = await sc.waitCondition(
        'nodepool',
        'hyper-q',
        'Ready',
        'False',
        180_000,
        'QemuIncrementalUnspecified',
      );
      expect(condition(stopped, 'Ready')!.message).toContain("version: '2.11.1.1'");
      expect(await countCommands(sc.sim, sc.sim.firstbox.id, /update\.sh .*pitrix-qemu/)).toBe(0);
      await sc.apply(
        hyperPool(sc, 'hyper-q', spares, {
          qemuIncremental: {
            version: '2.11.1.1',
            package: 'pitrix-qemu-2.11.1.1',
            bin: '/opt/qemu-2.11.1.1/usr/bin',
          },
        }),
      );
      const pool = await sc.waitCondition('nodepool', 'hyper-q', 'Ready', 'True', 120_000);
      expect(pool.status!.plan!.steps!.map((s) => `${s.id} ${s.state}`)).toEqual([
        'installJobGuard Succeeded',
        'installQemuIncremental Succeeded',
        'qemuServerYaml Succeeded',
        'qemuBuildGlobalConf Succeeded',
        'qemuPushGlobalConf Succeeded',
      ]);
      const yaml = await sc.sim.readState(
        sc.sim.firstbox.id,
        'pitrix/conf/variables/global/server.yaml.pek3a',
      );
      expect(yaml).toContain("    default: '2.11.1.1'\n");
      expect(yaml).toContain('    2.11.1.1:\n      bin: /opt/qemu-2.11.1.1/usr/bin\n');
      // The package went to the old hypers only, then the conf to every node.
      expect(
        await countCommands(sc.sim, sc.sim.firstbox.id, /update\.sh hyper1,hyper2 pitrix-qemu-2\.11\.1\.1/),
      ).toBe(1);
      expect(await countCommands(sc.sim, sc.sim.firstbox.id, /update\.sh all pitrix-global-conf/)).toBe(1);
      expect((await sc.sim.state('hyper1')).packages['pitrix-qemu-2.11.1.1']).toBe('2.11.1.1-1');
    });
  });

  it('adds a single hyper node to a fusion zone and refreshes the hyper mirror', async () => {
    await withScenario(
      'fusion.yaml',
      async (sc) => {
        const spare = sc.sim.spare[0]!;
        await sc.apply(hyperPool(sc, 'fusion-one', [spare.address]));
        const pool = await sc.waitCondition('nodepool', 'fusion-one', 'Ready', 'True', 120_000);
        const ids = pool.status!.plan!.steps!.map((s) => s.id);
        expect(ids).toContain('updateHyperMirror');
        expect(pool.status!.plan!.steps!.every((s) => s.state === 'Succeeded')).toBe(true);
        expect(await countCommands(sc.sim, sc.sim.firstbox.id, /update_hyper_mirror\.sh -n hyper/)).toBe(1);
        await waitUntil(
          async () => (await sc.get('nodepool', 'fusion-one')).status?.nodesReady === '1/1',
          30_000,
          'node deployed',
        );
      },
      { zoneId: 'sh1a' },
    );
  });

  it('refuses an odd count of added hyper nodes in standard mode before any runbook command', async () => {
    await withScenario('standard.yaml', async (sc) => {
      const before = (await sc.sim.commandLog(sc.sim.firstbox.id)).length;
      await sc.apply(hyperPool(sc, 'odd', [sc.sim.spare[0]!.address]));
      const pool = await sc.waitCondition(
        'nodepool',
        'odd',
        'Ready',
        'False',
        20_000,
        'HyperNodesNotInPairs',
      );
      expect(condition(pool, 'Ready')!.message).toContain('pairs');
      await new Promise((r) => setTimeout(r, 2000));
      // Nothing ran for this pool: no runbook command on firstbox, no connection to the node.
      const after = await sc.sim.commandLog(sc.sim.firstbox.id);
      expect(after.slice(before).filter((e) => RUNBOOK_COMMANDS.some((re) => re.test(e.command)))).toEqual(
        [],
      );
      expect(await sc.sim.commandLog(sc.sim.spare[0]!.id)).toEqual([]);

      // `plan --kubeconfig` shows what a valid pool would run, probing read-only.
      const manifest = join(tmpdir(), `pool-${sc.ns}.json`);
      await writeFile(
        manifest,
        JSON.stringify({
          ...hyperPool(
            sc,
            'preview',
            sc.sim.spare.map((h) => h.address),
          ),
          metadata: { name: 'preview', namespace: sc.ns },
        }),
      );
      const out = await execFileP(
        process.execPath,
        [
          '--import',
          'tsx',
          join(repoRoot, 'src/cli/main.ts'),
          'plan',
          '-f',
          manifest,
          '--kubeconfig',
          cp.kubeconfig,
        ],
        { cwd: repoRoot },
      );
      expect(out.stdout).toContain('scaleQingcloud');
      expect(out.stdout).toContain(`scale-qingcloud.py -z pek3a`);
      const afterPlan = await sc.sim.commandLog(sc.sim.firstbox.id);
      expect(afterPlan.filter((e) => RUNBOOK_COMMANDS.some((re) => re.test(e.command)))).toEqual([]);
    });
  });

  // A SIGKILL in the middle of scale-qingcloud.py is test/integration/faults.test.ts's `sigkill`
  // case (the same scale-out, with the job guard's start count and overlap checks).

  it('stops on a failed step with its output, and continues once the platform is fixed', async () => {
    await withScenario('standard.yaml', async (sc) => {
      const [a, b] = sc.sim.spare.map((h) => h.address);
      await sc.sim.setFault(sc.sim.firstbox.id, {
        kind: 'fail',
        match: 'config-qingcloud.py -s',
        exitCode: 2,
        message: 'settings check failed: vbc network overlaps mgmt network',
      });
      await sc.apply(nodeCredentialsSecret);
      await sc.apply(
        hyperPool(sc, 'failing', [a!, b!], {
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['sdb'], confirm: 'failing' },
        }),
      );
      const pool = await sc.waitCondition('nodepool', 'failing', 'Degraded', 'True', 90_000, 'StepFailed');
      const msg = condition(pool, 'Degraded')!.message;
      expect(msg).toContain('configQingcloud');
      expect(msg).toContain('exited 2');
      expect(msg).toContain('vbc network overlaps');
      expect(pool.status!.plan!.steps!.find((s) => s.id === 'configQingcloud')!.outputTail).toContain(
        'vbc network overlaps',
      );
      expect(await countCommands(sc.sim, sc.sim.firstbox.id, /scale-qingcloud\.py -z/)).toBe(0);
      await sc.sim.clearFaults(sc.sim.firstbox.id);
      await sc.waitCondition('nodepool', 'failing', 'Ready', 'True', 120_000);
      expect(await countCommands(sc.sim, sc.sim.firstbox.id, /collect-nodes\.py -I/)).toBe(1);
    });
  });

  it('with Manual approval runs nothing until the annotation matches the current plan', async () => {
    await withScenario('standard.yaml', async (sc) => {
      const [a, b] = sc.sim.spare.map((h) => h.address);
      await sc.apply(nodeCredentialsSecret);
      const spec = {
        approval: 'Manual',
        nodeCredentialsSecretRef: { name: 'node-creds' },
        eraseDataDisks: { devices: ['sdb'], confirm: 'manual' },
      };
      await sc.apply(hyperPool(sc, 'manual', [a!, b!], spec));
      const waiting = await sc.waitCondition(
        'nodepool',
        'manual',
        'Progressing',
        'False',
        60_000,
        'AwaitingApproval',
      );
      const firstHash = waiting.status!.plan!.hash;
      expect(condition(waiting, 'Progressing')!.message).toContain(firstHash);
      // A spec change makes a new plan: approving the old hash does nothing.
      await sc.apply(
        hyperPool(sc, 'manual', [a!, b!], {
          ...spec,
          nodes: [{ address: a, diskOverrides: [{ device: 'sdc', enabled: false }] }, { address: b }],
        }),
      );
      await waitUntil(
        async () => (await sc.get('nodepool', 'manual')).status?.plan?.hash !== firstHash,
        30_000,
        'new plan',
      );
      await cp.kubectl([
        'annotate',
        'nodepool',
        'manual',
        '-n',
        sc.ns,
        `ops.pitrix.io/approve-plan=${firstHash}`,
      ]);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await countCommands(sc.sim, sc.sim.firstbox.id, /add-nodes\.py/)).toBe(0);
      const newHash = (await sc.get('nodepool', 'manual')).status!.plan!.hash;
      await cp.kubectl([
        'annotate',
        'nodepool',
        'manual',
        '-n',
        sc.ns,
        `ops.pitrix.io/approve-plan=${newHash}`,
        '--overwrite',
      ]);
      await sc.waitCondition('nodepool', 'manual', 'Ready', 'True', 120_000);
    });
  });

  it('waits on the zone lock held by an upgrade, then proceeds when it is gone', async () => {
    await withScenario('standard.yaml', async (sc) => {
      const [a, b] = sc.sim.spare.map((h) => h.address);
      await sc.apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'WebserviceUpgrade',
        metadata: { name: 'fake-upgrade' },
        spec: { zoneRef: { name: 'pek3a' }, target: { osName: 'bionic', osVersion: '18.04' }, paused: true },
      });
      const wsu = await sc.get('webserviceupgrade', 'fake-upgrade');
      await cp.kubectl([
        'patch',
        'webserviceupgrade',
        'fake-upgrade',
        '-n',
        sc.ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({
          status: { plan: { hash: 'fake', steps: [{ id: 'rebuildWebservice1', state: 'Pending' }] } },
        }),
      ]);
      await cp.kubectl([
        'patch',
        'zone',
        'pek3a',
        '-n',
        sc.ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({
          status: {
            lock: {
              holder: { kind: 'WebserviceUpgrade', name: 'fake-upgrade', uid: wsu.metadata.uid },
              operation: 'Upgrade',
            },
          },
        }),
      ]);
      await sc.apply(nodeCredentialsSecret);
      await sc.apply(
        hyperPool(sc, 'locked', [a!, b!], {
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['sdb'], confirm: 'locked' },
        }),
      );
      const waiting = await sc.waitCondition(
        'nodepool',
        'locked',
        'Progressing',
        'False',
        60_000,
        'WaitingForZoneLock',
      );
      expect(condition(waiting, 'Progressing')!.message).toContain('WebserviceUpgrade/fake-upgrade');
      expect(await countCommands(sc.sim, sc.sim.firstbox.id, /add-nodes\.py/)).toBe(0);
      await cp.kubectl(['delete', 'webserviceupgrade', 'fake-upgrade', '-n', sc.ns]);
      await sc.waitCondition('nodepool', 'locked', 'Ready', 'True', 120_000);
      // Finished: the pool released the zone.
      await waitUntil(async () => !(await sc.get('zone', 'pek3a')).status?.lock, 20_000, 'lock released');
    });
  });
});
