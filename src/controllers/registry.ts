/**
 * The runbook registry: one entry per kind, and everything that differs between kinds beyond its
 * hooks — its API (schema, printer columns), its cache, its controller, the watches that requeue
 * it, the RBAC it needs. The manager (`cli/run.ts`), RBAC generation (`rbac.ts`), the CRDs and the
 * kinds list derive from it, so adding a runbook is one entry here (or, for a runbook defined
 * elsewhere, one entry passed to `startOperator`). docs/adding-a-runbook.md walks through it.
 */
import { componentRunbook } from './component/registration.js';
import { nodePoolRunbook } from './nodepool/registration.js';
import type { RunbookRegistration } from './registration.js';
import { tagServerRunbook } from './tagserver/registration.js';
import { webserviceUpgradeRunbook } from './webserviceupgrade/registration.js';
import { zoneRunbook } from './zone/registration.js';

/** The shipped runbooks, in dependency order (a Zone before what references it). */
export const RUNBOOKS: readonly RunbookRegistration[] = [
  zoneRunbook,
  nodePoolRunbook,
  componentRunbook,
  tagServerRunbook,
  webserviceUpgradeRunbook,
];

export type { RunbookRegistration } from './registration.js';
