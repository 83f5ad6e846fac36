/**
 * `plan --kubeconfig`: every resource of a registered runbook previewed through its own hooks
 * (controllers/preview.ts) against the cluster's Zones and the live platform, read-only: caches
 * are listed once, nothing is written to the cluster, only the observation probes run over SSH.
 */
import { parseZone } from '../api/zone.js';
import type { ControllerDeps, Informers } from '../controllers/deps.js';
import { resourceType } from '../controllers/deps.js';
import { Platform } from '../controllers/platform.js';
import { previewPlan } from '../controllers/preview.js';
import { RUNBOOKS, type RunbookRegistration } from '../controllers/registry.js';
import { Informer } from '../runtime/informer.js';
import { KubeClient as Client, type KubeClient, type KubeObject, loadKubeConfig } from '../runtime/kube.js';
import { createLogger } from '../runtime/log.js';
import { OperatorMetrics } from '../runtime/metrics.js';
import { StatusWriter } from '../runtime/status.js';
import { type PlanReport, reportOf } from './plan-report.js';

export async function livePlans(
  kubeconfig: string,
  docs: readonly KubeObject[],
  defaultNamespace: string,
  runbooks: readonly RunbookRegistration[] = RUNBOOKS,
): Promise<PlanReport[]> {
  const client: KubeClient = new Client(loadKubeConfig(kubeconfig));
  const informers = Object.fromEntries(
    runbooks.map((r) => [r.informer, new Informer(client, resourceType(r.info))]),
  ) as Informers;
  // A cluster without our CRDs (or without access to them) never syncs: say so instead of waiting.
  let timer: NodeJS.Timeout | undefined;
  const synced = await Promise.race([
    Promise.all(Object.values(informers).map((i) => i.start())).then(() => true),
    new Promise<false>((r) => {
      timer = setTimeout(() => r(false), 30_000);
    }),
  ]);
  clearTimeout(timer);
  if (!synced) {
    for (const i of Object.values(informers)) await i.stop();
    throw new Error(
      `could not list ${runbooks.map((r) => r.info.plural).join(', ')} within 30 s: are the CRDs installed (kubectl apply -f crds/) and may this kubeconfig list them?`,
    );
  }
  const platform = new Platform(client);
  const byKind = new Map(runbooks.map((r) => [r.info.kind, informers[r.informer]!]));
  const deps: ControllerDeps = {
    client,
    informers,
    informerOf: (kind) => byKind.get(kind),
    status: new StatusWriter(client),
    // A preview says what would happen; it tells nobody.
    events: { event: () => {} },
    metrics: new OperatorMetrics(),
    platform,
    log: createLogger({ level: 'warn' }),
  };
  const signal = AbortSignal.timeout(10 * 60_000);
  const reports: PlanReport[] = [];
  try {
    for (const doc of docs) {
      const r = runbooks.find((x) => x.info.kind === doc.kind);
      if (!r) continue;
      const namespace = doc.metadata.namespace ?? defaultNamespace;
      const base = { kind: doc.kind, namespace, name: doc.metadata.name };
      // The object as the cluster has it when it exists (its journal decides what is done).
      const live = byKind.get(doc.kind)?.get(namespace, doc.metadata.name);
      const obj = { ...doc, metadata: { ...doc.metadata, namespace }, status: live?.status } as KubeObject;
      try {
        if (!r.hooks) {
          // The Zone acts only to add itself to a region; its observation is its status.
          const z = parseZone(obj);
          reports.push({
            ...base,
            outcome: 'nothing',
            reason: z.spec.newZone ? 'ObservedByTheController' : 'ObservationOnly',
            message: z.spec.newZone
              ? 'a new zone is planned by the running operator from its own observation: see status.plan of the Zone'
              : 'a Zone is observed, never changed',
          });
          continue;
        }
        reports.push(reportOf(base, await previewPlan(deps, r.hooks(deps), obj, signal)));
      } catch (err) {
        reports.push({ ...base, outcome: 'error', reason: 'InvalidSpec', message: (err as Error).message });
      }
    }
  } finally {
    for (const i of Object.values(informers)) await i.stop();
    await platform.close();
  }
  return reports;
}
