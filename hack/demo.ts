/**
 * `npm run demo`: a local control plane, the simulated platform, the operator, and the examples in
 * `examples/` converging, with progress on screen.
 *
 *   npm run demo                 run until the examples converge, print the result, clean up
 *   npm run demo -- --keep       keep everything running afterwards (Ctrl-C stops it)
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startOperator, waitUntil } from '../test/helpers/operator.js';
import { startControlPlane } from './controlplane.js';
import { startPlatform } from './sim/platform.js';

const repoRoot = resolve(import.meta.dirname, '..');
const ns = 'pitrix-demo';
const { values } = parseArgs({
  options: { keep: { type: 'boolean', default: false }, timeout: { type: 'string', default: '300' } },
});

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => process.stdout.write(`${s}\n`);
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(7);

interface Res {
  kind: string;
  metadata: { name: string };
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    plan?: { hash: string; steps?: Array<{ id: string; state: string; host?: string }> };
    currentStep?: string;
    nodesReady?: string;
    installerVersion?: string;
    nodes?: Array<{ address: string; phase: string }>;
  };
}

async function main(): Promise<void> {
  say(bold('pitrix-operator demo'));
  say(`${elapsed()}  starting kube-apiserver + etcd (real binaries, see README for versions)…`);
  const cp = await startControlPlane();
  say(`${elapsed()}  control plane up in ${cp.startupMs} ms; CRDs applied from crds/`);
  say(
    `${elapsed()}  starting the simulated platform (examples/sim/standard.yaml: firstbox + 6 nodes + 2 spare machines, each its own sshd)…`,
  );
  const sim = await startPlatform({ scenario: join(repoRoot, 'examples/sim/standard.yaml') });
  say(
    `${elapsed()}  firstbox ${sim.firstbox.address} (${sim.firstbox.hostKeyFingerprint}); spare machines ${sim.spare.map((s) => s.address).join(', ')}`,
  );

  const cleanups: Array<() => Promise<unknown>> = [() => sim.stop(), () => cp.stop()];
  let cleaning = false;
  const cleanup = async () => {
    if (cleaning) return;
    cleaning = true;
    for (const c of cleanups) await c().catch(() => undefined);
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

  try {
    await cp.kubectl(['create', 'namespace', ns]);
    // The Secrets a user would create from files: the operator's SSH key and the firstbox host key.
    const dir = await mkdtemp(join(tmpdir(), 'pitrix-demo-'));
    await writeFile(join(dir, 'known_hosts'), `${sim.firstbox.knownHostsLine}\n`);
    await cp.kubectl([
      'create',
      'secret',
      'generic',
      'firstbox-ssh',
      '-n',
      ns,
      '--type=kubernetes.io/ssh-auth',
      `--from-file=ssh-privatekey=${sim.clientKey.privateKeyPath}`,
    ]);
    await cp.kubectl([
      'create',
      'secret',
      'generic',
      'firstbox-known-hosts',
      '-n',
      ns,
      `--from-file=known_hosts=${join(dir, 'known_hosts')}`,
    ]);
    // Consent: the operator reads only Secrets labelled for it (controllers/consent.ts).
    for (const secret of ['firstbox-ssh', 'firstbox-known-hosts'])
      await cp.kubectl(['label', 'secret', secret, '-n', ns, 'ops.pitrix.io/credentials=true']);
    const manifests = [
      'examples/secret-node-credentials.yaml',
      'examples/zone-global.yaml',
      'examples/nodepool-hyper.yaml',
    ];
    for (const m of manifests) {
      await cp.kubectl(['apply', '-n', ns, '-f', join(repoRoot, m)]);
      say(`${elapsed()}  kubectl apply -f ${m}`);
    }

    say(`${elapsed()}  starting the operator (pitrix-operator run, leader election on)…`);
    const op = await startOperator(cp.kubeconfig, ['--namespace', ns, '--leader-election-namespace', ns]);
    cleanups.unshift(() => op.stop());
    say(`${elapsed()}  operator ready; metrics on http://127.0.0.1:${op.metricsPort}/metrics`);

    let last = '';
    await waitUntil(
      async () => {
        const zone = JSON.parse(
          (await cp.kubectl(['get', 'zone', 'pek3a', '-n', ns, '-o', 'json'])).stdout,
        ) as Res;
        const pool = JSON.parse(
          (await cp.kubectl(['get', 'nodepool', 'pek3a-hyper', '-n', ns, '-o', 'json'])).stdout,
        ) as Res;
        const line = progressLine(zone, pool);
        if (line !== last) {
          say(`${elapsed()}  ${line}`);
          last = line;
        }
        const ready = pool.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' && pool.status?.nodes?.every((n) => n.phase === 'Deployed') === true;
      },
      Number(values.timeout) * 1000,
      'the examples to converge',
    );
    say('');
    say(bold('$ kubectl get pitrix'));
    say((await cp.kubectl(['get', 'pitrix', '-n', ns])).stdout);
    say(bold('$ kubectl get nodepool pek3a-hyper -o jsonpath=…steps'));
    const pool = JSON.parse(
      (await cp.kubectl(['get', 'nodepool', 'pek3a-hyper', '-n', ns, '-o', 'json'])).stdout,
    ) as Res;
    for (const s of pool.status?.plan?.steps ?? [])
      say(`  ${s.state.padEnd(10)} ${s.id.padEnd(40)} ${s.host ?? ''}`);
    say('');
    say(bold('$ kubectl get events'));
    say(
      (await cp.kubectl(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp'])).stdout
        .split('\n')
        .slice(-14)
        .join('\n'),
    );
    const scaled = (await sim.commandLog(sim.firstbox.id)).filter((e) =>
      /scale-qingcloud\.py -z/.test(e.command),
    ).length;
    say(
      `On the simulated firstbox, scale-qingcloud.py ran ${scaled} time(s); the new nodes now run their services.`,
    );
    say(bold(`Converged in ${elapsed().trim()}.`));
    if (values.keep) {
      say(
        `\nKeeping everything running. Try:\n  export KUBECONFIG=${cp.kubeconfig}\n  kubectl get pitrix -n ${ns}\n  ssh -i ${sim.clientKey.privateKeyPath} -o UserKnownHostsFile=${join(dir, 'known_hosts')} root@${sim.firstbox.address}\nCtrl-C stops it.`,
      );
      await new Promise(() => {});
    }
  } finally {
    if (!values.keep) await cleanup();
  }
}

function progressLine(zone: Res, pool: Res): string {
  const zr = zone.status?.conditions?.find((c) => c.type === 'Ready');
  const zonePart = `Zone pek3a: ${zr ? `Ready=${zr.status}` : 'observing'}${zone.status?.installerVersion ? ` installer ${zone.status.installerVersion}` : ''}`;
  const steps = pool.status?.plan?.steps ?? [];
  const done = steps.filter((s) => s.state === 'Succeeded').length;
  const pr = pool.status?.conditions?.find((c) => c.type === 'Progressing');
  const pd = pool.status?.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True');
  const poolPart = steps.length
    ? `NodePool pek3a-hyper: ${done}/${steps.length} steps${pool.status?.currentStep ? `, ${pool.status.currentStep}` : ''}${pr ? ` (${pr.reason})` : ''}`
    : 'NodePool pek3a-hyper: observing';
  return `${zonePart} | ${poolPart}${pd ? ` | Degraded: ${pd.message}` : ''} | nodes ${pool.status?.nodesReady ?? '-'}`;
}

main().catch(async (err) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
