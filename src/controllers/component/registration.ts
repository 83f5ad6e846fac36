/** R3 BOSS V2 and its companions: the registry entry of Component. */
import { componentKind } from '../../api/kinds.js';
import { type Condition, isTrue } from '../../runtime/conditions.js';
import type { KubeObject } from '../../runtime/kube.js';
import { readSecrets, zoneLockRule } from '../rbac-rules.js';
import { byZoneRef, type RunbookRegistration } from '../registration.js';
import { ComponentRunbook } from './controller.js';

const specOf = (o: KubeObject) => (o.spec ?? {}) as { name?: string; zoneRef?: { name?: string } };
const ready = (o?: KubeObject) =>
  isTrue((o?.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready');

export const componentRunbook: RunbookRegistration = {
  info: componentKind,
  informer: 'component',
  controller: 'component',
  hooks: (deps) => new ComponentRunbook(deps),
  watches: (c, deps) => {
    // A cronus Component becoming Ready (or not) unblocks or blocks BOSS in its zone.
    deps.informers.component.on((_event, obj, old) => {
      if (specOf(obj).name !== 'cronus' || (old && ready(obj) === ready(old))) return;
      const zone = { metadata: { namespace: obj.metadata.namespace, name: specOf(obj).zoneRef?.name ?? '' } };
      for (const r of byZoneRef(deps, 'component', zone as KubeObject))
        if (r.name !== obj.metadata.name) c.enqueue(r);
    });
    // A Zone becoming Ready, or its lock being released, lets its components proceed.
    c.watchMapped(deps.informers.zone, (zone) => byZoneRef(deps, 'component', zone));
  },
  rbac: [readSecrets, zoneLockRule],
};
