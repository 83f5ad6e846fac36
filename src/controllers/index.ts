/** One controller per registered runbook, added to the manager with the watches each needs. */
import type { Manager } from '../runtime/manager.js';
import type { ControllerDeps } from './deps.js';
import { controllerFor, type RunbookRegistration } from './registration.js';
import { RUNBOOKS } from './registry.js';

export interface RegisterOptions {
  maxConcurrentReconciles: number;
}

export function registerControllers(
  manager: Manager,
  deps: ControllerDeps,
  opts: RegisterOptions,
  runbooks: readonly RunbookRegistration[] = RUNBOOKS,
): void {
  const base = {
    metrics: deps.metrics,
    log: deps.log,
    maxConcurrentReconciles: opts.maxConcurrentReconciles,
  };
  for (const r of runbooks) manager.add(controllerFor(r, deps, base));
}
