/**
 * `pitrix-operator plan -f manifests.yaml [--facts facts.json | --kubeconfig PATH]`: prints what
 * the operator would run for the manifests, step by step with hosts and exact commands, without
 * acting (a terraform-plan for the runbooks). Facts come from a file (offline) or from the Zone
 * status and the platform itself (read-only: only the fact probes run).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { parseNodePool } from '../api/nodepool.js';
import { parseZone, type Zone } from '../api/zone.js';
import { type NodePoolPlanInput, planNodePool } from '../controllers/nodepool/plan.js';
import type { NodeFacts, PlatformNode } from '../facts/types.js';
import { hostLabel, type PlannedRunbook } from '../runbook/step.js';

/** The offline facts file: what the installer lists and what each node reports. */
export interface FactsFile {
  zones?: Record<string, { installerVersion?: string; nodes?: PlatformNode[] }>;
  nodes?: Record<string, NodeFacts>;
  /** Firstbox files by path (offline mode), e.g. `/pitrix/config/templates/settings.template.yaml`. */
  files?: Record<string, string>;
}

export function renderPlan(title: string, plan: PlannedRunbook): string {
  if (plan.steps.length === 0) return `${title}: nothing to do\n`;
  const lines = [`${title}: plan ${plan.hash}, ${plan.steps.length} step(s)`];
  plan.steps.forEach((s, i) => {
    lines.push(
      `  ${String(i + 1).padStart(2)}. ${s.id}  [${hostLabel(s.host)}]${s.destructive ? '  DESTRUCTIVE' : ''}`,
    );
    lines.push(`      ${s.description}`);
    for (const l of s.command.script.split('\n')) lines.push(`      $ ${l}`);
  });
  return `${lines.join('\n')}\n`;
}

export async function planCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      facts: { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
    },
  });
  if (!values.file?.length) {
    process.stderr.write('plan: -f FILE is required (manifests with Zones and NodePools)\n');
    return 2;
  }
  const docs: unknown[] = [];
  for (const f of values.file) {
    for (const d of parseAllDocuments(await readFile(f, 'utf8'))) {
      const js = d.toJS();
      if (js) docs.push(js);
    }
  }
  const facts: FactsFile = values.facts ? JSON.parse(await readFile(values.facts, 'utf8')) : {};
  // Live mode: Zones and Secrets from the cluster, facts probed read-only over SSH.
  const live = !values.facts && values.kubeconfig ? await liveObserver(values.kubeconfig) : undefined;
  const zones = new Map<string, Zone>();
  for (const d of docs)
    if ((d as { kind?: string }).kind === 'Zone') {
      const z = parseZone(d);
      zones.set(z.metadata.name, z);
    }
  let out = '';
  let problems = 0;
  for (const d of docs) {
    if ((d as { kind?: string }).kind !== 'NodePool') continue;
    const pool = parseNodePool(d);
    const ns = pool.metadata.namespace ?? values.namespace ?? 'default';
    const zone =
      (live ? await live.zone(ns, pool.spec.zoneRef.name) : undefined) ?? zones.get(pool.spec.zoneRef.name);
    if (!zone) {
      out += `NodePool ${pool.metadata.name}: Zone ${pool.spec.zoneRef.name} is not in the manifests\n`;
      problems++;
      continue;
    }
    const zf = facts.zones?.[zone.metadata.name] ?? {};
    const observed = live ? await live.observe(zone, pool) : undefined;
    const input: NodePoolPlanInput = {
      poolName: pool.metadata.name,
      spec: pool.spec,
      zone: { zoneId: zone.spec.zoneId, mode: zone.spec.mode, installerVersion: zf.installerVersion },
      platformNodes: observed?.platformNodes ?? zf.nodes ?? [],
      observations:
        observed?.observations ??
        Object.fromEntries(
          pool.spec.nodes.map((n) => [
            n.address,
            facts.nodes?.[n.address]
              ? { facts: facts.nodes[n.address] }
              : { error: 'no facts for this node in --facts' },
          ]),
        ),
      files:
        observed?.files ??
        Object.fromEntries(Object.entries(facts.files ?? {}).map(([p, text]) => [p, { text }])),
    };
    const r = planNodePool(input);
    for (const v of r.violations) {
      out += `NodePool ${pool.metadata.name}: REFUSED (${v.reason}): ${v.message}\n`;
      problems++;
    }
    for (const n of r.nodes)
      if (n.phase === 'Unreachable' || n.phase === 'Rejected') {
        out += `NodePool ${pool.metadata.name}: node ${n.address} ${n.phase}: ${n.message ?? ''}\n`;
      }
    out += renderPlan(`NodePool ${pool.metadata.name} (zone ${zone.spec.zoneId}, ${pool.spec.role})`, r.plan);
  }
  await live?.close();
  process.stdout.write(out || 'no NodePool in the manifests\n');
  return problems > 0 ? 1 : 0;
}

async function liveObserver(kubeconfig: string) {
  const { KubeClient, loadKubeConfig } = await import('../runtime/kube.js');
  const { Platform } = await import('../controllers/platform.js');
  const { observePool } = await import('../controllers/nodepool/observe.js');
  const { resourceType } = await import('../controllers/deps.js');
  const { zoneKind } = await import('../api/kinds.js');
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  const platform = new Platform(client);
  return {
    async zone(namespace: string, name: string): Promise<Zone | undefined> {
      const obj = await client.get(resourceType(zoneKind), namespace, name);
      return obj ? parseZone(obj) : undefined;
    },
    // Host keys come from the firstbox's known_hosts, never from a resource's status.
    async observe(zone: Zone, pool: ReturnType<typeof parseNodePool>) {
      return observePool(platform, zone, pool);
    },
    close: () => platform.close(),
  };
}
