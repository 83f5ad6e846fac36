/**
 * The alerts: promtool unit tests for every rule (fires / does not fire), every runbook link lands on
 * a section of docs/alerts.md, and one alert proven end to end — a real Prometheus (Debian's
 * package) scrapes the running operator during a NodePool scale-out whose step fails on the
 * simulated platform: PitrixResourceDegraded goes pending, then firing (read from Prometheus's API),
 * and resolves once the fault is removed and the plan completes. The rules are the shipped file with
 * every `for:` shortened to seconds; expressions, labels and annotations are unchanged. Meanwhile
 * every panel query of the shipped Grafana dashboard is asked of the same Prometheus: each must be
 * accepted, and each must return data at some point except the few this scenario cannot feed
 * (named with the reason in SILENT_HERE).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type ControlPlane, freePort, startControlPlane, testNamespace } from '../../hack/controlplane.js';
import { startPlatform } from '../../hack/sim/platform.js';
import { type OperatorProcess, startOperator, waitUntil } from '../helpers/operator.js';
import { nodeCredentialsSecret, type Resource, repoRoot, zoneManifests } from '../helpers/scenario.js';

const run = promisify(execFile);
const SUBNET = 42;
const RULES = join(repoRoot, 'helm/pitrix-operator/files/alerts.yaml');
const PROMTOOL_TESTS = join(repoRoot, 'test/promtool/alerts.test.yaml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  annotations: Record<string, string>;
}
const rules = async (): Promise<Rule[]> =>
  (parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap(
    (g) => g.rules,
  );

/** The shipped dashboard's panel queries (helm/pitrix-operator/files/grafana-dashboard.json). */
function dashboardQueries(): Array<{ title: string; expr: string }> {
  interface Panel {
    title?: string;
    targets?: Array<{ expr?: string }>;
    panels?: Panel[];
  }
  const d = JSON.parse(
    readFileSync(join(repoRoot, 'helm/pitrix-operator/files/grafana-dashboard.json'), 'utf8'),
  ) as { panels: Panel[] };
  const out: Array<{ title: string; expr: string }> = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ title: p.title ?? '', expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/** Panels a NodePool scale-out with one failing step cannot fill, and why. */
const SILENT_HERE: Record<string, string> = {
  'Tag migration verdicts, by zone': 'no TagServer in this scenario',
  'Default-credential warnings': 'no Component in this scenario',
  'SSH failures per second, by reason':
    'no SSH connection fails here (the injected failure is a command exit code)',
  Leader:
    'the operator runs with --no-leader-elect here (the gauge exists only under leader election, as in controller-runtime)',
};

describe('alert rules', () => {
  it('pass promtool check and promtool unit tests', async () => {
    const check = await run('promtool', ['check', 'rules', RULES]);
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const test = await run('promtool', ['test', 'rules', PROMTOOL_TESTS], {
      cwd: join(repoRoot, 'test/promtool'),
    }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool test rules failed:\n${e.stdout}\n${e.stderr}`);
    });
    expect(`${test.stdout}${test.stderr}`).toContain('SUCCESS');
  });

  it('every alert has a firing and a quiet promtool case, summary, description and a runbook section', async () => {
    const tests = parse(await readFile(PROMTOOL_TESTS, 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    const doc = await readFile(join(repoRoot, 'docs/alerts.md'), 'utf8');
    const anchors = new Set([...doc.matchAll(/^## (\S+)/gm)].map((m) => m[1]!.toLowerCase()));
    const all = await rules();
    expect(all.map((r) => r.alert).sort()).toEqual(
      [
        'PitrixDefaultCredentialsActive',
        'PitrixFactsStale',
        'PitrixFirstboxUnreachable',
        'PitrixNodeUnreachable',
        'PitrixOperatorAbsent',
        'PitrixOperatorNoLeader',
        'PitrixReconcileErrors',
        'PitrixResourceDegraded',
        'PitrixRolloutStalled',
        'PitrixTagMigrationUnverified',
      ].sort(),
    );
    for (const r of all) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${r.alert} fires in a promtool case`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${r.alert} stays quiet in a promtool case`,
      ).toBe(true);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toBeTruthy();
      const anchor = r.annotations.runbook_url?.split('#')[1];
      expect(r.annotations.runbook_url).toMatch(/docs\/alerts\.md#/);
      expect(anchors.has(anchor!), `docs/alerts.md has a section for ${r.alert}`).toBe(true);
    }
  });
});

describe('end to end with a real Prometheus', () => {
  let cp: ControlPlane;
  let dir: string;
  let prom: ChildProcess | undefined;
  const promLogs: string[] = [];
  beforeAll(async () => {
    cp = await startControlPlane({ log: (m) => console.log(m) });
    dir = await mkdtemp(join(tmpdir(), 'pitrix-prom-'));
  });
  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('PitrixResourceDegraded goes pending, fires on a failing step, and resolves when the platform is fixed; every dashboard query answers', async () => {
    const ns = await testNamespace(cp, 'alerts');
    const sim = await startPlatform({
      scenario: join(repoRoot, 'examples/sim/standard.yaml'),
      subnet: SUBNET,
      timeScale: 0.3,
    });
    let op: OperatorProcess | undefined;
    let polling = true;
    try {
      op = await startOperator(cp.kubeconfig, ['--no-leader-elect', '--namespace', ns]);

      // The shipped rules with seconds instead of minutes in `for:`.
      const shipped = parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
      for (const g of shipped.groups) for (const r of g.rules) r.for = '4s';
      await writeFile(join(dir, 'rules.yaml'), stringify(shipped));
      const promPort = await freePort();
      await writeFile(
        join(dir, 'prometheus.yml'),
        stringify({
          global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
          rule_files: [join(dir, 'rules.yaml')],
          scrape_configs: [
            { job_name: 'pitrix-operator', static_configs: [{ targets: [`127.0.0.1:${op.metricsPort}`] }] },
          ],
        }),
      );
      prom = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prom.stderr?.on('data', (d) => promLogs.push(String(d)));
      const api = async <T>(path: string): Promise<T> => {
        const r = await fetch(`http://127.0.0.1:${promPort}${path}`, { signal: AbortSignal.timeout(2000) });
        const body = (await r.json()) as { status: string; data: T };
        if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
        return body.data;
      };
      await waitUntil(
        async () => {
          const t = await api<{ activeTargets: Array<{ health: string }> }>('/api/v1/targets');
          return t.activeTargets[0]?.health === 'up';
        },
        30_000,
        'Prometheus scraping the operator',
      ).catch((e) => {
        throw new Error(`${e}\n${promLogs.join('').slice(-3000)}`);
      });

      // Every dashboard panel's query, asked of this Prometheus throughout the run: each must be
      // accepted, and each must return data at some point unless this scenario cannot produce it.
      const panels = dashboardQueries();
      const answered = new Set<string>();
      const refused = new Map<string, string>();
      const poller = (async () => {
        while (polling) {
          for (const q of panels) {
            try {
              const r = await api<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(q.expr)}`);
              if (r.result.length > 0) answered.add(q.title);
            } catch (e) {
              refused.set(q.title, String(e));
            }
          }
          await new Promise((r) => setTimeout(r, 2000));
        }
      })();

      const apply = (obj: object) =>
        cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) });
      const get = async (kind: string, name: string) =>
        JSON.parse((await cp.kubectl(['get', kind, name, '-n', ns, '-o', 'json'])).stdout) as Resource;
      for (const m of [...zoneManifests(sim, 'pek3a', 'pek3a'), nodeCredentialsSecret]) await apply(m);
      // The injected failure: the platform refuses the scale settings.
      await sim.setFault(sim.firstbox.id, {
        kind: 'fail',
        match: 'config-qingcloud.py -s',
        exitCode: 2,
        message: 'settings check failed: vbc network overlaps mgmt network',
      });
      const [a, b] = sim.spare.map((h) => h.address);
      await apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'NodePool',
        metadata: { name: 'hyper-alert' },
        spec: {
          zoneRef: { name: 'pek3a' },
          role: 'hyper',
          nodes: [{ address: a }, { address: b }],
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['sdb'], confirm: 'hyper-alert' },
        },
      });

      type Alert = { labels: Record<string, string>; state: string; annotations: Record<string, string> };
      const degraded = async () =>
        (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.find(
          (x) => x.labels.alertname === 'PitrixResourceDegraded' && x.labels.name === 'hyper-alert',
        );
      const seen: string[] = [];
      let firing: Alert | undefined;
      await waitUntil(
        async () => {
          const al = await degraded();
          if (al && seen.at(-1) !== al.state) seen.push(al.state);
          if (al?.state === 'firing') firing = al;
          return !!firing;
        },
        120_000,
        'PitrixResourceDegraded firing',
      ).catch(async (e) => {
        const p = await get('nodepool', 'hyper-alert').catch(() => undefined);
        throw new Error(
          `${e}\nseen: ${seen}\nstatus: ${JSON.stringify(p?.status?.conditions)}\n${op?.logs.slice(-15).join('\n')}`,
        );
      });
      expect(seen).toEqual(['pending', 'firing']);
      expect(firing!.labels).toMatchObject({ kind: 'NodePool', namespace: ns, severity: 'warning' });
      expect(firing!.annotations.summary).toBe(`NodePool ${ns}/hyper-alert is Degraded.`);
      expect(firing!.annotations.runbook_url).toMatch(/docs\/alerts\.md#pitrixresourcedegraded$/);
      const pool = await get('nodepool', 'hyper-alert');
      expect(pool.status?.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({
        status: 'True',
        reason: 'StepFailed',
      });
      // The step failure is in Prometheus too, by kind and step.
      const failures = await api<{ result: Array<{ value: [number, string] }> }>(
        `/api/v1/query?query=${encodeURIComponent('pitrix_operator_step_failures_total{kind="NodePool",step="configQingcloud"}')}`,
      );
      expect(Number(failures.result[0]?.value[1])).toBeGreaterThanOrEqual(1);

      // Fix the platform; nudge the pool so it retries now rather than after its backoff.
      await sim.clearFaults(sim.firstbox.id);
      await cp.kubectl([
        'annotate',
        'nodepool',
        'hyper-alert',
        '-n',
        ns,
        'example.com/nudge=1',
        '--overwrite',
      ]);
      await waitUntil(async () => !(await degraded()), 120_000, 'PitrixResourceDegraded resolved').catch(
        async (e) => {
          const p = await get('nodepool', 'hyper-alert').catch(() => undefined);
          throw new Error(
            `${e}\nstatus: ${JSON.stringify(p?.status?.conditions)}\n${op?.logs.slice(-15).join('\n')}`,
          );
        },
      );
      const fixed = await get('nodepool', 'hyper-alert');
      expect(fixed.status?.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
      // Nothing else fired along the way: the operator was up and the zone reachable.
      const others = (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter(
        (x) => x.state === 'firing',
      );
      expect(others.map((x) => x.labels.alertname)).toEqual([]);

      polling = false;
      await poller;
      const silent = panels.filter((q) => !answered.has(q.title)).map((q) => q.title);
      console.log(
        `dashboard: ${panels.length} panel queries, ${answered.size} returned data; silent: ${silent.join('; ') || 'none'}`,
      );
      expect(Object.fromEntries(refused)).toEqual({});
      expect(silent.sort()).toEqual(Object.keys(SILENT_HERE).sort());
    } finally {
      polling = false;
      await op?.stop();
      await sim.stop();
    }
  });
});
