/**
 * What a runbook registration is (one entry of the registry, registry.ts), and the wiring every
 * registration shares: the controller for its kind, its default watches, its RBAC. Nothing here
 * names a kind, so registrations import it without a cycle through the registry.
 */
import type { KindInfo } from '../api/kinds.js';
import { Controller, type Reconciler, type Request } from '../runtime/controller.js';
import type { KubeObject } from '../runtime/kube.js';
import { statusChanged } from '../runtime/status.js';
import type { ControllerDeps } from './deps.js';
import { actingKindRules, type ControllerRbac, type DeclaredRule } from './rbac-rules.js';
import { type RunbookHooks, RunbookReconciler } from './template.js';

export interface RunbookRegistration {
  /** The API kind: names, schema, printer columns (api/kinds.ts for the shipped kinds). */
  info: KindInfo<unknown>;
  /** Key of its shared cache in `deps.informers` (camelCase of the kind). */
  informer: string;
  /** The controller's name in logs, metrics and RBAC. */
  controller: string;
  /**
   * The acting kind's hooks (template.ts): its reconciler is the template driven by them, and
   * `pitrix-operator plan` previews its plan through the same hooks.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the registry holds kinds of every spec, status and observation type.
  hooks?(deps: ControllerDeps): RunbookHooks<any, any, any>;
  /** A kind that is not an acting runbook (the Zone) brings its own reconciler. */
  reconciler?(deps: ControllerDeps): Reconciler;
  /**
   * The watches beyond its own objects' spec and metadata changes (default: a Zone's changes
   * requeue the objects whose `spec.zoneRef` names it).
   */
  watches?(controller: Controller, deps: ControllerDeps): void;
  /** RBAC beyond the rules on its own resource (actingKindRules): Secrets, the zone lock. */
  rbac: readonly DeclaredRule[];
}

export function rbacOf(r: RunbookRegistration): ControllerRbac {
  return { controller: r.controller, rules: [...actingKindRules(r.info), ...r.rbac] };
}

/**
 * Our own status writes bump resourceVersion but not generation: reconciling on them would
 * observe the platform again for nothing. A spec, annotation or deletion change does.
 */
export function specOrMetaChanged(obj: KubeObject, old: KubeObject): boolean {
  return (
    obj.metadata.generation !== old.metadata.generation ||
    obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp ||
    statusChanged(obj.metadata.annotations ?? {}, old.metadata.annotations ?? {})
  );
}

/** The objects of `informer` whose `spec.zoneRef.name` is the given Zone. */
export function byZoneRef(deps: ControllerDeps, informer: string, zone: KubeObject): Request[] {
  return (deps.informers[informer]?.list(zone.metadata.namespace) ?? [])
    .filter(
      (o) => (o.spec as { zoneRef?: { name?: string } } | undefined)?.zoneRef?.name === zone.metadata.name,
    )
    .map((o) => ({ namespace: o.metadata.namespace, name: o.metadata.name }));
}

export function reconcilerOf(r: RunbookRegistration, deps: ControllerDeps): Reconciler {
  if (r.reconciler) return r.reconciler(deps);
  if (r.hooks) return new RunbookReconciler(deps, r.hooks(deps));
  throw new Error(`runbook ${r.info.kind}: a registration needs hooks or a reconciler`);
}

/** Wires one registration's controller: its own objects, then its watches. */
export function controllerFor(
  r: RunbookRegistration,
  deps: ControllerDeps,
  base: { metrics: ControllerDeps['metrics']; log: ControllerDeps['log']; maxConcurrentReconciles: number },
): Controller {
  const c = new Controller({ ...base, name: r.controller, reconciler: reconcilerOf(r, deps) });
  const own = deps.informers[r.informer];
  if (!own) throw new Error(`runbook ${r.info.kind}: no informer ${r.informer}`);
  c.watchPrimary(own, (event, obj, old) => event !== 'modified' || !old || specOrMetaChanged(obj, old));
  if (r.watches) r.watches(c, deps);
  // A Zone becoming Ready, or its lock being released, lets its objects proceed.
  else c.watchMapped(deps.informers.zone, (zone) => byZoneRef(deps, r.informer, zone));
  return c;
}
