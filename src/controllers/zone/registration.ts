/** The Zone: observed through its firstbox; R4's new zone in a region is its one action. */
import { zoneKind } from '../../api/kinds.js';
import { readSecrets } from '../rbac-rules.js';
import type { RunbookRegistration } from '../registration.js';
import { ZoneReconciler } from './controller.js';

export const zoneRunbook: RunbookRegistration = {
  info: zoneKind,
  informer: 'zone',
  controller: 'zone',
  reconciler: (deps) => new ZoneReconciler(deps),
  // Only its own objects: a Zone depends on nothing else in the cluster.
  watches: () => {},
  rbac: [readSecrets],
};
