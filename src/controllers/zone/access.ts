/**
 * What decides where the operator sends the firstbox credentials: host, port, host-key policy,
 * accepted keys and the credentials Secret. A change of any of them is a change of trust (the same
 * password may now go to another machine), so the Zone records the last one it connected with in
 * `status.firstboxAccess` and reports every change as a Warning Event naming the fields.
 */
import { createHash } from 'node:crypto';
import type { Firstbox, Zone, ZoneStatus } from '../../api/zone.js';
import type { PlannedRunbook } from '../../runbook/step.js';

export type FirstboxAccess = NonNullable<ZoneStatus['firstboxAccess']>;

export function firstboxAccessOf(fb: Firstbox): FirstboxAccess {
  return {
    host: fb.host,
    port: fb.port,
    hostKeyPolicy: fb.hostKeyPolicy,
    hostKeys: [...(fb.hostKeys ?? [])].sort(),
    credentialsSecret: fb.credentialsSecretRef.name,
    ...(fb.knownHostsSecretRef ? { knownHostsSecret: fb.knownHostsSecretRef.name } : {}),
  };
}

/** One phrase per changed field (`host 10.0.0.1 -> 10.0.0.9`); empty when nothing changed. */
export function accessChanges(before: FirstboxAccess | undefined, after: FirstboxAccess): string[] {
  if (!before) return [];
  const show = (v: unknown) =>
    Array.isArray(v) ? `[${v.join(', ')}]` : v === undefined ? '(none)' : String(v);
  const fields = [
    'host',
    'port',
    'hostKeyPolicy',
    'hostKeys',
    'credentialsSecret',
    'knownHostsSecret',
  ] as const;
  const out: string[] = [];
  for (const f of fields) {
    const a = show(before[f]);
    const b = show(after[f]);
    if (a !== b) out.push(`${f} ${a} -> ${b}`);
  }
  return out;
}

/**
 * A plan as approved: its hash also covers the firstbox access it runs through, so changing where
 * the commands and credentials go (another host, port, key or Secret) gives every plan of the zone
 * a new hash — an approval given before no longer matches, and an in-flight plan is superseded
 * visibly (PlanSuperseded) instead of running on against a machine nobody approved.
 */
export function bindToFirstbox(plan: PlannedRunbook, zone: Zone): PlannedRunbook {
  const access = JSON.stringify(firstboxAccessOf(zone.spec.firstbox));
  const h = createHash('sha256').update(plan.hash).update('\n').update(access);
  return { ...plan, hash: h.digest('hex').slice(0, 16), binding: access };
}
