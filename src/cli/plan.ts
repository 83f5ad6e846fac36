/**
 * `pitrix-operator plan -f manifests.yaml [--kubeconfig PATH | --facts facts.json] [-o text|json|yaml]`:
 * what the operator would run for the manifests, step by step with hosts and exact commands,
 * without acting (a terraform-plan for the runbooks).
 * - `--kubeconfig`: every kind, through each runbook's own hooks against the cluster's Zones and
 *   the live platform, read-only (plan-live.ts).
 * - `--facts` (or neither): NodePools offline, from a file of installer and node facts.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { parseNodePool } from '../api/nodepool.js';
import { parseZone, type Zone } from '../api/zone.js';
import { type NodePoolPlanInput, planNodePool } from '../controllers/nodepool/plan.js';
import { RUNBOOKS } from '../controllers/registry.js';
import { bindToFirstbox } from '../controllers/zone/access.js';
import type { NodeFacts, PlatformNode } from '../facts/types.js';
import type { KubeObject } from '../runtime/kube.js';
import { type OutputFormat, type PlanReport, planSteps, renderReports } from './plan-report.js';

/** The offline facts file: what the installer lists and what each node reports. */
export interface FactsFile {
  zones?: Record<string, { installerVersion?: string; nodes?: PlatformNode[] }>;
  nodes?: Record<string, NodeFacts>;
  /** Firstbox files by path (offline mode), e.g. `/pitrix/config/templates/settings.template.yaml`. */
  files?: Record<string, string>;
}

const FORMATS: readonly OutputFormat[] = ['text', 'json', 'yaml'];

export async function planCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      facts: { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      output: { type: 'string', short: 'o', default: 'text' },
    },
  });
  const format = values.output as OutputFormat;
  if (!FORMATS.includes(format)) {
    process.stderr.write(`plan: --output ${values.output}: use one of ${FORMATS.join(', ')}\n`);
    return 2;
  }
  if (!values.file?.length) {
    process.stderr.write(
      'plan: -f FILE is required (manifests of Zones, NodePools, Components, TagServers, WebserviceUpgrades)\n',
    );
    return 2;
  }
  if (values.facts && values.kubeconfig) {
    process.stderr.write(
      'plan: use --kubeconfig (live, every kind) or --facts (offline, NodePools), not both\n',
    );
    return 2;
  }
  const docs: KubeObject[] = [];
  for (const f of values.file) {
    for (const d of parseAllDocuments(await readFile(f, 'utf8'))) {
      const js = d.toJS() as KubeObject | null;
      if (js?.kind && js.metadata?.name) docs.push(js);
    }
  }
  const namespace = values.namespace ?? 'default';
  let reports: PlanReport[];
  if (values.kubeconfig) {
    const { livePlans } = await import('./plan-live.js');
    reports = await livePlans(values.kubeconfig, docs, namespace);
  } else {
    const facts: FactsFile = values.facts ? JSON.parse(await readFile(values.facts, 'utf8')) : {};
    reports = offlinePlans(docs, facts, namespace);
  }
  process.stdout.write(renderReports(reports, format));
  return reports.some((r) => r.outcome === 'refused' || r.outcome === 'error') ? 1 : 0;
}

/** NodePools from the facts file; every other kind needs the live platform to be planned. */
function offlinePlans(docs: readonly KubeObject[], facts: FactsFile, defaultNamespace: string): PlanReport[] {
  const zones = new Map<string, Zone>();
  for (const d of docs) if (d.kind === 'Zone') zones.set(d.metadata.name, parseZone(d));
  const reports: PlanReport[] = [];
  for (const d of docs) {
    const base = { kind: d.kind, namespace: d.metadata.namespace ?? defaultNamespace, name: d.metadata.name };
    if (d.kind === 'Zone' || !RUNBOOKS.some((r) => r.info.kind === d.kind)) continue;
    if (d.kind !== 'NodePool') {
      reports.push({
        ...base,
        outcome: 'nothing',
        reason: 'NeedsLivePlatform',
        message: `a ${d.kind} is planned from what its zone's firstbox shows: run plan with --kubeconfig (--facts covers NodePools)`,
      });
      continue;
    }
    try {
      reports.push(offlineNodePool(base, parseNodePool(d), zones, facts));
    } catch (err) {
      reports.push({ ...base, outcome: 'error', reason: 'InvalidSpec', message: (err as Error).message });
    }
  }
  return reports;
}

function offlineNodePool(
  base: Pick<PlanReport, 'kind' | 'namespace' | 'name'>,
  pool: ReturnType<typeof parseNodePool>,
  zones: Map<string, Zone>,
  facts: FactsFile,
): PlanReport {
  const zone = zones.get(pool.spec.zoneRef.name);
  if (!zone)
    return {
      ...base,
      outcome: 'error',
      reason: 'ZoneNotFound',
      message: `Zone ${pool.spec.zoneRef.name} is not in the manifests`,
    };
  const zf = facts.zones?.[zone.metadata.name] ?? {};
  const input: NodePoolPlanInput = {
    poolName: pool.metadata.name,
    spec: pool.spec,
    zone: { zoneId: zone.spec.zoneId, mode: zone.spec.mode, installerVersion: zf.installerVersion },
    platformNodes: zf.nodes ?? [],
    observations: Object.fromEntries(
      pool.spec.nodes.map((n) => [
        n.address,
        facts.nodes?.[n.address]
          ? { facts: facts.nodes[n.address] }
          : { error: 'no facts for this node in --facts' },
      ]),
    ),
    files: Object.fromEntries(Object.entries(facts.files ?? {}).map(([p, text]) => [p, { text }])),
  };
  const r = planNodePool(input);
  const notes = r.nodes
    .filter((n) => n.phase === 'Unreachable' || n.phase === 'Rejected')
    .map((n) => `node ${n.address} ${n.phase}: ${n.message ?? ''}`);
  if (r.violations.length > 0) return { ...base, outcome: 'refused', violations: r.violations, notes };
  return {
    ...base,
    outcome: 'plan',
    hash: bindToFirstbox(r.plan, zone).hash,
    approval: pool.spec.approval,
    steps: planSteps(r.plan),
    ...(notes.length ? { notes } : {}),
  };
}
