/** R1/R2 tag service and tag migration: the registry entry of TagServer. */
import { tagServerKind } from '../../api/kinds.js';
import { readSecrets, zoneLockRule } from '../rbac-rules.js';
import type { RunbookRegistration } from '../registration.js';
import { TagServerRunbook } from './controller.js';

export const tagServerRunbook: RunbookRegistration = {
  info: tagServerKind,
  informer: 'tagServer',
  controller: 'tagserver',
  hooks: (deps) => new TagServerRunbook(deps),
  // Any Zone of the namespace may be the global zone, a sub zone or a migration zone.
  watches: (c, deps) =>
    c.watchMapped(deps.informers.zone, (zone) =>
      deps.informers.tagServer
        .list(zone.metadata.namespace)
        .map((t) => ({ namespace: t.metadata.namespace, name: t.metadata.name })),
    ),
  rbac: [readSecrets, zoneLockRule],
};
