/**
 * The Grafana dashboard (helm/pitrix-operator/files/grafana-dashboard.json): every panel's PromQL
 * parses by promtool (`promtool check rules` on a recording rule per expression), names only
 * metrics the operator registers (src/runtime/metrics.ts and the controllers' own gauges), and the chart ships the file verbatim in
 * a ConfigMap with the sidecar's label.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ControllerDeps } from '../../src/controllers/deps.js';
import { registerControllers } from '../../src/controllers/index.js';
import { createLogger } from '../../src/runtime/log.js';
import type { Manager } from '../../src/runtime/manager.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';

const root = resolve(import.meta.dirname, '../..');
const file = resolve(root, 'helm/pitrix-operator/files/grafana-dashboard.json');
interface Dashboard {
  uid: string;
  panels: Array<{ id: number; title: string; targets: Array<{ expr: string }> }>;
}
/** The metrics the operator registers: the runtime's plus those the controllers add at start-up. */
function operatorRegistry() {
  const metrics = new OperatorMetrics({ processMetrics: false });
  const informer = { on: () => {}, list: () => [], get: () => undefined };
  const deps = {
    metrics,
    log: createLogger({ level: 'silent' }),
    informers: {
      zone: informer,
      nodePool: informer,
      component: informer,
      tagServer: informer,
      webserviceUpgrade: informer,
    },
  } as unknown as ControllerDeps;
  registerControllers({ add: () => {} } as unknown as Manager, deps, { maxConcurrentReconciles: 1 });
  return metrics.registry.getMetricsAsArray();
}

const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

describe('Grafana dashboard', () => {
  it('every expression passes promtool', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    try {
      const rules = join(dir, 'rules.yaml');
      writeFileSync(
        rules,
        stringify({
          groups: [
            {
              name: 'dashboard',
              rules: exprs.map((e, i) => ({ record: `dashboard:panel_${i}`, expr: e.expr })),
            },
          ],
        }),
      );
      const r = spawnSync('promtool', ['check', 'rules', rules], { encoding: 'utf8' });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
      // promtool does refuse a broken one (the check can fail).
      writeFileSync(
        rules,
        stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum by (a (up)' }] }] }),
      );
      expect(spawnSync('promtool', ['check', 'rules', rules]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names only metrics the operator registers, and covers each area', () => {
    const exported = new Set(operatorRegistry().map((m) => m.name));
    for (const { panel, expr } of exprs) {
      const names = [
        ...expr.matchAll(/\b((?:controller_runtime|workqueue|leader_election|pitrix)_[a-z_]+)/g),
      ].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
      expect(names.length, panel).toBeGreaterThan(0);
      for (const n of names) expect(exported, `${panel}: ${n}`).toContain(n);
    }
    const all = exprs.map((e) => e.expr).join('\n');
    // The areas issue 16 asks the dashboard to show.
    for (const m of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'workqueue_depth',
      'workqueue_queue_duration_seconds',
      'pitrix_operator_rollout_seconds_since_progress',
      'pitrix_operator_step_failures_total',
      'pitrix_operator_zone_locks_held',
      'pitrix_operator_ssh_connections',
      'pitrix_operator_ssh_failures_total',
      'pitrix_operator_facts_age_seconds',
      'pitrix_tagserver_migration_verified',
      'pitrix_component_default_credentials',
    ])
      expect(all).toContain(m);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('the chart ships it verbatim, labelled for the Grafana sidecar, only when enabled', () => {
    const helm = execFileSync('bash', [resolve(root, 'hack/helm-assets.sh')], { encoding: 'utf8' }).trim();
    const chart = resolve(root, 'helm/pitrix-operator');
    const docs = (args: string[]) =>
      execFileSync(helm, ['template', 'r', chart, ...args], { encoding: 'utf8' })
        .split(/^---$/m)
        .map(
          (d) =>
            parse(d) as {
              metadata?: { name: string; labels?: Record<string, string> };
              data?: Record<string, string>;
            },
        )
        .filter(Boolean);
    const cm = docs(['--set', 'grafanaDashboard.enabled=true']).find(
      (d) => d.metadata?.name === 'r-pitrix-operator-dashboard',
    );
    expect(cm?.metadata?.labels?.grafana_dashboard).toBe('1');
    expect(cm?.data?.['pitrix-operator.json']).toBe(readFileSync(file, 'utf8'));
    expect(docs([]).some((d) => d.metadata?.name === 'r-pitrix-operator-dashboard')).toBe(false);
  });
});
