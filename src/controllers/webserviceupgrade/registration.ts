/** R5 webservice rebuild, node by node: the registry entry of WebserviceUpgrade. */
import { webserviceUpgradeKind } from '../../api/kinds.js';
import { readSecrets, zoneLockRule } from '../rbac-rules.js';
import type { RunbookRegistration } from '../registration.js';
import { webserviceUpgradeHooks } from './controller.js';

export const webserviceUpgradeRunbook: RunbookRegistration = {
  info: webserviceUpgradeKind,
  informer: 'webserviceUpgrade',
  controller: 'webserviceupgrade',
  hooks: () => webserviceUpgradeHooks,
  rbac: [readSecrets, zoneLockRule],
};
