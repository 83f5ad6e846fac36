/**
 * Delivery, checked against a real kube-apiserver: the Helm chart lints and renders for several
 * values files, the API server accepts every rendered object (server-side dry-run) in a namespace
 * enforcing Pod Security "restricted", the plain manifests are the chart rendered, and the NodePool
 * scale-out converges with the operator authenticated as the chart's ServiceAccount (a TokenRequest
 * token) — with `kubectl pitrix` reviewing, refusing a stale approval, pausing, approving and
 * resuming the plan — while a Secret outside the watched namespace stays forbidden to it.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { startPlatform } from '../../hack/sim/platform.js';
import { CHART_DIR, deliveryCommand, helmPath } from '../../src/cli/delivery.js';
import { type OperatorProcess, startOperator, waitUntil } from '../helpers/operator.js';
import { nodeCredentialsSecret, type Resource, repoRoot, zoneManifests } from '../helpers/scenario.js';

const SUBNET = 41;
const chart = join(repoRoot, CHART_DIR);
let cp: ControlPlane;
let helm: string;
let work: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(
  bin: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { cwd: repoRoot, env: { ...process.env, ...opts.env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    // A command that exits without reading its stdin makes the write fail with EPIPE: not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

async function ok(r: Promise<Run>, what: string): Promise<Run> {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what} failed (${x.code}):\n${x.stderr}\n${x.stdout.slice(0, 2000)}`);
  return x;
}

const kubectlBin = () => join(cp.assetsDir, 'kubectl');

/** Namespace enforcing (and warning about) Pod Security "restricted". */
async function restrictedNamespace(name: string): Promise<void> {
  await cp.kubectl(['create', 'namespace', name]);
  await cp.kubectl([
    'label',
    'namespace',
    name,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/warn=restricted',
  ]);
}

function docs(yamlText: string): Array<{ kind: string; metadata: { name: string }; [k: string]: unknown }> {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS())
    .filter((o) => o?.kind);
}

beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  helm = await helmPath(repoRoot);
  work = await mkdtemp(join(tmpdir(), 'pitrix-delivery-'));
  await cp.kubectl(['apply', '-f', join(repoRoot, 'test/promtool/monitoring.coreos.com-crds.yaml')]);
  await cp.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    '-f',
    join(repoRoot, 'test/promtool/monitoring.coreos.com-crds.yaml'),
  ]);
});
afterAll(async () => {
  await cp?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('Helm chart and plain manifests', () => {
  it('lints for the default values and every ci/ values file; the schema rejects bad values', async () => {
    const files = (await readdir(join(chart, 'ci'))).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    await ok(exec(helm, ['lint', '--strict', chart]), 'helm lint');
    for (const f of files)
      await ok(exec(helm, ['lint', '--strict', chart, '-f', join(chart, 'ci', f)]), `lint ${f}`);
    for (const bad of [
      ['replicas=0', 'replicas'],
      ['ssh.connectTimeout=15', 'connectTimeout'],
      ['watchNamespace=Not_A_Namespace', 'watchNamespace'],
      ['logLevel=loud', 'logLevel'],
      ['leaderElection.enabled=false', 'leaderElection'],
    ] as const) {
      const r = await exec(helm, ['template', 'x', chart, '--set', bad[0]]);
      expect(r.code, `--set ${bad[0]} must be refused`).not.toBe(0);
      expect(r.stderr).toContain(bad[1]);
    }
  });

  it('renders for several values files and the API server accepts every object under Pod Security restricted', async () => {
    await cp.kubectl(['create', 'namespace', 'pitrix-zones']);
    const cases: Array<[string, string[]]> = [
      ['default', []],
      ...(await readdir(join(chart, 'ci')))
        .filter((f) => f.endsWith('.yaml'))
        .map((f): [string, string[]] => [f, ['-f', join(chart, 'ci', f)]]),
    ];
    for (const [i, [name, args]] of cases.entries()) {
      const ns = `pitrix-dry-${i}`;
      await restrictedNamespace(ns);
      const rendered = await ok(
        exec(helm, ['template', `rel${i}`, chart, '--namespace', ns, ...args]),
        `render ${name}`,
      );
      const objs = docs(rendered.stdout);
      const kinds = new Set(objs.map((o) => o.kind));
      for (const k of ['ServiceAccount', 'Deployment', 'Service']) expect(kinds, name).toContain(k);
      expect(
        [...kinds].some((k) => /RoleBinding$/.test(k)),
        `${name}: a binding`,
      ).toBe(true);
      if (name.startsWith('monitoring')) {
        expect(kinds).toContain('ServiceMonitor');
        expect(kinds).toContain('PrometheusRule');
      }
      // No wildcard and no cluster-admin in any rendered role.
      for (const o of objs.filter((x) => /Role$/.test(x.kind))) {
        const rules = (o as { rules?: Array<Record<string, string[]>> }).rules ?? [];
        expect(rules.length, `${name} ${o.kind} has rules`).toBeGreaterThan(0);
        for (const r of rules)
          for (const v of Object.values(r)) expect(v, `${name} ${o.kind}`).not.toContain('*');
      }
      for (const o of objs.filter((x) => /Binding$/.test(x.kind)))
        expect((o as unknown as { roleRef: { name: string } }).roleRef.name).not.toBe('cluster-admin');

      const applied = await exec(
        kubectlBin(),
        ['--kubeconfig', cp.kubeconfig, 'apply', '--dry-run=server', '-f', '-'],
        {
          input: rendered.stdout,
        },
      );
      expect(applied.code, `${name}: ${applied.stderr}`).toBe(0);
      expect(applied.stderr, `${name}: Pod Security warnings`).not.toMatch(/PodSecurity|Warning/);
      expect(applied.stdout).toMatch(/deployment\.apps\/\S+ created \(server dry run\)/);

      // The pod itself passes admission where "restricted" is enforced.
      const deployment = objs.find((o) => o.kind === 'Deployment') as unknown as {
        spec: { template: { metadata: object; spec: Record<string, unknown> } };
      };
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...deployment.spec.template.metadata, name: `pod-${i}`, namespace: ns },
        spec: deployment.spec.template.spec,
      };
      await ok(
        exec(kubectlBin(), ['--kubeconfig', cp.kubeconfig, 'create', '--dry-run=server', '-f', '-'], {
          input: JSON.stringify(pod),
        }),
        `${name}: pod admission`,
      );
    }
    // The check can fail: the same pod as root with a writable root filesystem is refused.
    const rendered = await exec(helm, ['template', 'bad', chart, '--namespace', 'pitrix-dry-0']);
    const dep = docs(rendered.stdout).find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        template: { spec: { securityContext: object; containers: Array<{ securityContext: object }> } };
      };
    };
    const spec = dep.spec.template.spec;
    spec.securityContext = {};
    spec.containers[0]!.securityContext = { runAsUser: 0 };
    const refused = await exec(
      kubectlBin(),
      ['--kubeconfig', cp.kubeconfig, 'create', '--dry-run=server', '-f', '-'],
      {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'root', namespace: 'pitrix-dry-0' },
          spec,
        }),
      },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted/);
  });

  it('helm install --dry-run=server validates against the cluster and prints the NOTES', async () => {
    await restrictedNamespace('pitrix-notes');
    const r = await ok(
      exec(helm, [
        'install',
        'pitrix',
        chart,
        '--namespace',
        'pitrix-notes',
        '--dry-run=server',
        '--kubeconfig',
        cp.kubeconfig,
        '--set',
        'watchNamespace=pitrix-zones',
      ]),
      'helm install --dry-run',
    );
    expect(r.stdout).toContain('acts on namespace pitrix-zones only');
    expect(r.stdout).toContain('kubectl pitrix status');
  });

  it('the plain manifests are the chart rendered (no drift) and apply with kustomize', async () => {
    expect(await deliveryCommand({ root: repoRoot, check: true, helm }), 'run `npm run delivery`').toEqual(
      [],
    );
    await cp.kubectl(['apply', '-f', join(repoRoot, 'manifests/base/namespace.yaml')]);
    const k = await cp.kubectl(['kustomize', join(repoRoot, 'manifests')]);
    const kinds = docs(k.stdout).map((o) => o.kind);
    expect(kinds.filter((x) => x === 'CustomResourceDefinition')).toHaveLength(5);
    for (const x of ['Namespace', 'ClusterRole', 'Deployment', 'ServiceMonitor', 'PrometheusRule'])
      expect(kinds).toContain(x);
    const applied = await exec(kubectlBin(), [
      '--kubeconfig',
      cp.kubeconfig,
      'apply',
      '--dry-run=server',
      '-k',
      join(repoRoot, 'manifests'),
    ]);
    expect(applied.code, applied.stderr).toBe(0);
    // (The CRDs were applied server-side by the control plane, hence kubectl's last-applied notes.)
    expect(applied.stderr).not.toMatch(/PodSecurity/);
    expect(applied.stdout).toMatch(/deployment\.apps\/pitrix-operator created \(server dry run\)/);
    expect(applied.stdout).toMatch(
      /prometheusrule\.monitoring\.coreos\.com\/pitrix-operator created \(server dry run\)/,
    );
  });
});

describe('least privilege: the operator as the chart ServiceAccount', () => {
  it('converges a NodePool scale-out approved with kubectl pitrix; Secrets elsewhere are forbidden', async () => {
    const opNs = 'pitrix-lp';
    const ns = 'zones-lp';
    const other = 'elsewhere';
    for (const n of [opNs, ns, other]) await cp.kubectl(['create', 'namespace', n]);
    await cp.kubectl(['create', 'secret', 'generic', 'not-yours', '-n', other, '--from-literal=k=v']);

    // The chart's ServiceAccount and RBAC for one watched namespace, applied for real.
    const rendered = await ok(
      exec(helm, ['template', 'pitrix', chart, '--namespace', opNs, '--set', `watchNamespace=${ns}`]),
      'render',
    );
    const rbac = docs(rendered.stdout).filter((o) =>
      /^(ServiceAccount|Role|RoleBinding|ClusterRole|ClusterRoleBinding)$/.test(o.kind),
    );
    expect(rbac.map((o) => o.kind).sort()).toEqual([
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'ServiceAccount',
    ]);
    await cp.kubectl(['apply', '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n') });
    const sa = rbac.find((o) => o.kind === 'ServiceAccount')!.metadata.name;

    // A token for it from the TokenRequest API, in a kubeconfig of its own.
    const token = (await cp.kubectl(['create', 'token', sa, '-n', opNs, '--duration=1h'])).stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const saKubeconfig = join(work, 'sa.kubeconfig');
    await writeFile(
      saKubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: ${cp.server}`,
        `    certificate-authority: ${join(cp.dir, 'ca.crt')}`,
        'users:',
        '- name: sa',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: sa',
        '  context: {cluster: test, user: sa, namespace: ' + ns + '}',
        'current-context: sa',
        '',
      ].join('\n'),
    );
    const asSa = (args: string[]) => exec(kubectlBin(), ['--kubeconfig', saKubeconfig, ...args]);
    const forbidden = await asSa(['get', 'secret', 'not-yours', '-n', other]);
    expect(forbidden.code).not.toBe(0);
    expect(forbidden.stderr).toMatch(/Forbidden|forbidden/);
    expect((await asSa(['auth', 'can-i', 'list', 'secrets', '-n', ns])).stdout.trim()).toBe('no');
    expect((await asSa(['auth', 'can-i', 'get', 'secrets', '-n', ns])).stdout.trim()).toBe('yes');
    expect((await asSa(['auth', 'can-i', 'delete', 'nodepools', '-n', ns])).stdout.trim()).toBe('no');
    expect((await asSa(['auth', 'can-i', 'get', 'nodepools', '-n', other])).stdout.trim()).toBe('no');

    // `kubectl pitrix` found on PATH the way kubectl finds plugins.
    const bin = join(work, 'bin');
    await exec('mkdir', ['-p', bin]);
    await writeFile(
      join(bin, 'kubectl-pitrix'),
      `#!/bin/sh\nexec "${process.execPath}" --import tsx "${join(repoRoot, 'src/cli/main.ts')}" "$@"\n`,
    );
    await chmod(join(bin, 'kubectl-pitrix'), 0o755);
    const pitrix = (args: string[]) =>
      exec(kubectlBin(), ['pitrix', ...args, '-n', ns], {
        env: { KUBECONFIG: cp.kubeconfig, PATH: `${bin}:${process.env.PATH}` },
      });

    const sim = await startPlatform({
      scenario: join(repoRoot, 'examples/sim/standard.yaml'),
      subnet: SUBNET,
      timeScale: 0.3,
    });
    let op: OperatorProcess | undefined;
    try {
      op = await startOperator(saKubeconfig, [
        '--namespace',
        ns,
        '--leader-elect',
        '--leader-election-namespace',
        opNs,
        '--lease-duration',
        '4s',
        '--renew-deadline',
        '3s',
        '--retry-period',
        '1s',
      ]);
      const apply = (obj: object) =>
        cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) });
      const get = async (kind: string, name: string) =>
        JSON.parse((await cp.kubectl(['get', kind, name, '-n', ns, '-o', 'json'])).stdout) as Resource;
      const cond = (r: Resource, type: string) => r.status?.conditions?.find((c) => c.type === type);

      for (const m of [...zoneManifests(sim, 'pek3a', 'pek3a'), nodeCredentialsSecret]) await apply(m);
      await waitUntil(
        async () => cond(await get('zone', 'pek3a'), 'Ready')?.status === 'True',
        60_000,
        'Zone Ready',
      );

      const [a, b] = sim.spare.map((h) => h.address);
      await apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'NodePool',
        metadata: { name: 'hyper-lp' },
        spec: {
          zoneRef: { name: 'pek3a' },
          role: 'hyper',
          approval: 'Manual',
          nodes: [{ address: a }, { address: b }],
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['sdb'], confirm: 'hyper-lp' },
        },
      });
      let pool = await get('nodepool', 'hyper-lp');
      await waitUntil(
        async () => {
          pool = await get('nodepool', 'hyper-lp');
          return cond(pool, 'Progressing')?.reason === 'AwaitingApproval';
        },
        90_000,
        'plan awaiting approval',
      ).catch((e) => {
        throw new Error(
          `${e}\n${JSON.stringify(pool.status?.conditions)}\n${op?.logs.slice(-20).join('\n')}`,
        );
      });
      const hash = pool.status!.plan!.hash;

      // Review.
      const plan = await ok(pitrix(['plan', 'nodepool/hyper-lp', '--commands']), 'kubectl pitrix plan');
      expect(plan.stdout).toContain(`Plan ${hash}`);
      expect(plan.stdout).toContain('awaiting approval');
      expect(plan.stdout).toMatch(/scaleQingcloud {2}on firstbox {2}\[Pending\]/);
      expect(plan.stdout).toContain('$ ');
      expect(plan.stdout).toContain(`--hash ${hash}`);

      // A stale approval is refused and changes nothing; so is one without a hash off a terminal.
      const stale = await pitrix(['approve', 'np/hyper-lp', '--hash', '0123456789abcdef']);
      expect(stale.code).toBe(1);
      expect(stale.stderr).toContain(
        `the plan changed since it was shown (you approved 0123456789abcdef, the published plan is now ${hash})`,
      );
      const blind = await pitrix(['approve', 'np/hyper-lp']);
      expect(blind.code).toBe(1);
      expect(blind.stderr).toContain(`--hash ${hash}`);
      expect(
        (await get('nodepool', 'hyper-lp')).metadata.annotations?.['ops.pitrix.io/approve-plan'],
      ).toBeUndefined();

      // Pause, approve, see it hold, resume.
      await ok(pitrix(['pause', 'nodepool/hyper-lp']), 'pause');
      expect((await get('nodepool', 'hyper-lp')).spec.paused).toBe(true);
      const approved = await ok(pitrix(['approve', 'nodepool', 'hyper-lp', '--hash', hash]), 'approve');
      expect(approved.stdout).toContain(`plan ${hash} approved`);
      await waitUntil(
        async () => cond(await get('nodepool', 'hyper-lp'), 'Progressing')?.reason === 'Paused',
        30_000,
        'Paused',
      );
      const commandsBefore = (await sim.commandLog(sim.firstbox.id)).filter((e) =>
        /add-nodes\.py/.test(e.command),
      );
      expect(commandsBefore).toEqual([]);
      await ok(pitrix(['resume', 'np/hyper-lp']), 'resume');
      await waitUntil(
        async () => {
          pool = await get('nodepool', 'hyper-lp');
          return cond(pool, 'Ready')?.status === 'True';
        },
        150_000,
        'NodePool Ready as the ServiceAccount',
      ).catch((e) => {
        throw new Error(
          `${e}\n${JSON.stringify(pool.status?.conditions)}\n${op?.logs.slice(-30).join('\n')}`,
        );
      });
      expect(pool.status!.plan!.steps!.every((s) => s.state === 'Succeeded')).toBe(true);
      for (const host of [a!, b!]) expect(JSON.stringify(await sim.state(host))).toContain('RUNNING');

      // What the status command shows a human.
      const status = await ok(pitrix(['status', 'np/hyper-lp']), 'status');
      expect(status.stdout).toMatch(/^NodePool zones-lp\/hyper-lp/);
      expect(status.stdout).toMatch(/Ready\s+True\s+(Completed|UpToDate)/);
      expect(status.stdout).toMatch(/✓ scaleQingcloud\s+Succeeded\s+firstbox/);
      expect(status.stdout).toContain('approval Manual: approved');
      expect(status.stdout).toMatch(/Nodes:\n\s+NODE\s+PHASE/);
      const list = await ok(pitrix(['status']), 'status list');
      expect(list.stdout).toMatch(/nodepool\/hyper-lp\s+True\s+(Completed|UpToDate)\s+(\d+)\/\2/);
      expect(list.stdout).toMatch(/zone\/pek3a\s+True/);
      const missing = await pitrix(['status', 'np/nope']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('nodepool/nope not found in namespace zones-lp');

      // It led through the Lease in its own namespace, and wrote Events where it acts.
      const lease = JSON.parse(
        (await cp.kubectl(['get', 'lease', 'pitrix-operator-leader', '-n', opNs, '-o', 'json'])).stdout,
      );
      expect(lease.spec.holderIdentity).toBeTruthy();
      expect(await op.metric('leader_election_master_status', { name: 'pitrix-operator-leader' })).toBe(1);
      const events = (await cp.kubectl(['get', 'events', '-n', ns, '-o', 'json'])).stdout;
      expect(events).toContain('PlanCompleted');
      // No request of the operator was refused by RBAC.
      expect(op.logs.filter((l) => /forbidden/i.test(l))).toEqual([]);
      // Domain metrics observed along the way.
      expect(
        await op.metric('pitrix_operator_step_duration_seconds_count', {
          kind: 'NodePool',
          step: 'scaleQingcloud',
        }),
      ).toBe(1);
      expect(
        await op.metric('pitrix_operator_facts_age_seconds', { kind: 'NodePool', node: a! }),
      ).toBeLessThan(600);
    } finally {
      await op?.stop();
      await sim.stop();
    }
  });
});
