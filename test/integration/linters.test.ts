/**
 * Our delivery output judged by the ecosystem's own linters (hack/linters, built once from the Go
 * module proxy by hack/linters-assets.sh), each failing the test on any finding:
 *
 * - kubeconform -strict: the rendered chart (default values, every ci/ values file, every optional
 *   object on), the kustomize build of manifests/ and every example manifest, against schemas made
 *   from this control plane's OpenAPI v3 with our CRDs installed (no schema is downloaded: see
 *   test/helpers/kubeconform-schemas.ts). An unknown field or a kind without a schema is a finding.
 * - kube-score: the rendered chart, every check on; the exceptions are annotations in the chart's
 *   templates, each with its reason beside it (kube-linter is not served by the Go module proxy).
 * - promtool check rules --lint=all --lint-fatal: the alert rules, and the PrometheusRule of
 *   manifests/ (pint is not served by the Go module proxy either).
 * - grafana-dashboard-check: the dashboard against Grafana's dashboard schema (Foundation SDK),
 *   strictly; Grafana's dashboard-linter is not served.
 *
 * Each linter is also shown a broken input, so a linter that checks nothing fails the test.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { CHART_DIR, helmPath } from '../../src/cli/delivery.js';
import { kindSchemas, SCHEMA_LOCATION } from '../helpers/kubeconform-schemas.js';
import { repoRoot } from '../helpers/scenario.js';

const chart = join(repoRoot, CHART_DIR);
const MONITORING_CRDS = join(repoRoot, 'test/promtool/monitoring.coreos.com-crds.yaml');
let cp: ControlPlane;
let helm: string;
let linters: string;
let work: string;
let schemas: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], input = ''): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { cwd: repoRoot, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function ok(r: Promise<Run>, what: string): Promise<string> {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what} failed (${x.code}):\n${x.stderr}\n${x.stdout.slice(0, 4000)}`);
  return x.stdout;
}

/** The chart rendered for the default values, every ci/ values file and every optional object on. */
async function renderings(): Promise<Array<[string, string]>> {
  const ci = (await readdir(join(chart, 'ci'))).filter((f) => f.endsWith('.yaml'));
  const cases: Array<[string, string[]]> = [
    ['default', []],
    ...ci.map((f): [string, string[]] => [f, ['-f', join(chart, 'ci', f)]]),
    [
      'everything on',
      [
        '-f',
        join(chart, 'ci/monitoring-values.yaml'),
        '--set',
        'grafanaDashboard.enabled=true',
        '--set',
        'argocd.customizations.enabled=true',
      ],
    ],
  ];
  const out: Array<[string, string]> = [];
  for (const [name, args] of cases)
    out.push([
      name,
      await ok(
        run(helm, ['template', 'pitrix', chart, '--namespace', 'pitrix-system', ...args]),
        `render ${name}`,
      ),
    ]);
  return out;
}

const docCount = (yaml: string) => parseAllDocuments(yaml).filter((d) => d.toJS()?.kind).length;

beforeAll(async () => {
  const asset = async (script: string) =>
    (await promisify(execFile)('bash', [join(repoRoot, 'hack', script)], { encoding: 'utf8' })).stdout.trim();
  [cp, helm, linters] = await Promise.all([
    startControlPlane({ log: (m) => console.log(m) }),
    helmPath(repoRoot),
    asset('linters-assets.sh'),
  ]);
  work = await mkdtemp(join(tmpdir(), 'pitrix-linters-'));
  schemas = join(work, 'schemas');
  // Our CRDs are applied by startControlPlane; the Prometheus Operator's for ServiceMonitor and PrometheusRule.
  await cp.kubectl(['apply', '-f', MONITORING_CRDS]);
  await cp.kubectl(['wait', '--for=condition=Established', '--timeout=30s', '-f', MONITORING_CRDS]);
  // The CRDs reach the OpenAPI v3 document a moment after Established.
  const raw = async (path: string) => JSON.parse((await cp.kubectl(['get', '--raw', path])).stdout);
  let paths: Record<string, { serverRelativeURL: string }> = {};
  for (let i = 0; i < 50; i++) {
    paths = (await raw('/openapi/v3')).paths;
    if (paths['apis/ops.pitrix.io/v1alpha1'] && paths['apis/monitoring.coreos.com/v1']) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await promisify(execFile)('mkdir', ['-p', schemas]);
  let files = 0;
  for (const [path, { serverRelativeURL }] of Object.entries(paths)) {
    if (!/^(api\/v1|apis\/[^/]+\/[^/]+)$/.test(path)) continue;
    for (const [file, schema] of kindSchemas(await raw(serverRelativeURL))) {
      await writeFile(join(schemas, file), JSON.stringify(schema));
      files++;
    }
  }
  console.log(`kubeconform: ${files} schemas from the control plane's OpenAPI v3`);
});

afterAll(async () => {
  await cp?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function kubeconform(yaml: string): Promise<Run & { summary: Record<string, number> }> {
  const r = await run(
    join(linters, 'kubeconform'),
    ['-strict', '-summary', '-output', 'json', '-schema-location', join(schemas, SCHEMA_LOCATION), '-'],
    yaml,
  );
  const parsed = JSON.parse(r.stdout || '{}') as { summary?: Record<string, number> };
  return { ...r, summary: parsed.summary ?? {} };
}

describe('kubeconform (strict, schemas from the control plane)', () => {
  it('passes the rendered chart, the kustomize build of manifests/ and every example', async () => {
    const inputs: Array<[string, string]> = (await renderings()).map(([n, y]) => [`chart ${n}`, y]);
    inputs.push([
      'manifests/',
      await ok(run(join(cp.assetsDir, 'kubectl'), ['kustomize', join(repoRoot, 'manifests')]), 'kustomize'),
    ]);
    for (const f of (await readdir(join(repoRoot, 'examples'))).filter((x) => x.endsWith('.yaml')))
      inputs.push([`examples/${f}`, await readFile(join(repoRoot, 'examples', f), 'utf8')]);
    for (const [name, yaml] of inputs) {
      const r = await kubeconform(yaml);
      expect(r.code, `${name}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      // Every object was validated against a schema: none skipped, none without a schema.
      expect(r.summary, name).toMatchObject({ valid: docCount(yaml), invalid: 0, errors: 0, skipped: 0 });
    }
  });

  it('finds an unknown field in a built-in kind and in our CRD, and a kind it has no schema for', async () => {
    const bad = stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: {
        replica: 2,
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    });
    const np = (await readFile(join(repoRoot, 'examples/nodepool-hyper.yaml'), 'utf8')).replace(
      /^spec:\n/m,
      'spec:\n  nodeCount: 3\n',
    );
    for (const [what, yaml, pattern] of [
      ['Deployment.spec.replica', bad, /replica/],
      ['NodePool.spec.nodeCount', np, /nodeCount/],
      [
        'an unknown kind',
        'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n',
        /could not find schema/,
      ],
    ] as const) {
      const r = await kubeconform(yaml);
      expect(r.code, what).not.toBe(0);
      expect(r.stdout, what).toMatch(pattern);
    }
  });
});

/** Every check, the optional ones too; a warning fails like a critical finding. */
const KUBE_SCORE_ARGS = [
  'score',
  '--output-format',
  'ci',
  '--exit-one-on-warning',
  '--enable-optional-test',
  [
    'container-resource-requests-equal-limits',
    'container-cpu-requests-equal-limits',
    'container-memory-requests-equal-limits',
    'container-ephemeral-storage-request-equals-limit',
    'container-ports-check',
    'container-seccomp-profile',
  ].join(','),
  '-',
];

describe('kube-score', () => {
  it('scores the rendered chart with no warning or critical finding left unexplained', async () => {
    for (const [name, yaml] of await renderings()) {
      const r = await run(join(linters, 'kube-score'), KUBE_SCORE_ARGS, yaml);
      const findings = r.stdout.split('\n').filter((l) => /^\[(WARNING|CRITICAL)\]/.test(l));
      expect(findings, `${name}:\n${r.stdout}\n${r.stderr}`).toEqual([]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout, name).toMatch(/^\[OK\] /m);
    }
    // The check can fail: a bare Deployment has findings.
    const bare = stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: {
          metadata: { labels: { a: 'b' } },
          spec: { containers: [{ name: 'c', image: 'i:latest' }] },
        },
      },
    });
    const r = await run(join(linters, 'kube-score'), KUBE_SCORE_ARGS, bare);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/^\[CRITICAL\] /m);
  });
});

describe('promtool lint', () => {
  it('passes the alert rules and the PrometheusRule of manifests/ with every lint fatal', async () => {
    const rules = join(chart, 'files/alerts.yaml');
    await ok(
      run('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', rules]),
      'promtool lint alerts.yaml',
    );
    const monitoring = parseAllDocuments(await readFile(join(repoRoot, 'manifests/monitoring.yaml'), 'utf8'))
      .map((d) => d.toJS())
      .find((o) => o?.kind === 'PrometheusRule') as { spec: { groups: unknown[] } };
    const file = join(work, 'manifests-rules.yaml');
    await writeFile(file, stringify({ groups: monitoring.spec.groups }));
    await ok(
      run('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', file]),
      'promtool lint manifests/',
    );
    // The check can fail: a duplicate rule is a lint finding.
    const dup = { alert: 'A', expr: 'up == 0', labels: { severity: 'warning' } };
    await writeFile(file, stringify({ groups: [{ name: 'g', rules: [dup, dup] }] }));
    expect((await run('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', file])).code).not.toBe(0);
  });
});

describe('Grafana dashboard schema', () => {
  it('the dashboard decodes strictly against the schema, and a broken one does not', async () => {
    const file = join(chart, 'files/grafana-dashboard.json');
    const out = await ok(run(join(linters, 'grafana-dashboard-check'), [file]), 'grafana-dashboard-check');
    expect(out).toMatch(/: ok \(\d+ panels\)/);
    const d = JSON.parse(await readFile(file, 'utf8')) as { panels: Array<Record<string, unknown>> };
    d.panels[0]!.gridPos = { h: 'eight', w: 12, x: 0, y: 0 };
    d.panels[1]!.tagets = [];
    const broken = join(work, 'broken.json');
    await writeFile(broken, JSON.stringify(d));
    const r = await run(join(linters, 'grafana-dashboard-check'), [broken]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/gridPos/);
    expect(r.stdout).toMatch(/tagets/);
  });
});
