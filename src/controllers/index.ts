/** One controller per kind, registered with the manager with the watches each needs. */
import { Controller } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import { registerComponentController } from './component/controller.js';
import type { ControllerDeps } from './deps.js';
import { NodePoolReconciler } from './nodepool/controller.js';
import { registerTagServerController } from './tagserver/controller.js';
import { registerWebserviceUpgradeController } from './webserviceupgrade/controller.js';
import { ZoneReconciler } from './zone/controller.js';

export interface RegisterOptions {
  maxConcurrentReconciles: number;
}

export function registerControllers(manager: Manager, deps: ControllerDeps, opts: RegisterOptions): void {
  const base = {
    metrics: deps.metrics,
    log: deps.log,
    maxConcurrentReconciles: opts.maxConcurrentReconciles,
  };

  const zones = new Controller({ ...base, name: 'zone', reconciler: new ZoneReconciler(deps) });
  // Status-only updates (our own writes) bump resourceVersion but not generation: reconciling on
  // them would observe the platform again for nothing.
  zones.watchPrimary(
    deps.informers.zone,
    (event, obj, old) => event !== 'modified' || !old || specOrMetaChanged(obj, old),
  );
  manager.add(zones);

  const pools = new Controller({ ...base, name: 'nodepool', reconciler: new NodePoolReconciler(deps) });
  pools.watchPrimary(
    deps.informers.nodePool,
    (event, obj, old) => event !== 'modified' || !old || specOrMetaChanged(obj, old),
  );
  // A Zone becoming Ready (or its lock being released) lets its pools proceed.
  pools.watchMapped(deps.informers.zone, (zone) =>
    deps.informers.nodePool
      .list(zone.metadata.namespace)
      .filter(
        (p) => (p.spec as { zoneRef?: { name?: string } } | undefined)?.zoneRef?.name === zone.metadata.name,
      )
      .map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name })),
  );
  manager.add(pools);

  // The acting kinds register themselves with their watches.
  registerComponentController(manager, deps, base);
  registerWebserviceUpgradeController(manager, deps, base);
  registerTagServerController(manager, deps, base);
}

function specOrMetaChanged(
  obj: {
    metadata: {
      generation?: number;
      annotations?: Record<string, string>;
      deletionTimestamp?: string;
      finalizers?: string[];
    };
  },
  old: {
    metadata: {
      generation?: number;
      annotations?: Record<string, string>;
      deletionTimestamp?: string;
      finalizers?: string[];
    };
  },
): boolean {
  return (
    obj.metadata.generation !== old.metadata.generation ||
    obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp ||
    JSON.stringify(obj.metadata.annotations ?? {}) !== JSON.stringify(old.metadata.annotations ?? {})
  );
}
