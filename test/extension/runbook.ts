/** ProgramRestart's hooks and its registry entry: everything the operator needs to run it. */

import { resourceType } from '../../src/controllers/deps.js';
import type { ZoneAccess } from '../../src/controllers/platform.js';
import { readSecrets } from '../../src/controllers/rbac-rules.js';
import type { RunbookRegistration } from '../../src/controllers/registration.js';
import type { ActingStatus } from '../../src/controllers/runner.js';
import { type RunbookHooks, zoneTarget } from '../../src/controllers/template.js';
import { collectFirstboxFacts } from '../../src/facts/collector.js';
import type { FirstboxFacts } from '../../src/facts/types.js';
import { type ProgramRestart, programRestartKind } from './api.js';
import { planRestart } from './plan.js';

interface Observed {
  access: ZoneAccess;
  facts: FirstboxFacts;
}

const hooks: RunbookHooks<ProgramRestart, ActingStatus, Observed> = {
  acting: {
    type: resourceType(programRestartKind),
    finalizer: 'ops.pitrix.io/programrestart',
    informer: (deps) => deps.informers.programRestart!,
    parse: programRestartKind.parse,
  },
  zoneOf: (r) => r.spec.zoneRef.name,
  async observe({ deps, zone, ctx }) {
    const access = await deps.platform.forZone(zone!);
    return {
      access,
      facts: await collectFirstboxFacts(access.pool, access.firstbox, { signal: ctx.signal }),
    };
  },
  decide({ resource, zone }, { access, facts }) {
    const nodes = facts.nodes.filter((n) => n.zoneId === zone!.spec.zoneId);
    if (!nodes.some((n) => n.roles.includes(resource.spec.role)))
      return {
        refuse: [
          {
            reason: 'NoNodesOfRole',
            message: `the installer lists no ${resource.spec.role} node in zone ${zone!.spec.zoneId}; fix spec.role`,
          },
        ],
      };
    return {
      run: {
        plan: planRestart(nodes, resource.spec),
        approval: resource.spec.approval,
        executor: access.pool,
        target: zoneTarget(access, 22),
        readyMessage: `${resource.spec.program} restarted on every ${resource.spec.role} node`,
      },
    };
  },
};

export const programRestartRunbook: RunbookRegistration = {
  info: programRestartKind,
  informer: 'programRestart',
  controller: 'programrestart',
  hooks: () => hooks,
  rbac: [readSecrets],
};
