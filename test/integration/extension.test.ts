/**
 * The extension proof (issue 14): a runbook kind defined only in test/extension/ — its schema, its
 * plan, its hooks and one registry entry — runs end to end on the real control plane and the
 * simulator with no change outside its own files: its CRD is generated from its schema, the
 * operator starts with the shipped runbooks plus this one, and it restarts `ws_server` on the
 * zone's webservice nodes one at a time, checking `supervisorctl status` after each.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { crdObject } from '../../src/api/crd.js';
import { programRestartKind } from '../extension/api.js';
import { applyZone, condition, repoRoot, type Scenario, startScenario } from '../helpers/scenario.js';

let cp: ControlPlane;
let sc: Scenario;
beforeAll(async () => {
  cp = await startControlPlane();
  // The CRD comes from the kind's own schema, through the same generator as the shipped kinds.
  await cp.kubectl(['apply', '--server-side', '-f', '-'], {
    input: stringify(crdObject(programRestartKind)),
  });
  await cp.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    'crd/programrestarts.ops.pitrix.io',
  ]);
  sc = await startScenario(cp, 'standard.yaml', { entry: 'test/extension/main.ts', subnet: 121 });
});
afterAll(async () => {
  await sc?.stop();
  await cp?.stop();
});

describe('a runbook added through the registry only (ProgramRestart)', () => {
  it('restarts ws_server on each webservice node in turn, checked after each, then Ready', async () => {
    await applyZone(sc, 'pek3a', 'pek3a');
    await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 90_000);
    await sc.apply({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'ProgramRestart',
      metadata: { name: 'ws-restart' },
      spec: { zoneRef: { name: 'pek3a' }, role: 'webservice', program: 'ws_server' },
    });
    const done = await sc.waitCondition('programrestart', 'ws-restart', 'Ready', 'True', 120_000);
    expect(condition(done, 'Ready')?.reason).toBe('Completed');
    const steps = done.status?.plan?.steps ?? [];
    expect(steps.map((s) => `${s.id}:${s.state}`)).toEqual([
      'restartProgram-webservice1:Succeeded',
      'checkProgram-webservice1:Succeeded',
      'restartProgram-webservice2:Succeeded',
      'checkProgram-webservice2:Succeeded',
    ]);
    // One at a time: node 2's restart began only after node 1's status check had answered.
    const log = [...(await sc.sim.commandLog('webservice1')), ...(await sc.sim.commandLog('webservice2'))];
    const at = (host: string, re: RegExp) => {
      const e = log.find((x) => x.host === host && re.test(x.command));
      if (!e) throw new Error(`${host}: no command matching ${re}`);
      return { start: Date.parse(e.time), end: Date.parse(e.time) + e.durationMs };
    };
    const check1 = at('webservice1', /supervisorctl status ws_server/);
    const restart2 = at('webservice2', /supervisorctl restart ws_server/);
    expect(restart2.start).toBeGreaterThanOrEqual(check1.end);
    const restarts = log.filter((e) => /supervisorctl restart ws_server/.test(e.command));
    expect(restarts).toHaveLength(2);
  });

  it('plan --kubeconfig previews a NodePool through its own hooks, read-only, as JSON for a CI job', async () => {
    const [a, b] = sc.sim.spare.map((h) => h.address);
    const dir = mkdtempSync(join(tmpdir(), 'pitrix-plan-'));
    const file = join(dir, 'pool.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'NodePool',
        metadata: { name: 'preview' },
        spec: { zoneRef: { name: 'pek3a' }, role: 'hyper', nodes: [{ address: a }, { address: b }] },
      }),
    );
    const before = (await sc.sim.commandLog(sc.sim.firstbox.id)).length;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'plan',
        '--kubeconfig',
        cp.kubeconfig,
        '-n',
        sc.ns,
        '-f',
        file,
        '-o',
        'json',
      ],
      { cwd: repoRoot, timeout: 120_000 },
    );
    const [report] = JSON.parse(stdout) as Array<{
      kind: string;
      outcome: string;
      steps: Array<{ id: string; command: string }>;
    }>;
    expect(report).toMatchObject({ kind: 'NodePool', outcome: 'plan' });
    expect(report!.steps.map((s) => s.id)).toContain('scaleQingcloud');
    expect(report!.steps.find((s) => s.id === 'addNodes')?.command).toContain('/pitrix/cli/add-nodes.py');
    // Nothing was written: no NodePool exists, and the firstbox saw only the observation's reads.
    const got = await cp.kubectl(['get', 'nodepool', 'preview', '-n', sc.ns], { allowFailure: true });
    expect(got.stdout).toBe('');
    const log = (await sc.sim.commandLog(sc.sim.firstbox.id)).slice(before);
    expect(log.some((e) => /add-nodes|scale-qingcloud|config-qingcloud|pitrix-job-/.test(e.command))).toBe(
      false,
    );
  });
});
