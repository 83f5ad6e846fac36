/** R4 scale-out of a node role: the registry entry of NodePool. */
import { nodePoolKind } from '../../api/kinds.js';
import { readSecrets, zoneLockRule } from '../rbac-rules.js';
import type { RunbookRegistration } from '../registration.js';
import { nodePoolHooks } from './controller.js';

export const nodePoolRunbook: RunbookRegistration = {
  info: nodePoolKind,
  informer: 'nodePool',
  controller: 'nodepool',
  hooks: () => nodePoolHooks,
  rbac: [readSecrets, zoneLockRule],
};
