/**
 * The start of every acting controller's reconcile, once: the object from the cache (gone: forget
 * its metrics), deletion (release the zone lock it may hold, drop the finalizer; never touch the
 * platform), the finalizer, a fresh read (the journal decides what never runs again, so it must not
 * come from a cache behind our own last write), the status session, and the spec parse. Then the
 * Zone it refers to, which must exist, parse and be Ready.
 */
import { parseZone, type Zone } from '../api/zone.js';
import { type Condition, findCondition } from '../runtime/conditions.js';
import type { Request } from '../runtime/controller.js';
import type { Informer } from '../runtime/informer.js';
import type { KubeObject, ResourceType } from '../runtime/kube.js';
import { type ControllerDeps, resourceType } from './deps.js';
import { ensureFinalizer, removeFinalizer } from './finalizer.js';
import { type ActingStatus, StatusSession } from './runner.js';
import { releaseZoneLock } from './zonelock.js';

const zoneType = resourceType({ kind: 'Zone', plural: 'zones' });

export interface ActingKind<T> {
  type: ResourceType;
  finalizer: string;
  informer(deps: ControllerDeps): Informer;
  parse(obj: unknown): T;
  /** Called when the object is gone or being deleted: drop per-object metrics and caches. */
  forget?(req: Request): void;
}

export interface Opened<T, S extends ActingStatus> {
  obj: KubeObject;
  previous: S;
  session: StatusSession;
  resource: T;
}

/** Returns undefined when there is nothing (more) to do for this request. */
export async function openActing<T, S extends ActingStatus = ActingStatus>(
  deps: ControllerDeps,
  req: Request,
  kind: ActingKind<T>,
): Promise<Opened<T, S> | undefined> {
  let obj = kind.informer(deps).get(req.namespace, req.name);
  if (!obj) {
    deps.metrics.forgetResource(kind.type.kind, req.namespace, req.name);
    kind.forget?.(req);
    return undefined;
  }
  if (obj.metadata.deletionTimestamp) {
    const zoneName = (obj.spec as { zoneRef?: { name?: string } } | undefined)?.zoneRef?.name;
    if (zoneName) {
      await releaseZoneLock(
        deps.client,
        zoneType,
        { namespace: req.namespace, name: zoneName },
        {
          kind: kind.type.kind,
          name: req.name,
          uid: obj.metadata.uid,
        },
      );
    }
    kind.forget?.(req);
    await removeFinalizer(deps.client, kind.type, obj, kind.finalizer);
    return undefined;
  }
  obj = await ensureFinalizer(deps.client, kind.type, obj, kind.finalizer);
  obj = (await deps.client.get(kind.type, req.namespace, req.name)) ?? obj;
  const previous = (obj.status ?? {}) as S;
  const session = new StatusSession(deps, kind.type, obj, {
    ...previous,
    observedGeneration: obj.metadata.generation,
  } as ActingStatus);
  try {
    return { obj, previous, session, resource: kind.parse(obj) };
  } catch (err) {
    session.condition('Ready', 'False', 'InvalidSpec', (err as Error).message);
    await session.save();
    return undefined;
  }
}

/** The referenced Zone if it exists, parses and is Ready; otherwise says why in Ready and returns undefined. */
export async function readyZone(
  deps: ControllerDeps,
  session: StatusSession,
  namespace: string,
  name: string,
): Promise<Zone | undefined> {
  const zoneObj = deps.informers.zone.get(namespace, name);
  let why: [string, string] | undefined;
  let zone: Zone | undefined;
  if (!zoneObj) why = ['ZoneNotFound', `Zone ${name} does not exist in ${namespace}`];
  else {
    try {
      zone = parseZone(zoneObj);
    } catch (err) {
      why = ['ZoneInvalid', `Zone ${name}: ${(err as Error).message}`];
    }
  }
  const ready = zone && findCondition(zone.status?.conditions as Condition[] | undefined, 'Ready');
  if (zone && ready?.status !== 'True') {
    why = ['ZoneNotReady', `Zone ${name} is not Ready${ready ? ` (${ready.reason}: ${ready.message})` : ''}`];
  }
  if (why) {
    session.condition('Ready', 'False', why[0], why[1]);
    await session.save();
    return undefined;
  }
  return zone;
}
